"""The reader: typed, decoded values; frames that match the file."""
import h5py
import numpy as np
import pytest

import vibench_results as vr

EXPERIMENTS = ["estimator_variance", "iwae_gap", "mi_oracle", "snr_vs_k", "stl_landing", "vib_information_plane"]


def _no_bytes(value):
    if isinstance(value, (list, tuple)):
        return all(_no_bytes(v) for v in value)
    return not isinstance(value, (bytes, np.bytes_, np.generic))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_attributes_are_plain_python(results_dir, name):
    run = vr.load(results_dir / f"{name}.h5")
    assert all(_no_bytes(v) for v in run.provenance.values()), run.provenance
    for cell in run.cells:
        assert all(_no_bytes(v) for v in cell.attrs.values())
        assert isinstance(cell.attrs["status"], str) and isinstance(cell.attrs["cell_index"], int)
    assert [c.attrs["cell_index"] for c in run.cells] == sorted(c.attrs["cell_index"] for c in run.cells)


def test_provenance(results_dir):
    prov = vr.provenance(results_dir / "iwae_gap.h5")
    assert prov["name"] == "iwae_gap" and prov["scale"] == "quick"
    assert isinstance(prov["seed"], int) and isinstance(prov["git_dirty"], int)
    assert isinstance(prov["config_yaml"], str) and "bound_tightness" in prov["config_yaml"]
    with h5py.File(results_dir / "iwae_gap.h5") as f:
        assert prov["cells"] == len(f["cells"])
        assert prov["code_fingerprints"] == sorted({v.decode() for v in f["index"]["code_fingerprint"]})


def test_index_frame_decodes_text(results_dir):
    frame = vr.index_frame(results_dir / "estimator_variance.h5")
    assert set(frame["status"]) == {"ok"}  # str, not b'ok'
    assert frame["estimator.name"].map(type).eq(str).all()
    assert list(frame["index"]) == list(range(len(frame)))


@pytest.mark.parametrize("name", ["estimator_variance", "snr_vs_k", "relax_toy"])
def test_tidy_frame_has_every_numeric_value(results_dir, name):
    path = results_dir / f"{name}.h5"
    frame = vr.tidy_frame(path)
    expected = 0
    with h5py.File(path) as f:
        for cell in f["cells"].values():
            expected += sum(ds.size for ds in cell.values() if ds.dtype.kind == "f")
        config = sorted(v.decode() if isinstance(v, bytes) else v for v in f["index"].attrs["config_columns"])
    assert len(frame) == expected
    assert list(frame.columns) == ["cell", "index", "status", *config, "metric", "element", "value"]
    # Per-parameter arrays are in long form, named by param_names.
    run = vr.load(path)
    cell = run.cells[0]
    if "grad_var" in cell:
        rows = frame[(frame.cell == cell.id) & (frame.metric == "grad_var")]
        assert list(rows.element) == cell["param_names"]
        assert np.array_equal(rows.value.to_numpy(), cell["grad_var"])


def test_tidy_frame_matrix_elements(results_dir):
    frame = vr.tidy_frame(results_dir / "relax_toy.h5", metrics=["trajectory_params"], config=False)
    run = vr.load(results_dir / "relax_toy.h5")
    first = run.cells[0]["trajectory_params"]
    rows = frame[frame.cell == run.cells[0].id]
    assert list(rows.element[:2]) == ["0,0", "1,0"] and rows.value.iloc[1] == first[1, 0]
    assert set(frame.columns) == {"cell", "index", "status", "metric", "element", "value"}


def test_cell_param_and_cell_frame(results_dir):
    run = vr.load(results_dir / "estimator_variance.h5")
    cell = run.cells[0]
    assert cell.param("grad_var", "sigma[0]") == cell["grad_var"][1]
    frame = vr.cell_frame(results_dir / "estimator_variance.h5", "grad_var")
    assert len(frame) == 2 * len(run.cells) and set(frame.param) == {"mean[0]", "sigma[0]"}

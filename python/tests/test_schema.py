"""The Python reader's layout is the C++ one: schema.json equals what the binary prints, and committed results
files have the groups, attributes and columns it names."""
import json
import subprocess

import h5py
import pytest

from vibench_results import schema
from vibench_results.reader import typed


def test_schema_json_is_what_the_binary_prints(vibench_binary):
    out = subprocess.run([vibench_binary, "schema", "--json"], check=True, capture_output=True, text=True).stdout
    assert json.loads(out) == schema.SCHEMA, "python/vibench_results/schema.json is out of date: run `make schema`"


def test_compare_uses_the_schemas_standard_errors():
    from vibench_results import compare

    assert compare.standard_error_name("bias") == "mi_estimate_se"
    assert compare.standard_error_name("grad_ci_low") == "grad_se"
    assert compare.standard_error_name("rate_nats") == "rate_se"
    assert compare.standard_error_name("objective_mean") == "objective_se"
    assert compare.standard_error_name("bound_var") == "bound_var_se"  # the default: <name>_se
    assert compare.is_derived("grad_snr") and compare.is_derived("grad_se") and not compare.is_derived("grad_mean")
    assert schema.roundoff_scale("grad_var") == ("grad_mean", 2)


@pytest.mark.parametrize("name", ["estimator_variance", "stl_landing", "mi_oracle", "rate_distortion", "mean_field_gmm"])
def test_results_files_have_the_layout_the_schema_names(results_dir, name):
    path = results_dir / f"{name}.h5"
    if not path.exists():
        pytest.skip(f"{path} is not committed")
    with h5py.File(path, "r") as f:
        assert set(f.attrs) == set(schema.SCHEMA["root_attributes"])
        assert schema.SCHEMA["schema_version"] == int(f.attrs["schema_version"])
        for group in (schema.CELLS, schema.INDEX, schema.RESUME):
            assert group in f
        index = f[schema.INDEX]
        assert schema.CONFIG_COLUMNS in index.attrs and schema.DATASET_COLUMNS in index.attrs
        config = set(typed(index.attrs[schema.CONFIG_COLUMNS]))
        columns = set(index.dtype.names)
        assert {schema.INDEX_COLUMN, schema.ID_COLUMN, schema.STATUS, schema.CODE_FINGERPRINT} <= columns
        for cell in f[schema.CELLS].values():
            attrs = set(cell.attrs)
            assert {schema.CELL_INDEX, schema.STATUS, schema.CODE_FINGERPRINT} <= attrs
            assert typed(cell.attrs[schema.STATUS]) in schema.SCHEMA["cell_statuses"]
            # Every attribute is a config key, the store's bookkeeping or a timing: nothing the schema misses.
            unnamed = {a for a in attrs if a not in config and a not in schema.BOOKKEEPING and not schema.is_timing(a)}
            assert not unnamed, unnamed

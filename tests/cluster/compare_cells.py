"""Exit 0 iff two vibench results files hold the same cells with bitwise-identical datasets."""
import sys

import h5py
import numpy as np


def cells(path):
    out = {}
    with h5py.File(path, "r") as f:
        for cid, group in f["cells"].items():
            for name, ds in group.items():
                value = ds[()]
                if isinstance(value, np.ndarray) and value.dtype != object:
                    out[f"{cid}/{name}"] = value.tobytes()
                else:  # strings: compare their bytes, not the object array's pointers
                    out[f"{cid}/{name}"] = repr(value.tolist() if isinstance(value, np.ndarray) else value).encode()
    return out


a, b = cells(sys.argv[1]), cells(sys.argv[2])
if a.keys() != b.keys():
    sys.exit(f"different datasets: only in {sys.argv[1]}: {sorted(a.keys() - b.keys())[:5]}, "
             f"only in {sys.argv[2]}: {sorted(b.keys() - a.keys())[:5]}")
differ = [k for k in a if a[k] != b[k]]
if differ:
    sys.exit(f"{len(differ)} of {len(a)} datasets differ, e.g. {differ[:5]}")
print(f"{len(a)} datasets in {len({k.split('/')[0] for k in a})} cells bitwise identical")

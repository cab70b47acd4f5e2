"""vibench_results: read, compare and report vibench results files (HDF5).

Install: `pip install ./python` (on Debian 12: inside a venv made with --system-site-packages, or
`/usr/bin/python3 -m pip install --break-system-packages --no-build-isolation --no-deps ./python`), or run with
PYTHONPATH=python from the project root, as the Makefile does.
"""
from .figures import Checks, exit_with, file_sha256, save_figure
from .reader import Cell, Results, cell_frame, control_variate, config_keys, index_frame, load, provenance, tidy_frame, typed

__version__ = "0.3.0"
__all__ = ["Cell", "Checks", "Results", "cell_frame", "config_keys", "control_variate", "exit_with", "file_sha256", "index_frame",
           "load", "provenance", "save_figure", "tidy_frame", "typed"]

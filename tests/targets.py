"""The code generation targets the tests that run generated functions try: the NumPy
target, and the numba target when numba is installed (found without importing it: the
extra is heavy)."""

from __future__ import annotations

import importlib.util

TARGETS = ["numpy"] + (["numba"] if importlib.util.find_spec("numba") is not None else [])

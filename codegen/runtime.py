"""Helpers copied into every generated module (their source, not an import): the slow path
of the argument checks. The fast path is inline in each generated function."""

from __future__ import annotations

import numpy as np


def _as_array(value, name, dtype, ndim, shape):
    """Convert an argument that is not already an ndarray of the expected dtype (a list, a
    scalar, an int array for a float argument), or raise a ValueError naming it."""
    accepts = {"float64": "fiub", "float32": "fiub", "float16": "fiub", "int64": "iub",
               "bool": "b"}[dtype]
    try:
        arr = np.asarray(value)
    except Exception as err:  # noqa: BLE001 - any failure means "not an array"
        raise ValueError(f"argument {name!r} must be a {dtype} array of shape {shape}, got "
                         f"a {type(value).__name__} that NumPy cannot convert") from err
    if arr.dtype.kind not in accepts:  # the kinds symdiff.evaluate casts too
        raise ValueError(f"argument {name!r} must be a {dtype} array of shape {shape}, got "
                         f"dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"argument {name!r} must be a {dtype} array of shape {shape}, got "
                         f"shape {arr.shape}")
    return arr.astype(dtype, copy=False)


def _shape_error(name, got, shape, dims, origin):
    """The ValueError for an argument of the wrong shape, with the symbolic dims spelled out
    as bound by earlier arguments."""
    bound = "".join(f"; {d} = {v} (set by argument {origin[d]!r})" for d, v in dims.items()
                    if origin[d] != name)
    return ValueError(f"argument {name!r} must have shape {shape}, got shape {got}{bound}")


def _scratch(cache, key, make):
    """The scratch arrays of one generated function for this thread and these symbolic dims
    (`key`): made by `make()` on first use, then reused, so large temporaries cost no
    allocation (and no page faults) from call to call. A call takes the arrays out of the
    cache and `_scratch_return` puts them back as it returns, so a re-entrant call (from a
    signal handler or a callback while this call runs) finds none and makes its own."""
    arrays = cache.__dict__.pop(key, None)
    return make() if arrays is None else arrays


def _scratch_return(cache, key, arrays):
    """Put a call's scratch arrays back for the next call; the last 4 dims seen are kept."""
    held = cache.__dict__
    if len(held) >= 4 and key not in held:
        del held[next(iter(held))]
    held[key] = arrays

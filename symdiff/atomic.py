"""Writing a file so that it is either the old one or the complete new one, never a part.

Every file symdiff writes for a user (a compiled module, a picture, a listing) and every
module it caches goes through `write_atomic`: the data goes to a temporary file in the
target's folder, is flushed to disk, and is renamed over the target (a rename within one
file system is atomic). A full disk or a crash mid-write leaves the old file untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".symdiff-tmp"  # a partial file left by a crash is recognisable by this


def write_atomic(path: str | os.PathLike, data: str | bytes, *, prefix: str | None = None,
                 mode: int | None = None, durable: bool = True) -> Path:
    """Write `data` (text as UTF-8) to `path` atomically; returns the path written. A new
    file gets the permissions `open` would give it (0o666 less the umask) unless `mode`
    is given; a replaced file keeps its permissions. A symlink is written through (its
    target is replaced). OSError (no such folder, no permission, disk full) propagates,
    with nothing left behind. `durable=False` skips the fsync (a cache that can be rebuilt
    needs the atomic rename, not the wait for the disk)."""
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    folder = target.parent
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if mode is None:
        try:
            mode = os.stat(target).st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix or f".{target.name}.",
                               suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def _umask() -> int:
    """The process umask, read without changing it where Linux tells it (os.umask can only
    read it by setting it, briefly, for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current

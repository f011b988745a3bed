"""Loading generated source as a module, through a real file so that tracebacks, `inspect`
and `pdb` show the generated code."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import stat
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from symdiff.atomic import TEMP_SUFFIX, write_atomic
from symdiff.errors import SymdiffError

from .naming import sanitize


class CacheDirError(SymdiffError, PermissionError):
    """The compile cache directory cannot be used (a file, not creatable, not writable,
    or not safe to load code from). Says which directory and how to choose another."""


def cache_dir() -> Path:
    """A private directory for generated modules: $SYMDIFF_CACHE_DIR, else one per user
    under the temp directory (created 0700; refused if another user owns it)."""
    configured = os.environ.get("SYMDIFF_CACHE_DIR")
    path = Path(configured) if configured else \
        Path(tempfile.gettempdir()) / f"symdiff-{os.getuid() if hasattr(os, 'getuid') else 0}"
    hint = ("set SYMDIFF_CACHE_DIR to a writable directory" if not configured else
            "set SYMDIFF_CACHE_DIR to a writable directory, or unset it")
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(path)
    except FileExistsError:
        raise CacheDirError(f"the compile cache {path} is not a directory (a file is "
                            f"there); {hint}") from None
    except OSError as err:
        raise CacheDirError(f"cannot create the compile cache directory {path}: "
                            f"{err.strerror or err}; {hint}") from None
    if stat.S_ISLNK(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
        raise CacheDirError(f"refusing to load generated code from {path}: it is a "
                            f"symlink or owned by another user; {hint}")
    if not stat.S_ISDIR(info.st_mode):
        raise CacheDirError(f"the compile cache {path} is not a directory; {hint}")
    if not os.access(path, os.W_OK | os.X_OK):
        raise CacheDirError(f"the compile cache directory {path} is not writable; {hint}")
    return path


MAX_CACHED = 256  # generated modules kept in the cache directory, newest first
PREFIX = "symdiff-"  # every module file this cache writes: symdiff-<name>-<digest>.py
STALE_TEMP_SECONDS = 3600  # a temp file this old is no write in progress
_OWN_FILE = re.compile(r"symdiff-[A-Za-z0-9_]+-[0-9a-f]{16}\.py")


def _prune(folder: Path, keep: Path) -> None:
    """Delete the oldest cached modules beyond MAX_CACHED (and their bytecode), never
    `keep`, and only files this cache wrote (named by PREFIX and a digest): any other file
    in the folder is left alone. Safe while other processes prune or write the folder too:
    a file that vanishes meanwhile is skipped."""
    dated = []
    for p in folder.glob(f"{PREFIX}*.py"):
        if p == keep or not _OWN_FILE.fullmatch(p.name):
            continue
        try:
            dated.append((p.stat().st_mtime, p.name, p))
        except OSError:  # deleted by another process since the listing
            continue
    now = time.time()
    for p in folder.glob(f".{PREFIX}*{TEMP_SUFFIX}"):  # left by a writer that crashed
        with contextlib.suppress(OSError):
            if now - p.stat().st_mtime > STALE_TEMP_SECONDS:
                p.unlink()
    dated.sort(reverse=True)
    for _, _, old in dated[MAX_CACHED - 1:]:
        # the module, its bytecode, and the numba kernels cached for it (<stem>.<kernel>-...)
        kernels = list((folder / "__pycache__").glob(f"{old.stem}.*.nb[ic]"))
        for victim in (old, Path(importlib.util.cache_from_source(str(old))), *kernels):
            with contextlib.suppress(OSError):
                victim.unlink(missing_ok=True)


def load_module(source: str, name: str, *, compiled: bool = False) -> ModuleType:
    """Execute generated `source` as a module called `name`. The file is named by a hash of
    the source, written atomically, and reused when the same source is loaded again. The
    module is imported before the cache is pruned; should another process prune the file
    between its write and the import, it is written again.

    `compiled`: the module holds numba kernels cached on disk beside it. Such a module is
    registered in sys.modules under a name unique to its text (numba's cache finds a
    kernel's globals by module name), and its file's time is left alone when it is reused
    (numba takes a changed time for a changed source and would compile again)."""
    module_name = sanitize(name, "generated")
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
    folder = cache_dir()
    path = folder / f"{PREFIX}{module_name}-{digest}.py"
    if compiled:
        module_name = f"{module_name}_{digest}"
        if module_name in sys.modules:
            return sys.modules[module_name]
    for attempt in range(3):
        if _cached_text(path) != source:
            try:
                write_atomic(path, source, prefix=f".{PREFIX}", mode=0o600, durable=False)
            except OSError as err:
                raise CacheDirError(f"cannot write to the compile cache {folder}: "
                                    f"{err.strerror or err}; set SYMDIFF_CACHE_DIR to a "
                                    "writable directory") from None
        elif not compiled:
            with contextlib.suppress(OSError):
                os.utime(path)  # recently used: the last to be pruned
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            if compiled:
                sys.modules[module_name] = module
            spec.loader.exec_module(module)
            break
        except FileNotFoundError:
            sys.modules.pop(module_name, None)
            if attempt == 2:
                raise
    _prune(folder, keep=path)
    return module


def _cached_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None

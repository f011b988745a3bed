"""Loading generated source as a module, through a real file so that tracebacks, `inspect`
and `pdb` show the generated code."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import stat
import tempfile
from pathlib import Path
from types import ModuleType

from .naming import sanitize


def cache_dir() -> Path:
    """A private directory for generated modules: $SYMDIFF_CACHE_DIR, else one per user
    under the temp directory (created 0700; refused if another user owns it)."""
    configured = os.environ.get("SYMDIFF_CACHE_DIR")
    path = Path(configured) if configured else \
        Path(tempfile.gettempdir()) / f"symdiff-{os.getuid() if hasattr(os, 'getuid') else 0}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
        raise PermissionError(f"refusing to load generated code from {path}: it is a "
                              "symlink or owned by another user; set SYMDIFF_CACHE_DIR")
    return path


MAX_CACHED = 256  # generated modules kept in the cache directory, newest first


def _prune(folder: Path, keep: Path) -> None:
    """Delete the oldest cached modules beyond MAX_CACHED, never `keep` (a module already
    imported keeps running: Python has read its file)."""
    files = sorted((p for p in folder.glob("*.py") if p != keep),
                   key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[MAX_CACHED - 1:]:
        old.unlink(missing_ok=True)


def load_module(source: str, name: str) -> ModuleType:
    """Execute generated `source` as a module called `name`. The file is named by a hash of
    the source, written atomically, and reused when the same source is loaded again."""
    module_name = sanitize(name, "generated")
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
    path = cache_dir() / f"{module_name}_{digest}.py"
    if not path.exists() or path.read_text(encoding="utf-8") != source:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(source)
        os.replace(tmp, path)
        _prune(path.parent, keep=path)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

"""Atomic file and directory writes, so a reader never sees a half-written output.

* :func:`atomic_output_dir` builds a whole output directory in a hidden sibling temp directory and
  swaps it into place only when the ``with`` block finishes without an exception.
* :func:`atomic_write_bytes` / :func:`atomic_write_text` write one file through a temp file in the
  same directory followed by :func:`os.replace` (atomic on POSIX and Windows for same-volume paths).
* :func:`atomic_path` yields a temp *path* for writers that insist on opening the file themselves
  (e.g. ``xarray.Dataset.to_netcdf``) and moves it into place on success.
* :func:`check_output_dir` / :func:`check_output_file` tell, before any work, whether an output can be
  written where it was asked for (this module imports nothing heavy, so the command line checks its
  ``--out`` before it loads the model code).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from forecast.errors import InputError

__all__ = ["atomic_output_dir", "atomic_path", "atomic_write_bytes", "atomic_write_text", "check_output_dir",
           "check_output_file"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove(path: Path) -> None:
    """Delete a file, symlink or directory tree; ignore it if it is already gone."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def _fsync_dir(directory: Path) -> None:
    """Flush a directory entry change to disk where the platform allows it (best effort)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output_dir(final: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces ``final`` when the block succeeds.

    The temporary directory is created next to ``final`` (same parent, so the final rename stays on
    one file system) and is named ``.{final.name}.tmp-XXXX``. On normal exit an existing ``final``
    is first moved aside, the temp directory is renamed to ``final`` and only then is the old copy
    deleted. If the block raises, the temp directory is deleted and an existing ``final`` is left
    untouched.

    Raises
    ------
    forecast.errors.InputError
        ``overwrite`` is false and ``final`` already exists (checked before and after the block).
    """
    final = Path(final)
    if final.exists() and not overwrite:
        raise InputError(f"Output directory {final} already exists (pass overwrite=True to replace it).")
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(final)
    # the writer's process id in the name tells a later run whether the folder is still being written
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-{os.getpid()}-", dir=parent))
    # mkdtemp creates the directory with mode 0o700; give the final directory the usual permissions.
    with contextlib.suppress(OSError):
        os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise

    old: Path | None = None
    try:
        if final.exists() or final.is_symlink():
            if not overwrite:
                raise InputError(
                    f"Output directory {final} appeared while it was being written; not replacing it."
                )
            old = parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
        os.replace(tmp, final)
    except BaseException:
        # Put the previous output back if we already moved it aside.
        if old is not None and not final.exists():
            with contextlib.suppress(OSError):
                os.replace(old, final)
        _remove(tmp)
        raise
    _fsync_dir(parent)
    if old is not None:
        _remove(old)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_leftovers(final: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary folders a killed run left beside ``final`` (``.{name}.tmp-<pid>-*`` of a
    process that no longer runs, or of an older version without a pid, and ``.{name}.old-*`` copies when
    ``final`` exists); returns what was removed. Folders of a run that is still writing are left alone."""
    final = Path(final)
    removed = []
    for path in final.parent.glob(f".{glob.escape(final.name)}.*"):
        kind, _, rest = path.name[len(final.name) + 2:].partition("-")
        pid = rest.split("-", 1)[0]
        if kind == "tmp" and pid.isdigit() and _alive(int(pid)):
            continue  # a run that is writing now
        if kind == "old" and not final.exists():
            continue  # the only copy of the previous output: keep it
        if kind in ("tmp", "old") and path.is_dir():
            _remove(path)
            removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path in ``path``'s directory; move it onto ``path`` if the block succeeds.

    The temp file does not exist when yielded (the writer creates it). On an exception it is removed
    and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        yield tmp
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same directory + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; newlines are written as given (no translation)."""
    return atomic_write_bytes(path, text.encode(encoding))


def check_output_dir(out_dir: str | os.PathLike[str]) -> None:
    """Fail before sampling if the output folder cannot be written: an empty path or ``.`` (a run replaces
    its output folder), a file in the way, or a place where no folder can be created (tried)."""
    if str(out_dir).strip() in ("", "."):
        raise InputError(f"output folder {str(out_dir)!r}: give a folder name (the run replaces the whole folder)")
    out_dir = Path(out_dir)
    parent = out_dir.resolve().parent
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"output path {out_dir} exists and is not a folder")
    if parent.exists() and not parent.is_dir():
        raise InputError(f"cannot create {out_dir}: {parent} is not a folder")
    existing = next(p for p in (parent, *parent.parents) if p.exists())
    try:
        tempfile.TemporaryDirectory(dir=existing).cleanup()
    except OSError as err:
        raise InputError(f"cannot write the output folder {out_dir}: {existing} is not writable ({err})") from None


def check_output_file(path: str | os.PathLike[str]) -> None:
    """Fail before sampling if a single output file (e.g. a saved model) cannot be written there: an empty
    path, a folder in the way, a missing folder, or a folder where no file can be created (tried)."""
    if str(path).strip() in ("", "."):
        raise InputError(f"output file {str(path)!r}: give a file name such as model.nc")
    path = Path(path)
    if path.is_dir():
        raise InputError(f"output path {path} is a folder; give a file name such as {path / 'model.nc'}")
    folder = path.resolve().parent
    if not folder.is_dir():
        raise InputError(f"cannot write {path}: the folder {folder} does not exist")
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        raise InputError(f"cannot write {path}: the folder {folder} is not writable ({err})") from None

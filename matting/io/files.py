"""Atomic writes: every file and folder the project writes goes through here.

A file is written under a temporary name beside its target (``.{name}.{pid}.tmp`` plus the
ending a writer insists on, such as ``.keras``) and renamed into place when complete, so a kill at
any instant, ``kill -9`` included, leaves either the old file or the new one, never a truncated one.
A killed process leaves its temporary file behind: :func:`remove_stale_temporaries` clears those
whose process is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

_TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp(\.[\w.]+)?$")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, ending: str = ""):
    """A temporary path beside ``path`` to write to; renamed to ``path`` when the block ends
    without an error, removed otherwise. ``ending`` is appended for writers that check the file
    name (Keras: ``.keras``, ``.weights.h5``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{ending}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


@contextlib.contextmanager
def atomic_folder(target: str | os.PathLike):
    """A temporary folder beside ``target`` to fill; moved into place (replacing an existing
    ``target``) when the block ends without an error, removed otherwise."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # a folder as mkdir makes it, not mkdtemp's owner-only one
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_stale_temporaries(folder: str | os.PathLike) -> None:
    """Remove the temporary files of :func:`atomic_path` in ``folder`` whose process has died (a
    killed run's), not those of a process still writing."""
    for stale in Path(folder).glob(".*.tmp*"):
        match = _TEMPORARY.match(stale.name)
        if not stale.is_file() or not (match or stale.name.endswith(".tmp")):
            continue
        if match and int(match.group(1)) != os.getpid() and _alive(int(match.group(1))):
            continue
        stale.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True

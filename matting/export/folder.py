"""An export folder, both sides: writing one whole or not at all, and finding a format's file in one."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from matting.errors import CheckpointError, ConfigError
from matting.io.files import atomic_folder
from matting.layout import EXPORT_FILES, METADATA_FILE


def write_folder(
    target: str | Path, write: Callable[[Path], None], *, overwrite: bool, metadata: dict | None
) -> Path:
    """Run ``write(tmp)`` on a temporary folder beside ``target``, add the metadata file, then move
    it into place; an existing ``target`` is replaced only with ``overwrite``."""
    target = Path(target)
    if target.exists() and not overwrite:
        raise ConfigError(f"{target}: exists already; pass overwrite=true to replace it")
    with atomic_folder(target) as tmp:
        write(tmp)
        (tmp / METADATA_FILE).write_text(json.dumps(metadata or {}, indent=2))
    return target


def exported_file(folder: str | Path, format: str) -> Path:
    """The file of ``format`` in the export ``folder``, or a :class:`CheckpointError` that says why not."""
    path = Path(folder) / EXPORT_FILES[format]
    if not path.is_file():
        raise CheckpointError(f"{folder}: not an exported model folder (no {path.name}); run export.py first")
    return path

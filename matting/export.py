"""Export the inference path (:class:`matting.inference.MattingModule`) for deployment.

Every exporter writes into a temporary folder beside the target and renames it into place when
complete, and refuses to replace an existing target unless ``overwrite`` is set.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from matting.errors import ConfigError
from matting.inference import MattingModule


def _prepare_target(target: Path, overwrite: bool) -> None:
    if target.exists() and not overwrite:
        raise ConfigError(f"{target}: exists already; pass overwrite=true to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)


def _move_into_place(tmp: Path, target: Path) -> None:
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(target)


def export_saved_model(module: MattingModule, target: str, *, overwrite: bool = False,
                       metadata: dict | None = None) -> Path:  # fmt: skip
    """A SavedModel whose ``serving_default`` maps ``images`` [B, H, W, 3] float32 RGB in [0, 1]
    (any B, H, W) to ``alpha`` [B, H, W, 1]; ``tf.saved_model.load(path)(images)`` does the same."""
    target = Path(target)
    _prepare_target(target, overwrite)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        serving = module.__call__.get_concrete_function()
        signature = tf.function(lambda images: {"alpha": serving(images)},
                                input_signature=serving.structured_input_signature[0])  # fmt: skip
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": signature})
        (tmp / "matting.json").write_text(json.dumps(metadata or {}, indent=2))
        _move_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


EXPORTERS = {"saved_model": export_saved_model}


def export(module: MattingModule, target: str, *, format: str = "saved_model", **options) -> Path:
    """Export ``module`` to ``target`` in ``format`` (one of :data:`EXPORTERS`)."""
    if format not in EXPORTERS:
        raise ConfigError(f"unknown export format {format!r}; known: {sorted(EXPORTERS)}")
    return EXPORTERS[format](module, target, **options)

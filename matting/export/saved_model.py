"""SavedModel: ``serving_default`` on float images in [0, 1], ``matte_uint8`` on uint8 images."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from matting.export.folder import exported_file, write_folder
from matting.inference.module import IMAGE_SPEC, UINT8_SPEC, MattingModule
from matting.ops import to_uint8_tensor


def write(module: MattingModule, target: str, *, overwrite=False, metadata=None) -> Path:
    """A SavedModel of ``module``; ``tf.saved_model.load(path)(images)`` is the module's own ``__call__``."""

    @tf.function(input_signature=[UINT8_SPEC])
    def matte_uint8(images):
        alpha = module.matte_uint8(images)["alpha"]
        return {"alpha": alpha, "rgba": tf.concat([images, to_uint8_tensor(alpha)], axis=-1)}

    serving = tf.function(lambda images: {"alpha": module(images)}, input_signature=[IMAGE_SPEC])

    def write_model(tmp: Path) -> None:
        signatures = {"serving_default": serving, "matte_uint8": matte_uint8}
        tf.saved_model.save(module, str(tmp), signatures=signatures)

    return write_folder(target, write_model, overwrite=overwrite, metadata=metadata)


def load(path: str):
    """The backend of a folder :func:`write` wrote: ``[B, H, W, 3]`` float32 in [0, 1] -> alpha."""
    loaded = tf.saved_model.load(str(exported_file(path, "saved_model").parent))
    return lambda x: loaded(tf.constant(x)).numpy()

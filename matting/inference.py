"""The one inference path: evaluation, prediction and every export call :class:`MattingPipeline`.

    image [H, W, 3] of any size
      -> resize to ``coarse_size`` (192x160) -> coarse net -> person mask
      -> mask and image resized to ``fine_size`` (768x640) -> refinement net -> alpha
      -> alpha resized back to H x W

The graph part is :class:`MattingModule`, a ``tf.Module`` whose ``__call__`` is a ``tf.function``
over ``[B, H, W, 3]`` float32 images in [0, 1] with unknown B, H, W (one trace serves every size).
:class:`MattingPipeline` adds the numpy boundary (uint8 in, float alpha or uint8 RGBA out) around
either a live module or one reloaded from a SavedModel, so both run the same code.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import matting.models  # noqa: F401  (registers the custom layers the checkpoints use)
from matting.errors import CheckpointError
from matting.models.unet import check_input_size

IMAGE_SPEC = tf.TensorSpec([None, None, None, 3], tf.float32, name="images")


class MattingModule(tf.Module):
    """Coarse net + refinement net + the resizing between them, as one traceable graph."""

    def __init__(self, coarse: keras.Model, fine: keras.Model, *, coarse_size, fine_size):
        super().__init__(name="matting")
        check_input_size(coarse, coarse_size, "model.coarse_size")
        check_input_size(fine, fine_size, "model.fine_size")
        self.coarse = coarse
        self.fine = fine
        self.coarse_size = tf.constant([int(s) for s in coarse_size], tf.int32)
        self.fine_size = tf.constant([int(s) for s in fine_size], tf.int32)

    @tf.function(input_signature=[IMAGE_SPEC])
    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        """``[B, H, W, 3]`` float32 RGB in [0, 1] -> alpha ``[B, H, W, 1]`` float32 in [0, 1]."""
        height_width = tf.shape(images)[1:3]
        small = tf.image.resize(images, self.coarse_size, method="area")
        coarse = self.coarse(small, training=False)  # [B, 192, 160, 1]
        fine_in = tf.concat(
            [
                tf.image.resize(images, self.fine_size, method="area"),
                tf.image.resize(coarse, self.fine_size, method="bilinear"),
            ],
            axis=-1,
        )  # [B, 768, 640, 4]
        alpha = self.fine(fine_in, training=False)
        alpha = tf.image.resize(alpha, height_width, method="bilinear")
        return tf.clip_by_value(alpha, 0.0, 1.0)


def _load_keras(path: str | Path) -> keras.Model:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint (train that stage first, or fix the path)")
    return keras.models.load_model(path, compile=False)


class MattingPipeline:
    """uint8 RGB images in, alpha mattes or RGBA images out, through a :class:`MattingModule`."""

    def __init__(self, module):
        self.module = module  # a MattingModule, or the same reloaded from a SavedModel

    # -- construction -------------------------------------------------------------------------------

    @classmethod
    def from_models(cls, coarse: keras.Model, fine: keras.Model, *, coarse_size=(192, 160),
                    fine_size=(768, 640)) -> MattingPipeline:  # fmt: skip
        return cls(MattingModule(coarse, fine, coarse_size=coarse_size, fine_size=fine_size))

    @classmethod
    def from_checkpoints(cls, coarse: str, fine: str, **sizes) -> MattingPipeline:
        """From the ``.keras`` files the two training scripts write."""
        return cls.from_models(_load_keras(coarse), _load_keras(fine), **sizes)

    @classmethod
    def from_saved_model(cls, path: str) -> MattingPipeline:
        """From a directory written by :func:`matting.export.export_saved_model`."""
        if not (Path(path) / "saved_model.pb").is_file():
            raise CheckpointError(f"{path}: not a SavedModel directory (no saved_model.pb)")
        return cls(tf.saved_model.load(str(path)))

    # -- inference ----------------------------------------------------------------------------------

    def predict_batch(self, images: np.ndarray) -> np.ndarray:
        """``[B, H, W, 3]`` uint8 RGB -> alpha ``[B, H, W]`` float32 in [0, 1]."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"expected uint8 images [B, H, W, 3], got {images.dtype} {images.shape}")
        if min(images.shape[1:3]) == 0:
            raise ValueError(f"an image of zero pixels cannot be matted: {images.shape}")
        alpha = self.module(tf.constant(images, tf.float32) / 255.0)
        return alpha.numpy()[..., 0]

    def predict(self, image: np.ndarray) -> np.ndarray:
        """One uint8 RGB image ``[H, W, 3]`` -> alpha ``[H, W]`` float32 in [0, 1]."""
        return self.predict_batch(np.asarray(image)[None])[0]

    def predict_rgba(self, image: np.ndarray) -> np.ndarray:
        """One uint8 RGB image ``[H, W, 3]`` -> uint8 RGBA ``[H, W, 4]``, alpha as the 4th channel."""
        alpha = np.rint(self.predict(image) * 255.0).astype(np.uint8)
        return np.concatenate([image, alpha[..., None]], axis=-1)

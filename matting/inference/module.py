"""The inference graph every format serialises: :class:`MattingModule`, a ``tf.Module`` whose
``__call__`` is a ``tf.function`` over ``[B, H, W, 3]`` float32 images in [0, 1] with unknown B, H, W
(one trace serves every size)."""

from __future__ import annotations

import keras
import tensorflow as tf

from matting.errors import ConfigError
from matting.models.folding import fold_batch_norms
from matting.models.sizes import check_input_size, size_multiple
from matting.ops import aspect_frame, guided_upsample, resize_bilinear

# How the refinement's alpha returns to the input size: along the image's edges, or a plain zoom.
UPSAMPLE = ("guided", "bilinear")
# How an image becomes the refinement's input: resized to fine_size whatever its aspect, or to a
# frame of as many pixels at its own aspect (matting.ops.aspect_frame).
FRAMES = ("squeeze", "aspect")
IMAGE_SPEC = tf.TensorSpec([None, None, None, 3], tf.float32, name="images")
UINT8_SPEC = tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")


class MattingModule(tf.Module):
    """Coarse net + refinement net + the resizing between them, as one traceable graph. The nets'
    batch norms are folded into their convolutions (:func:`matting.models.folding.fold_batch_norms`):
    every export gets the smaller graph."""

    def __init__(
        self,
        coarse: keras.Model,
        fine: keras.Model,
        *,
        coarse_size,
        fine_size,
        upsample: str = "bilinear",
        fine_frame: str = "squeeze",
    ):
        super().__init__(name="matting")
        if upsample not in UPSAMPLE:
            raise ConfigError(f"model.upsample must be one of {UPSAMPLE}, got {upsample!r}")
        if fine_frame not in FRAMES:
            raise ConfigError(f"model.fine_frame must be one of {FRAMES}, got {fine_frame!r}")
        self.upsample, self.fine_frame = upsample, fine_frame
        # The aspect frame's sides: multiples of the refinement's own rule and of its 1/32 level.
        self.frame_multiple = max(32, size_multiple(fine))
        check_input_size(coarse, coarse_size, "model.coarse_size")
        check_input_size(fine, fine_size, "model.fine_size")
        # Inference only: the batch norms folded into their convolutions (the same function, fewer ops).
        self.coarse = fold_batch_norms(coarse)
        self.fine = fold_batch_norms(fine)
        # Python tuples, not tensors: traced in as constants, so no export captures an extra input.
        self.coarse_size = tuple(int(s) for s in coarse_size)
        self.fine_size = tuple(int(s) for s in fine_size)

    def matte(self, images: tf.Tensor, *, scale: float | None = None) -> dict[str, tf.Tensor]:
        """The graph itself, for tracing into any signature.

        ``[B, H, W, 3]`` float32 RGB in [0, 1] -> ``alpha`` ``[B, H, W, 1]`` in [0, 1], ``coarse``
        ``[B, H, W, 1]`` (the coarse mask at the input size) and ``if_person`` ``[B]`` (the coarse
        mask's highest probability, a person-presence score). :meth:`refine` is its second half.
        ``scale``: images in [0, ``scale``] instead, e.g. uint8 ones with 255 (:meth:`matte_uint8`).
        """
        height_width = tf.shape(images)[1:3]
        coarse = self._coarse_net(images, scale)  # [B, 192, 160, 1]
        return {
            "alpha": self.refine(images, coarse, scale=scale),
            "coarse": resize_bilinear(coarse, height_width),
            "if_person": tf.reduce_max(coarse, axis=[1, 2, 3]),
        }

    def refine(self, images: tf.Tensor, masks: tf.Tensor, *, scale: float | None = None) -> tf.Tensor:
        """The refinement alone, as :meth:`matte` runs it: ``[B, H, W, 3]`` float32 RGB in [0, 1] and
        person masks ``[B, h, w, 1]`` in [0, 1] (any size: both go to the refinement's frame) -> alpha
        ``[B, H, W, 1]`` in [0, 1]. The coarse net is not run."""
        height_width = tf.shape(images)[1:3]
        frame = self.fine_size
        if self.fine_frame == "aspect":
            frame = aspect_frame(height_width, self.fine_size, self.frame_multiple)
        image = _in_unit_range(resize_bilinear(images, frame), scale)
        fine_in = tf.concat([image, resize_bilinear(masks, frame)], axis=-1)
        alpha = self.fine(fine_in, training=False)  # [B, 768, 640, 1] (squeeze)
        # Both nets return maps in [0, 1], which a bilinear resize keeps (each output pixel is a
        # weighted mean); the guided upsampling's linear fit can overshoot, so it is clipped.
        if self.upsample == "guided":
            guide = _in_unit_range(tf.cast(images, tf.float32), scale)
            return tf.clip_by_value(guided_upsample(alpha, guide, height_width), 0.0, 1.0)
        return resize_bilinear(alpha, height_width)

    def coarse_stage(self, images: tf.Tensor) -> tf.Tensor:
        """The coarse stage alone, as :meth:`matte` runs it: ``[B, H, W, 3]`` float32 RGB in [0, 1] ->
        the person mask ``[B, H, W, 1]`` in [0, 1] at the input size."""
        return tf.clip_by_value(resize_bilinear(self._coarse_net(images), tf.shape(images)[1:3]), 0.0, 1.0)

    def _coarse_net(self, images: tf.Tensor, scale: float | None = None) -> tf.Tensor:
        """The coarse net's mask at its own size, ``[B, 192, 160, 1]`` by default."""
        return self.coarse(_in_unit_range(resize_bilinear(images, self.coarse_size), scale), training=False)

    def matte_uint8(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """:meth:`matte` on ``[B, H, W, 3]`` uint8 RGB. Each resize reads the uint8 image and its
        smaller result is scaled to [0, 1]: the photo itself is never converted to float, a pass
        over every pixel of a large photo (``benchmarks/export_speed.py --size 3000 4000``)."""
        return self.matte(images, scale=255.0)

    @tf.function(input_signature=[IMAGE_SPEC])
    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        """``[B, H, W, 3]`` float32 RGB in [0, 1] -> alpha ``[B, H, W, 1]`` float32 in [0, 1]."""
        return self.matte(images)["alpha"]


def _in_unit_range(images: tf.Tensor, scale: float | None) -> tf.Tensor:
    """An image in [0, 1]: as it is, or divided by ``scale`` (a resize of uint8 gives float32)."""
    return images if scale is None else images / scale

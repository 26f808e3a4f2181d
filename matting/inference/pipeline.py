"""The numpy boundary of the inference path: uint8 images in, float alpha or uint8 RGBA out, around
the live :class:`MattingModule` or any exported artifact (:func:`matting.export.load_pipeline`)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from matting.errors import ConfigError
from matting.inference.module import UINT8_SPEC, MattingModule
from matting.io.codecs import to_uint8
from matting.models.loading import load_checkpoint


class MattingPipeline:
    """uint8 RGB images in, alpha mattes or RGBA images out.

    The backend is a callable ``[B, H, W, 3]`` float32 RGB in [0, 1] -> ``[B, H, W, 1]`` alpha: the
    live :class:`MattingModule`, or any exported artifact reloaded by
    :func:`matting.export.load_pipeline`, so evaluation scores every format through the same code.
    With ``uint8`` it takes the uint8 images as they are and scales them itself.
    """

    def __init__(self, backend, *, module: MattingModule | None = None, uint8: bool = False):
        self.backend = backend
        self.module = module  # the live tf.Module, for export; None for a reloaded artifact
        self.uint8 = uint8
        self._stages = None  # module.matte as a tf.function, made on first use
        self._refine = None  # module.refine, likewise
        self._coarse = None  # module.coarse_stage, likewise

    # -- construction -------------------------------------------------------------------------------

    @classmethod
    def from_models(
        cls,
        coarse: keras.Model,
        fine: keras.Model,
        *,
        coarse_size=(192, 160),
        fine_size=(768, 640),
        upsample: str = "bilinear",
        fine_frame: str = "squeeze",
    ) -> MattingPipeline:
        module = MattingModule(
            coarse,
            fine,
            coarse_size=coarse_size,
            fine_size=fine_size,
            upsample=upsample,
            fine_frame=fine_frame,
        )

        # The uint8 images go into the graph, which scales them: a float copy made in numpy costs
        # more than the whole division (a fresh 768x640 float32 array took 2.5 ms to become a
        # tensor, the uint8 one a quarter of the bytes), and the graph divides on every core.
        @tf.function(input_signature=[UINT8_SPEC])
        def from_uint8(images):
            return module.matte_uint8(images)["alpha"]

        return cls(lambda x: from_uint8(tf.constant(x)).numpy(), module=module, uint8=True)

    @classmethod
    def from_checkpoints(cls, coarse: str, fine: str, **sizes) -> MattingPipeline:
        """From the ``.keras`` files the two training scripts write."""
        hint = "train that stage first, or fix the path"
        return cls.from_models(
            load_checkpoint(coarse, missing=hint), load_checkpoint(fine, missing=hint), **sizes
        )

    # -- inference ----------------------------------------------------------------------------------

    def predict_batch(self, images: np.ndarray) -> np.ndarray:
        """``[B, H, W, 3]`` uint8 RGB -> alpha ``[B, H, W]`` float32 in [0, 1]."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"expected uint8 images [B, H, W, 3], got {images.dtype} {images.shape}")
        if min(images.shape[1:3]) == 0:
            raise ValueError(f"an image of zero pixels cannot be matted: {images.shape}")
        alpha = self.backend(images if self.uint8 else np.divide(images, np.float32(255.0), dtype=np.float32))
        return np.asarray(alpha, np.float32)[..., 0]

    def predict(self, image: np.ndarray) -> np.ndarray:
        """One uint8 RGB image ``[H, W, 3]`` -> alpha ``[H, W]`` float32 in [0, 1]."""
        return self.predict_batch(np.asarray(image)[None])[0]

    def predict_stages(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """One uint8 RGB image -> ``alpha`` and ``coarse`` ``[H, W]`` in [0, 1]. Needs the live module
        (checkpoints), not an exported artifact."""
        if self._stages is None:  # traced once per call pattern; any image size reuses the trace
            self._stages = tf.function(self._live("the coarse stage").matte, reduce_retracing=True)
        out = self._stages(_batch_of_one(image))
        return {"alpha": out["alpha"].numpy()[0, ..., 0], "coarse": out["coarse"].numpy()[0, ..., 0]}

    def coarse_mask(self, image: np.ndarray) -> np.ndarray:
        """The coarse stage alone, as the pipeline runs it: one uint8 RGB image ``[H, W, 3]`` -> the
        person mask ``[H, W]`` float32 in [0, 1]. Needs the live module (checkpoints)."""
        if self._coarse is None:
            self._coarse = tf.function(self._live("the coarse stage").coarse_stage, reduce_retracing=True)
        return self._coarse(_batch_of_one(image)).numpy()[0, ..., 0]

    def refine(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The refinement alone from a given person mask, the coarse net skipped: one uint8 RGB image
        ``[H, W, 3]`` and ``mask`` ``[h, w]`` in [0, 1] (bool or float; any size, resized to the
        refinement's frame with the image) -> alpha ``[H, W]`` float32 in [0, 1]. Needs the live
        module (checkpoints), not an exported artifact."""
        if self._refine is None:
            self._refine = tf.function(self._live("a given mask").refine, reduce_retracing=True)
        masks = tf.constant(np.asarray(mask, np.float32)[None, ..., None])
        return self._refine(_batch_of_one(image), masks).numpy()[0, ..., 0]

    def _live(self, what: str) -> MattingModule:
        if self.module is None:
            raise ConfigError(f"{what} needs model_format=keras (the checkpoints), not an exported model")
        return self.module

    def predict_rgba(self, image: np.ndarray) -> np.ndarray:
        """One uint8 RGB image ``[H, W, 3]`` -> uint8 RGBA ``[H, W, 4]``, alpha as the 4th channel."""
        return np.concatenate([image, to_uint8(self.predict(image))[..., None]], axis=-1)


def _batch_of_one(image: np.ndarray) -> tf.Tensor:
    """A uint8 RGB image as the ``[1, H, W, 3]`` float32 batch in [0, 1] the module takes."""
    return tf.constant(np.asarray(image, np.float32)[None] / 255.0)

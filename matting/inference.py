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

import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import matting.models  # noqa: F401  (registers the custom layers the checkpoints use)
from matting.errors import CheckpointError, ConfigError
from matting.io.codecs import to_uint8
from matting.models.unet import check_input_size
from matting.ops import guided_upsample, resize_bilinear

# How the refinement's alpha returns to the input size: along the image's edges, or a plain zoom.
UPSAMPLE = ("guided", "bilinear")
IMAGE_SPEC = tf.TensorSpec([None, None, None, 3], tf.float32, name="images")


class MattingModule(tf.Module):
    """Coarse net + refinement net + the resizing between them, as one traceable graph."""

    def __init__(
        self, coarse: keras.Model, fine: keras.Model, *, coarse_size, fine_size, upsample: str = "bilinear"
    ):
        super().__init__(name="matting")
        if upsample not in UPSAMPLE:
            raise ConfigError(f"model.upsample must be one of {UPSAMPLE}, got {upsample!r}")
        self.upsample = upsample
        check_input_size(coarse, coarse_size, "model.coarse_size")
        check_input_size(fine, fine_size, "model.fine_size")
        self.coarse = coarse
        self.fine = fine
        # Python tuples, not tensors: traced in as constants, so no export captures an extra input.
        self.coarse_size = tuple(int(s) for s in coarse_size)
        self.fine_size = tuple(int(s) for s in fine_size)

    def matte(self, images: tf.Tensor, mask: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        """The graph itself, for tracing into any signature.

        ``[B, H, W, 3]`` float32 RGB in [0, 1] -> ``alpha`` ``[B, H, W, 1]`` in [0, 1], ``coarse``
        ``[B, H, W, 1]`` (the coarse mask at the input size) and ``if_person`` ``[B]`` (the coarse
        mask's highest probability, a person-presence score). A given ``mask`` ``[B, H, W, 1]``
        replaces the coarse net's output as the refinement's input (to score the refinement alone).
        """
        height_width = tf.shape(images)[1:3]
        coarse = self.coarse(resize_bilinear(images, self.coarse_size), training=False)  # [B, 192, 160, 1]
        guide = coarse if mask is None else mask
        fine_in = tf.concat(
            [resize_bilinear(images, self.fine_size), resize_bilinear(guide, self.fine_size)], axis=-1
        )  # [B, 768, 640, 4]
        alpha = self.fine(fine_in, training=False)  # [B, 768, 640, 1]
        if self.upsample == "guided":
            alpha = guided_upsample(alpha, images, height_width)
        else:
            alpha = resize_bilinear(alpha, height_width)
        return {
            "alpha": tf.clip_by_value(alpha, 0.0, 1.0),
            "coarse": tf.clip_by_value(resize_bilinear(coarse, height_width), 0.0, 1.0),
            "if_person": tf.reduce_max(coarse, axis=[1, 2, 3]),
        }

    @tf.function(input_signature=[IMAGE_SPEC])
    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        """``[B, H, W, 3]`` float32 RGB in [0, 1] -> alpha ``[B, H, W, 1]`` float32 in [0, 1]."""
        return self.matte(images)["alpha"]


def _load_keras(path: str | Path) -> keras.Model:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint (train that stage first, or fix the path)")
    return keras.models.load_model(path, compile=False)


class MattingPipeline:
    """uint8 RGB images in, alpha mattes or RGBA images out.

    The backend is a callable ``[B, H, W, 3]`` float32 RGB in [0, 1] -> ``[B, H, W, 1]`` alpha: the
    live :class:`MattingModule`, or any exported artifact reloaded (``from_saved_model``,
    ``from_modelscope``, ``from_tflite``, ``from_onnx``), so evaluation scores every format through
    the same code.
    """

    def __init__(self, backend, *, module: MattingModule | None = None):
        self.backend = backend
        self.module = module  # the live tf.Module, for export; None for a reloaded artifact
        self._stages = None  # module.matte as a tf.function, made on first use

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
    ) -> MattingPipeline:
        module = MattingModule(coarse, fine, coarse_size=coarse_size, fine_size=fine_size, upsample=upsample)
        return cls(lambda x: module(tf.constant(x)).numpy(), module=module)

    @classmethod
    def from_checkpoints(cls, coarse: str, fine: str, **sizes) -> MattingPipeline:
        """From the ``.keras`` files the two training scripts write."""
        return cls.from_models(_load_keras(coarse), _load_keras(fine), **sizes)

    @classmethod
    def from_saved_model(cls, path: str) -> MattingPipeline:
        """From a folder written by ``export.py format=saved_model``."""
        loaded = tf.saved_model.load(str(_artifact(path, "saved_model.pb")))
        return cls(lambda x: loaded(tf.constant(x)).numpy())

    @classmethod
    def from_modelscope(cls, path: str) -> MattingPipeline:
        """From a folder written by ``export.py format=modelscope``, run the way ModelScope runs it:
        the frozen graph imported with ``name=''`` into a TF1 session, one HxWx3 image in 0..255 at
        a time. Its alpha is 8-bit (``output_png``), so it matches others to 1/255."""
        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString((_artifact(path, "tf_graph.pb") / "tf_graph.pb").read_bytes())
        graph = tf.Graph()
        with graph.as_default():
            tf.compat.v1.import_graph_def(graph_def, name="")
        session = tf.compat.v1.Session(graph=graph)

        def backend(x):
            rgba = [session.run("output_png:0", {"input_image:0": image * 255.0}) for image in x]
            return np.stack(rgba)[..., 3:].astype(np.float32) / 255.0

        return cls(backend)

    @classmethod
    def from_tflite(cls, path: str) -> MattingPipeline:
        """From a folder written by ``export.py format=tflite``; one image per invocation."""
        interpreter = tf.lite.Interpreter(
            model_path=str(_artifact(path, "model.tflite") / "model.tflite"), num_threads=os.cpu_count()
        )
        input_index = interpreter.get_input_details()[0]["index"]

        def backend(x):
            alphas = []
            for image in x:
                interpreter.resize_tensor_input(input_index, [1, *image.shape])
                interpreter.allocate_tensors()
                interpreter.set_tensor(input_index, image[None])
                interpreter.invoke()
                alphas.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0])
            return np.stack(alphas)

        return cls(backend)

    @classmethod
    def from_onnx(cls, path: str) -> MattingPipeline:
        """From a folder written by ``export.py format=onnx``, run with ONNX Runtime on the CPU."""
        import onnxruntime

        session = onnxruntime.InferenceSession(
            str(_artifact(path, "model.onnx") / "model.onnx"), providers=["CPUExecutionProvider"]
        )
        name = session.get_inputs()[0].name
        return cls(lambda x: session.run(None, {name: x})[0])

    @classmethod
    def load(cls, format: str, path: str | None = None, **checkpoints) -> MattingPipeline:
        """``format`` "keras" (``coarse``, ``fine``, ``coarse_size``, ``fine_size`` as keywords)
        or an export format with its folder ``path``."""
        loaders = {
            "saved_model": cls.from_saved_model,
            "modelscope": cls.from_modelscope,
            "tflite": cls.from_tflite,
            "onnx": cls.from_onnx,
        }
        if format == "keras":
            return cls.from_checkpoints(**checkpoints)
        if format not in loaders:
            raise ConfigError(f"unknown model_format {format!r}; known: keras, {', '.join(loaders)}")
        if not path:
            raise ConfigError(f"model_format={format} needs the exported folder (model_path=...)")
        return loaders[format](path)

    # -- inference ----------------------------------------------------------------------------------

    def predict_batch(self, images: np.ndarray) -> np.ndarray:
        """``[B, H, W, 3]`` uint8 RGB -> alpha ``[B, H, W]`` float32 in [0, 1]."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"expected uint8 images [B, H, W, 3], got {images.dtype} {images.shape}")
        if min(images.shape[1:3]) == 0:
            raise ValueError(f"an image of zero pixels cannot be matted: {images.shape}")
        alpha = self.backend(images.astype(np.float32) / 255.0)
        return np.asarray(alpha, np.float32)[..., 0]

    def predict(self, image: np.ndarray) -> np.ndarray:
        """One uint8 RGB image ``[H, W, 3]`` -> alpha ``[H, W]`` float32 in [0, 1]."""
        return self.predict_batch(np.asarray(image)[None])[0]

    def predict_stages(self, image: np.ndarray, mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """One uint8 RGB image -> ``alpha`` and ``coarse`` ``[H, W]`` in [0, 1]; with ``mask``
        (``[H, W]`` in [0, 1]) the refinement starts from it instead of the coarse net's mask.
        Needs the live module (checkpoints), not an exported artifact."""
        if self.module is None:
            raise ConfigError("the stages and refine_from need model_format=keras (the checkpoints)")
        if self._stages is None:  # traced once per call pattern; any image size reuses the trace
            self._stages = tf.function(self.module.matte, reduce_retracing=True)
        images = tf.constant(np.asarray(image, np.float32)[None] / 255.0)
        masks = None if mask is None else tf.constant(np.asarray(mask, np.float32)[None, ..., None])
        out = self._stages(images, masks)
        return {"alpha": out["alpha"].numpy()[0, ..., 0], "coarse": out["coarse"].numpy()[0, ..., 0]}

    def predict_rgba(self, image: np.ndarray) -> np.ndarray:
        """One uint8 RGB image ``[H, W, 3]`` -> uint8 RGBA ``[H, W, 4]``, alpha as the 4th channel."""
        return np.concatenate([image, to_uint8(self.predict(image))[..., None]], axis=-1)


def _artifact(path: str, required: str) -> Path:
    """``path`` as a folder holding ``required``, or a :class:`CheckpointError` that says so."""
    folder = Path(path)
    if not (folder / required).is_file():
        raise CheckpointError(f"{folder}: not an exported model folder (no {required}); run export.py first")
    return folder

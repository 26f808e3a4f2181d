"""Export the inference path (:class:`matting.inference.MattingModule`) for deployment.

=================  ============================================  =====================================
format             file(s) in the export folder                  input -> output
=================  ============================================  =====================================
``saved_model``    ``saved_model.pb`` + ``variables/``           ``images`` [B, H, W, 3] float32 in
                                                                 [0, 1] -> ``alpha`` [B, H, W, 1];
                                                                 ``matte_uint8``: uint8 images ->
                                                                 ``alpha`` and ``rgba`` (uint8)
``modelscope``     ``tf_graph.pb``, ``configuration.json``,      ``input_image:0`` [H, W, 3] float32
                   ``README.md``                                 RGB in 0..255 -> ``output_png:0``
                                                                 [H, W, 4] uint8 RGBA, ``if_person:0``
``tflite``         ``model.tflite`` (float32 or float16)         [1, H, W, 3] float32 in [0, 1] ->
                                                                 [1, H, W, 1] alpha
``onnx``           ``model.onnx`` (dynamic batch, height, width)  as ``saved_model``
=================  ============================================  =====================================

Every exporter writes into a temporary folder beside the target and renames it into place when
complete, with a ``matting.json`` of metadata; an existing target is replaced only with ``overwrite``.
All resizing and normalisation live inside the exported graph.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from matting.errors import ConfigError
from matting.inference import IMAGE_SPEC, MattingModule
from matting.io.files import atomic_folder

# ModelScope's loading contract: exactly these keys, and never a "model" key (ModelScope would then
# look for a registered model class and fail).
MODELSCOPE_CONFIGURATION = {
    "framework": "tensorflow",
    "task": "portrait-matting",
    "pipeline": {"type": "unet-image-matting"},
}
TFLITE_QUANTIZATIONS = ("float32", "float16")


# ---------------------------------------------------------------------------------------------------
# Writing a folder safely
# ---------------------------------------------------------------------------------------------------


def _write_folder(target: str, overwrite: bool, metadata: dict | None, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp)`` on a temporary folder beside ``target``, then move it into place."""
    target = Path(target)
    if target.exists() and not overwrite:
        raise ConfigError(f"{target}: exists already; pass overwrite=true to replace it")
    with atomic_folder(target) as tmp:
        write(tmp)
        (tmp / "matting.json").write_text(json.dumps(metadata or {}, indent=2))
    return target


def _to_uint8(x: tf.Tensor) -> tf.Tensor:
    """float in [0, 255] -> uint8, rounded to nearest (as :func:`matting.io.to_uint8` on [0, 1])."""
    return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)


# ---------------------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------------------


def export_saved_model(module: MattingModule, target: str, *, overwrite=False, metadata=None) -> Path:
    """A SavedModel: ``serving_default`` on float images in [0, 1], ``matte_uint8`` on uint8 images;
    ``tf.saved_model.load(path)(images)`` is the module's own ``__call__``."""

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    def matte_uint8(images):
        alpha = module.matte(tf.cast(images, tf.float32) / 255.0)["alpha"]
        return {"alpha": alpha, "rgba": tf.concat([images, _to_uint8(alpha * 255.0)], axis=-1)}

    serving = tf.function(lambda images: {"alpha": module(images)}, input_signature=[IMAGE_SPEC])

    def write(tmp: Path) -> None:
        signatures = {"serving_default": serving, "matte_uint8": matte_uint8}
        tf.saved_model.save(module, str(tmp), signatures=signatures)

    return _write_folder(target, overwrite, metadata, write)


def modelscope_graph(module: MattingModule) -> tf.compat.v1.GraphDef:
    """The frozen GraphDef ModelScope's ``unet-image-matting`` pipeline runs (see module docstring)."""

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32, name="input_image")])
    def serve(input_image):
        out = module.matte(input_image[None] / 255.0)
        rgba = tf.concat([_to_uint8(input_image), _to_uint8(out["alpha"][0] * 255.0)], axis=-1)
        return {
            "output_png": tf.identity(rgba, name="output_png"),
            "if_person": tf.identity(out["if_person"][0], name="if_person"),
        }

    graph_def = convert_variables_to_constants_v2(serve.get_concrete_function()).graph.as_graph_def()
    for node in graph_def.node:
        node.device = ""  # ModelScope places the graph itself (on the CPU)
    return graph_def


def export_modelscope(module: MattingModule, target: str, *, overwrite=False, metadata=None) -> Path:
    """A folder that ``modelscope.pipelines.pipeline(Tasks.portrait_matting, model=folder)`` loads."""

    def write(tmp: Path) -> None:
        (tmp / "tf_graph.pb").write_bytes(modelscope_graph(module).SerializeToString())
        configuration = {**MODELSCOPE_CONFIGURATION, "matting": metadata or {}}
        (tmp / "configuration.json").write_text(json.dumps(configuration, indent=2))
        (tmp / "README.md").write_text(_model_card(metadata or {}))

    return _write_folder(target, overwrite, metadata, write)


def _model_card(metadata: dict) -> str:
    sizes = f"coarse net at {metadata.get('coarse_size')}, refinement at {metadata.get('fine_size')}"
    metrics = metadata.get("metrics")
    return f"""# Portrait matting (two-stage U-Net), exported for ModelScope

Rebuilt from scratch after `damo/cv_unet_image-matting` (Liu et al., "Boosting Semantic Human
Matting with Coarse Annotations", CVPR 2020): a coarse U-Net predicts a person mask, a refinement
U-Net predicts the alpha matte from the image and that mask ({sizes}).

- Input `input_image:0`: float32 [H, W, 3], RGB in 0..255, any size (best below 2000x2000).
- Output `output_png:0`: uint8 [H, W, 4], the RGB input with the alpha matte as 4th channel;
  `if_person:0`: float32 scalar, the coarse mask's highest probability.
- All resizing happens inside the graph.

Training data: {metadata.get("training_data", "see the training run's config.yaml")}.
Metrics: {json.dumps(metrics) if metrics else "see the repository's evaluate.py report"} (MSE and MAD: mean
over the whole image with alpha in [0, 1]; SAD, Gradient and Connectivity as in the Deep Image
Matting reference code, divided by 1000).

Limits: trained on composites; small persons, several people and images above 2000 px are harder;
edges blur on large inputs because the refinement runs at a fixed resolution.
"""


def export_tflite(
    module: MattingModule, target: str, *, quantization: str = "float32", overwrite=False, metadata=None
) -> Path:
    """``model.tflite``: [1, H, W, 3] float32 in [0, 1] -> alpha [1, H, W, 1]; H and W are dynamic
    (``interpreter.resize_tensor_input``). ``quantization``: float32, or float16 weights."""
    if quantization not in TFLITE_QUANTIZATIONS:
        raise ConfigError(f"quantization must be one of {TFLITE_QUANTIZATIONS}, got {quantization!r}")
    spec = tf.TensorSpec([1, None, None, 3], tf.float32, name="images")
    concrete = tf.function(lambda images: module.matte(images)["alpha"], input_signature=[spec])

    def write(tmp: Path) -> None:
        # Freeze first: converted with live variables, TFLite keeps READ_VARIABLE ops that have
        # nothing to read once the model is loaded on its own.
        frozen = convert_variables_to_constants_v2(concrete.get_concrete_function())
        converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen], module)
        if quantization == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        (tmp / "model.tflite").write_bytes(converter.convert())

    return _write_folder(target, overwrite, {**(metadata or {}), "quantization": quantization}, write)


def export_onnx(
    module: MattingModule, target: str, *, opset: int = 17, overwrite=False, metadata=None
) -> Path:
    """``model.onnx`` through tf2onnx: ``images`` [B, H, W, 3] float32 in [0, 1] -> ``alpha``."""
    import tf2onnx

    concrete = tf.function(lambda images: {"alpha": module.matte(images)["alpha"]})

    def write(tmp: Path) -> None:
        tf2onnx.convert.from_function(
            concrete, input_signature=[IMAGE_SPEC], opset=opset, output_path=str(tmp / "model.onnx")
        )

    return _write_folder(target, overwrite, {**(metadata or {}), "opset": opset}, write)


EXPORTERS = {
    "saved_model": export_saved_model,
    "modelscope": export_modelscope,
    "tflite": export_tflite,
    "onnx": export_onnx,
}


def export(module: MattingModule, target: str, *, format: str = "saved_model", **options) -> Path:
    """Export ``module`` to the folder ``target`` in ``format`` (one of :data:`EXPORTERS`)."""
    if format not in EXPORTERS:
        raise ConfigError(f"unknown export format {format!r}; known: {sorted(EXPORTERS)}")
    return EXPORTERS[format](module, target, **options)

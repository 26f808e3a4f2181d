"""TFLite: ``model.tflite``, [1, H, W, 3] float32 in [0, 1] -> alpha [1, H, W, 1], H and W dynamic."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from matting.errors import ConfigError
from matting.export.folder import exported_file, write_folder
from matting.inference.module import MattingModule
from matting.layout import EXPORT_FILES

QUANTIZATIONS = ("float32", "float16")


def write(
    module: MattingModule, target: str, *, quantization: str = "float32", overwrite=False, metadata=None
) -> Path:
    """``module`` as TFLite (sizes set by ``interpreter.resize_tensor_input``); ``quantization``:
    float32, or float16 weights."""
    if quantization not in QUANTIZATIONS:
        raise ConfigError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    spec = tf.TensorSpec([1, None, None, 3], tf.float32, name="images")
    concrete = tf.function(lambda images: module.matte(images)["alpha"], input_signature=[spec])

    def write_model(tmp: Path) -> None:
        # Freeze first: converted with live variables, TFLite keeps READ_VARIABLE ops that have
        # nothing to read once the model is loaded on its own.
        frozen = convert_variables_to_constants_v2(concrete.get_concrete_function())
        converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen], module)
        if quantization == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        (tmp / EXPORT_FILES["tflite"]).write_bytes(converter.convert())

    metadata = {**(metadata or {}), "quantization": quantization}
    return write_folder(target, write_model, overwrite=overwrite, metadata=metadata)


def load(path: str):
    """The backend of a folder :func:`write` wrote; one image per invocation."""
    interpreter = tf.lite.Interpreter(
        model_path=str(exported_file(path, "tflite")), num_threads=os.cpu_count()
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

    return backend

"""ONNX through tf2onnx: ``images`` [B, H, W, 3] float32 in [0, 1] -> ``alpha``, run with ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from matting.export.folder import exported_file, write_folder
from matting.inference.module import IMAGE_SPEC, MattingModule
from matting.layout import EXPORT_FILES


def write(module: MattingModule, target: str, *, opset: int = 17, overwrite=False, metadata=None) -> Path:
    """``module`` as ONNX, with dynamic batch, height and width."""
    import tf2onnx

    concrete = tf.function(lambda images: {"alpha": module.matte(images)["alpha"]})

    def write_model(tmp: Path) -> None:
        tf2onnx.convert.from_function(
            concrete, input_signature=[IMAGE_SPEC], opset=opset, output_path=str(tmp / EXPORT_FILES["onnx"])
        )

    metadata = {**(metadata or {}), "opset": opset}
    return write_folder(target, write_model, overwrite=overwrite, metadata=metadata)


def load(path: str):
    """The backend of a folder :func:`write` wrote, on ONNX Runtime's CPU provider."""
    import onnxruntime

    session = onnxruntime.InferenceSession(
        str(exported_file(path, "onnx")), providers=["CPUExecutionProvider"]
    )
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]

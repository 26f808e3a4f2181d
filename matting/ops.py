"""Tensor ops shared by the training input pipeline and the inference graph.

Training and inference must see images resized the same way, and the inference graph must convert
to every export format (frozen graph, TFLite builtins, ONNX). Bilinear resizing without antialiasing
is the one resize all of them support, so it is the only one used.
"""

from __future__ import annotations

import tensorflow as tf


def resize(images: tf.Tensor, size) -> tf.Tensor:
    """Bilinear resize of ``[B, H, W, C]`` or ``[H, W, C]`` float images to ``size`` (height, width)."""
    return tf.image.resize(images, size, method="bilinear", antialias=False)

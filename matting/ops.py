"""Tensor ops shared by the training input pipeline, the inference graph and the exports.

Training and inference must see images resized the same way, and the inference graph must convert
to every export format (frozen graph, TFLite builtins, ONNX). Bilinear resizing without antialiasing
is the one resize all of them support, so it is the only one used.
"""

from __future__ import annotations

import tensorflow as tf


def resize_bilinear(images: tf.Tensor, size) -> tf.Tensor:
    """Bilinear resize of ``[B, H, W, C]`` or ``[H, W, C]`` float images to ``size`` (height, width)."""
    return tf.image.resize(images, size, method="bilinear", antialias=False)


def to_uint8_tensor(x: tf.Tensor, scale: float = 255.0) -> tf.Tensor:
    """float in [0, 1] (``scale=255``; ``scale=1``: already in [0, 255]) -> uint8, rounded to nearest
    (half to even) and clipped: the tensor twin of :func:`matting.io.codecs.to_uint8`, for the
    uint8 outputs of the exported graphs."""
    return tf.cast(tf.clip_by_value(tf.round(x * scale), 0.0, 255.0), tf.uint8)


def box_mean(x: tf.Tensor, radius: int) -> tf.Tensor:
    """Mean over a (2r+1)-square window, ``[B, H, W, C]``; windows are cut at the border (only the
    pixels inside the image count). The window sums are one depthwise convolution with a kernel of
    ones over the zero-padded map (shifted sums of a padded copy where C is not known when traced),
    divided by the number of pixels inside each window: TensorFlow's CPU average pooling takes
    several times as long, the shifted sums twice as long (2.1 against 1.0 ms for the refinement's
    13 channels at 192x160)."""
    if radius == 0:
        return x

    def window_sum(t: tf.Tensor, axis: int) -> tf.Tensor:
        length = tf.shape(t)[axis]
        padded = tf.pad(t, [[radius, radius] if a == axis else [0, 0] for a in range(4)])
        begin = [0, 0, 0, 0]
        total = None
        for shift in range(2 * radius + 1):
            begin[axis] = shift
            size = [-1 if a != axis else length for a in range(4)]
            part = tf.slice(padded, begin, size)
            total = part if total is None else total + part
        return total

    count = window_sum(tf.ones_like(x[:1, :, :1, :1]), 1) * window_sum(tf.ones_like(x[:1, :1, :, :1]), 2)
    channels = x.shape[-1]
    if channels is None:
        return window_sum(window_sum(x, 1), 2) / count
    ones = tf.ones([2 * radius + 1, 2 * radius + 1, channels, 1], x.dtype)
    return tf.nn.depthwise_conv2d(x, ones, [1, 1, 1, 1], "SAME") / count


def guided_upsample(
    alpha: tf.Tensor, guide: tf.Tensor, size, *, radius: int = 1, eps: float = 1e-4
) -> tf.Tensor:
    """Upsample ``alpha`` ``[B, h, w, 1]`` to ``size`` along the edges of ``guide``, ``[B, H, W, 3]``
    in [0, 1] at the target size (the fast guided filter, He and Sun 2015).

    At low resolution, alpha is fitted locally as ``a * gray(guide) + b`` (a box window of
    ``radius`` low-resolution pixels, regulariser ``eps``); ``a`` and ``b`` are smoothed, upsampled
    bilinearly and applied to the full-resolution guide, so edges follow the image instead of the
    blur of a bilinear zoom. Only average pooling, resizes and arithmetic: every export runs it.
    """
    gray = tf.reduce_mean(guide, axis=-1, keepdims=True)  # [B, H, W, 1]
    small = resize_bilinear(gray, tf.shape(alpha)[1:3])  # [B, h, w, 1]
    mean_i, mean_p = box_mean(small, radius), box_mean(alpha, radius)
    cov_ip = box_mean(small * alpha, radius) - mean_i * mean_p
    var_i = box_mean(small * small, radius) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return resize_bilinear(box_mean(a, radius), size) * gray + resize_bilinear(box_mean(b, radius), size)


def aspect_frame(height_width: tf.Tensor, size, multiple: int = 32, max_aspect: float = 3.0) -> tf.Tensor:
    """The (height, width) int32 ``[2]`` of a frame with about the pixels of ``size`` (height,
    width) at the aspect of an image of ``height_width``, each side a multiple of ``multiple``, the
    aspect limited to ``max_aspect`` either way. An 800x550 photo squeezed into a 640x768 frame is
    resampled 0.8x one way and 1.4x the other, and its edges with it; in this frame (832x576), at
    about its own resolution both ways."""
    area = float(size[0]) * float(size[1])
    hw = tf.cast(height_width, tf.float32)
    aspect = tf.clip_by_value(hw[0] / hw[1], 1.0 / max_aspect, max_aspect)
    height = tf.sqrt(area * aspect)
    frame = tf.stack([height, area / height]) / multiple
    return tf.maximum(tf.cast(tf.round(frame), tf.int32), 1) * multiple

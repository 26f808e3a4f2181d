"""Building blocks shared by the nets: the U-Nets' conv / down / up stages, and the fast nets'
inverted residual, squeeze-excite, light decoder stage and learned guided-filter upsampler.

Every block is a function ``block(x, filters, **options) -> tensor`` built from standard Keras
layers; the few custom layers (:class:`AddMaskLogit`, :class:`ResizeLike`, :class:`ChannelDot`,
:class:`BoxStatistics`, :class:`SliceChannels`, :class:`UnitClip`) are registered, so importing
``matting.models`` is all ``keras.models.load_model`` needs.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from matting.ops import box_mean

# -- U-Net stages ----------------------------------------------------------------------------------


def conv_bn_relu(
    x, filters: int, *, separable: bool = False, bn_momentum: float = 0.9, name: str
) -> keras.KerasTensor:
    """3x3 convolution (or depthwise-separable convolution), batch norm, ReLU."""
    conv = layers.SeparableConv2D if separable else layers.Conv2D
    x = conv(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def double_conv(x, filters: int, *, name: str, **options) -> keras.KerasTensor:
    """Two ``conv_bn_relu`` in a row: the unit of every U-Net stage."""
    x = conv_bn_relu(x, filters, name=f"{name}_a", **options)
    return conv_bn_relu(x, filters, name=f"{name}_b", **options)


def down(x, filters: int, *, name: str, **options) -> keras.KerasTensor:
    """Halve the resolution with max pooling, then a ``double_conv``."""
    x = layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    return double_conv(x, filters, name=name, **options)


def up(x, skip, filters: int, *, name: str, **options) -> keras.KerasTensor:
    """Nearest 2x upsampling, concatenation with the encoder skip, then a ``double_conv``.

    Nearest (a repeat, no resize op) keeps the graph free of shape-dependent Python branches, so the
    model traces and exports with unknown height and width."""
    x = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_upsample")(x)
    x = layers.Concatenate(name=f"{name}_concat")([x, skip])
    return double_conv(x, filters, name=name, **options)


@keras.saving.register_keras_serializable(package="matting")
class AddMaskLogit(layers.Layer):
    """``logits + logit(mask)``, the mask being the last channel of ``inputs`` clipped to
    ``[eps, 1 - eps]``: the refinement net then predicts a correction to the coarse mask, and with
    a zero-initialised head it starts by passing the mask through."""

    def __init__(self, eps: float = 0.01, **kwargs):
        super().__init__(**kwargs)
        self.eps = eps

    def call(self, logits, inputs):
        mask = keras.ops.clip(inputs[..., -1:], self.eps, 1.0 - self.eps)
        return logits + keras.ops.log(mask / (1.0 - mask))

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}


# -- light blocks (the fast nets) ------------------------------------------------------------------


def inverted_residual(
    x, filters: int, *, expansion: int = 4, stride: int = 1, bn_momentum: float = 0.9, name: str
) -> keras.KerasTensor:
    """MobileNetV2's block: 1x1 expansion, 3x3 depthwise (``stride``), linear 1x1 projection, and
    the identity added when the shape allows it."""
    inputs = x
    if expansion > 1:  # expansion 1: a depthwise-separable conv (MobileNetV2's first block)
        x = layers.Conv2D(int(x.shape[-1]) * expansion, 1, use_bias=False, name=f"{name}_expand")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_expand_bn")(x)
        x = layers.ReLU(6.0, name=f"{name}_expand_relu")(x)
    x = layers.DepthwiseConv2D(3, stride, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_dw_bn")(x)
    x = layers.ReLU(6.0, name=f"{name}_dw_relu")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_project")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_project_bn")(x)
    if stride == 1 and int(inputs.shape[-1]) == filters:
        x = layers.Add(name=f"{name}_add")([inputs, x])
    return x


def squeeze_excite(x, *, ratio: int = 4, name: str) -> keras.KerasTensor:
    """Channel gates from the global average of ``x``: the global context of the deepest features."""
    channels = int(x.shape[-1])
    gate = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(x)  # [B, 1, 1, C]
    gate = layers.Conv2D(max(channels // ratio, 8), 1, activation="relu", name=f"{name}_reduce")(gate)
    gate = layers.Conv2D(channels, 1, activation="sigmoid", name=f"{name}_expand")(gate)
    return layers.Multiply(name=f"{name}_scale")([x, gate])


def up_light(x, skip, filters: int, *, name: str, **options) -> keras.KerasTensor:
    """Bilinear resize to the skip's size, concatenation, one ``conv_bn_relu``: a light decoder stage
    that takes any input size (no divisibility rule)."""
    x = ResizeLike(name=f"{name}_resize")(x, skip)
    x = layers.Concatenate(name=f"{name}_concat")([x, skip])
    return conv_bn_relu(x, filters, name=name, **options)


def guided_upsample(
    logits,
    features,
    guide,
    *,
    radius: int = 1,
    hidden: int = 16,
    bn_momentum: float = 0.9,
    pass_through: bool = False,
    name: str,
) -> keras.KerasTensor:
    """A learned guided filter (Wu et al., CVPR 2018, as in RVM): ``logits`` ``[B, h, w, 1]`` at low
    resolution -> ``[B, H, W, 1]`` at the size of ``guide`` ``[B, H, W, G]``.

    At low resolution, box statistics of the guide (resized down to ``h, w``) and of ``logits``
    give, with ``features``, the local linear map ``A`` (1x1 convs) and ``b = mean(p) - A . mean(I)``;
    at full size only ``A_up . guide + b_up``, per pixel. ``A``'s last conv is zero-initialised, so
    with zero ``logits`` the output starts at zero.

    ``pass_through``: the guide's last channel (a mask) is the filter's starting point: the filter
    input is ``logits`` + that channel (at low resolution), and ``A`` starts at 1 on it, so with zero
    ``logits`` the output is the full-resolution mask itself, sharp edges included.

    The guide goes down by a bilinear resize (at a factor of 4, the mean of each 4x4 block's middle
    2x2) and the four box means are one :class:`BoxStatistics`: average pooling, the textbook way,
    took half of the refinement's time on a 2-core CPU.
    """
    small = ResizeLike(name=f"{name}_guide_down")(guide, logits)  # [B, h, w, G]
    channels = int(guide.shape[-1])
    if pass_through:
        logits = layers.Add(name=f"{name}_p")([logits, SliceChannels(channels - 1, channels)(small)])
    cov_ip, var_i, mean_i, mean_p = BoxStatistics(radius, name=f"{name}_box")(small, logits)
    x = layers.Concatenate(name=f"{name}_stats")([cov_ip, var_i, features])
    x = layers.Conv2D(hidden, 1, use_bias=False, name=f"{name}_a_conv")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_a_bn")(x)
    x = layers.ReLU(name=f"{name}_a_relu")(x)
    start = [0.0] * (channels - 1) + [1.0 if pass_through else 0.0]
    a = layers.Conv2D(
        channels, 1, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(start),
        name=f"{name}_a",
    )(x)  # fmt: skip
    b = layers.Subtract(name=f"{name}_b")([mean_p, ChannelDot(name=f"{name}_a_mean_i")(a, mean_i)])
    a = ResizeLike(name=f"{name}_a_up")(a, guide)  # [B, H, W, G]
    b = ResizeLike(name=f"{name}_b_up")(b, guide)  # [B, H, W, 1]
    return layers.Add(name=f"{name}_out")([ChannelDot(name=f"{name}_a_guide")(a, guide), b])


@keras.saving.register_keras_serializable(package="matting")
class BoxStatistics(layers.Layer):
    """The guided filter's local statistics of a guide ``I`` ``[B, h, w, G]`` and an input ``p``
    ``[B, h, w, 1]`` over (2r+1)-square windows: ``cov(I, p)``, ``var(I)`` (per guide channel),
    ``mean(I)`` and ``mean(p)``, from one box mean of the stacked moments."""

    def __init__(self, radius: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.radius = radius

    def call(self, guide, p):
        g = guide.shape[-1]
        means = box_mean(tf.concat([guide, p, guide * p, guide * guide], axis=-1), self.radius)
        mean_i, mean_p = means[..., :g], means[..., g : g + 1]
        mean_ip, mean_ii = means[..., g + 1 : 2 * g + 1], means[..., 2 * g + 1 :]
        return mean_ip - mean_i * mean_p, mean_ii - mean_i * mean_i, mean_i, mean_p

    def compute_output_shape(self, guide_shape, p_shape):
        return guide_shape, guide_shape, guide_shape, p_shape

    def get_config(self):
        return {**super().get_config(), "radius": self.radius}


@keras.saving.register_keras_serializable(package="matting")
class ResizeLike(layers.Layer):
    """Bilinear resize of ``x`` ``[B, h, w, C]`` to the height and width of ``reference``."""

    def call(self, x, reference):
        return tf.image.resize(x, tf.shape(reference)[1:3], method="bilinear", antialias=False)

    def compute_output_shape(self, x_shape, reference_shape):
        return (x_shape[0], reference_shape[1], reference_shape[2], x_shape[3])


@keras.saving.register_keras_serializable(package="matting")
class ChannelDot(layers.Layer):
    """``sum(a * b, axis=-1)``, kept as ``[B, H, W, 1]``: a per-pixel dot product over channels.

    The sum is a 1x1 convolution with a kernel of ones: over a handful of channels at 768x640,
    TensorFlow's CPU reduction along the last axis takes half again as long."""

    def call(self, a, b):
        if a.shape[-1] is None:
            return keras.ops.sum(a * b, axis=-1, keepdims=True)
        ones = keras.ops.ones((1, 1, a.shape[-1], 1), dtype=a.dtype)
        return keras.ops.conv(a * b, ones)

    def compute_output_shape(self, a_shape, b_shape):
        return (*a_shape[:-1], 1)


@keras.saving.register_keras_serializable(package="matting")
class SliceChannels(layers.Layer):
    """Channels ``start:stop`` of ``[B, H, W, C]``."""

    def __init__(self, start: int, stop: int, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = start, stop

    def call(self, x):
        return x[..., self.start : self.stop]

    def compute_output_shape(self, shape):
        return (*shape[:-1], self.stop - self.start)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@keras.saving.register_keras_serializable(package="matting")
class UnitClip(layers.Layer):
    """``clip(x, 0, 1)``; in training the gradient passes as if unclipped (straight through), so a
    prediction at exactly 0 or 1 (a binary mask passed through) can still learn to move."""

    def call(self, x, training=None):
        clipped = keras.ops.clip(x, 0.0, 1.0)
        return x + keras.ops.stop_gradient(clipped - x) if training else clipped

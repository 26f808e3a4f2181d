"""Building blocks shared by the coarse and refinement U-Nets.

Every block is a function ``block(x, filters, **options) -> tensor`` built from standard Keras
layers; the one custom layer, :class:`AddMaskLogit`, is registered, so importing ``matting.models``
is all ``keras.models.load_model`` needs.
"""

from __future__ import annotations

import keras
from keras import layers


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
        return logits + keras.ops.log(mask) - keras.ops.log(1.0 - mask)

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}

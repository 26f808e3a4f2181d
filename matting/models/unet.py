"""The two U-Nets of the pipeline (Liu et al., CVPR 2020; ModelScope ``damo/cv_unet_image-matting``).

- Coarse net: RGB image at 192x160 -> person mask.
- Refinement net: RGB image + coarse mask at 768x640 -> alpha matte.

Both take NHWC float32 in [0, 1] and return a sigmoid map in [0, 1], shape ``[B, H, W, 1]``.
Height and width must be divisible by ``2 ** (len(filters) - 1)``; the model is built with
unknown spatial size so one set of weights serves any such size.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from matting.errors import ConfigError
from matting.models.blocks import AddMaskLogit, double_conv, down, up


def build_unet(
    *,
    in_channels: int,
    filters: Sequence[int] = (16, 32, 64, 128),
    separable: bool = False,
    bn_momentum: float = 0.9,
    residual: bool = False,
    name: str = "unet",
) -> keras.Model:
    """A U-Net: ``len(filters) - 1`` downsamplings, skips, a 1x1 sigmoid head.

    With ``residual`` the head's logits are added to the logit of the last input channel (the
    coarse mask), so the net learns a correction to it (see :class:`AddMaskLogit`).
    """
    filters = list(filters)
    if len(filters) < 2 or any(int(f) <= 0 for f in filters):
        raise ConfigError(f"{name}: filters must list at least two positive widths, got {filters}")
    options = {"separable": separable, "bn_momentum": bn_momentum}

    inputs = keras.Input((None, None, in_channels), name="inputs")
    # The first stage always uses full convolutions: a separable conv on 3-4 channels saves nothing.
    x = double_conv(inputs, filters[0], name="enc0", bn_momentum=bn_momentum)
    skips = [x]
    for level, width in enumerate(filters[1:], start=1):
        x = down(x, width, name=f"enc{level}", **options)
        skips.append(x)
    for level in reversed(range(len(filters) - 1)):
        x = up(x, skips[level], filters[level], name=f"dec{level}", **options)
    if residual:
        logits = layers.Conv2D(1, 1, kernel_initializer="zeros", dtype="float32", name="head")(x)
        logits = AddMaskLogit(dtype="float32", name="add_mask_logit")(logits, inputs)
    else:
        logits = layers.Conv2D(1, 1, dtype="float32", name="head")(x)
    outputs = layers.Activation("sigmoid", dtype="float32", name="sigmoid")(logits)
    return keras.Model(inputs, outputs, name=name)


def build_coarse_unet(**kwargs) -> keras.Model:
    """Coarse segmentation net: ``[B, H, W, 3]`` image -> ``[B, H, W, 1]`` person mask."""
    return build_unet(in_channels=3, name="coarse_unet", **kwargs)


def build_fine_unet(*, residual: bool = True, **kwargs) -> keras.Model:
    """Refinement net: ``[B, H, W, 4]`` image + coarse mask -> ``[B, H, W, 1]`` alpha."""
    return build_unet(in_channels=4, residual=residual, name="fine_unet", **kwargs)

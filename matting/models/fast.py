"""The fast pair of nets (``model=fast``): the same contract as the U-Nets, a fraction of the cost.

- Coarse net: RGB image -> person mask. A MobileNetV2 encoder (``keras.applications``, optionally
  pretrained) to 1/32, squeeze-excite on the 1/32 features, a light decoder with skips back to 1/2.
- Refinement net: RGB image + coarse mask -> alpha. One 4x4 conv of stride 4 to 1/4, inverted
  residuals at 1/4 and below, a light decoder back to 1/4, and a learned guided filter that returns
  to full resolution with per-pixel ``A . [image, mask] + b`` (Wu et al. 2018; RVM's deep guided
  filter).
  Residual: the output is the mask plus a correction that starts at zero.

Both take NHWC float32 in [0, 1] and return a sigmoid map ``[B, H, W, 1]``. Decoder stages resize to
their skips, so any height and width works. Layers of the encoders are named ``enc*`` (what
``train.freeze_encoder`` freezes). Model names ``coarse`` / ``fine`` give the checkpoint names.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import keras
from keras import layers

from matting.errors import ConfigError
from matting.models.blocks import (
    ResizeLike,
    UnitClip,
    guided_upsample,
    inverted_residual,
    squeeze_excite,
    up_light,
)
from matting.models.pretrained import check_imagenet

# MobileNetV2's features at 1/2, 1/4, 1/8, 1/16 (the skips) and 1/32.
MOBILENET_V2_FEATURES = (
    "block_1_expand_relu",
    "block_3_expand_relu",
    "block_6_expand_relu",
    "block_13_expand_relu",
    "out_relu",
)


def _check_widths(key: str, widths, count: int | None = None) -> list[int]:
    widths = [int(w) for w in widths]
    if len(widths) < 2 or any(w <= 0 for w in widths) or (count and len(widths) != count):
        need = f"{count}" if count else "at least two"
        raise ConfigError(f"{key}: filters must list {need} positive widths, got {widths}")
    return widths


# -- coarse net ------------------------------------------------------------------------------------


def mobilenet_v2_features(
    alpha: float = 0.5, weights: str | None = None, bn_momentum: float = 0.9
) -> keras.Model:
    """``keras.applications.MobileNetV2`` without its top, as a model returning the features at 1/2
    ... 1/32; ``weights``: None, "imagenet" (a download) or the path of a weights file.

    Its batch norms get ``bn_momentum``: Keras builds them with 0.999, whose moving statistics need
    thousands of steps to leave their initial values, so a short run scores its validation (and
    inference) through statistics it never trained with (val MSE 0.29 against 0.065 in training,
    on the demo)."""
    if weights == "imagenet":
        check_imagenet(alpha)
    with warnings.catch_warnings():  # "Weights for input shape (224, 224) will be loaded": as meant
        warnings.filterwarnings("ignore", message=".*input_shape. is undefined or non-square")
        base = keras.applications.MobileNetV2(
            input_shape=(None, None, 3), alpha=alpha, include_top=False, weights=weights
        )
    for layer in base.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = bn_momentum
    outputs = [base.get_layer(name).output for name in MOBILENET_V2_FEATURES]
    return keras.Model(base.inputs, outputs, name="enc_backbone")


def build_coarse_fast(
    *,
    filters: Sequence[int] = (16, 24, 32, 64),
    backbone_alpha: float = 0.5,
    backbone_weights: str | None = None,
    separable: bool = True,
    bn_momentum: float = 0.9,
) -> keras.Model:
    """Coarse segmentation net: ``[B, H, W, 3]`` image -> ``[B, H, W, 1]`` person mask.

    ``filters``: the decoder's widths at 1/2, 1/4, 1/8 and 1/16; ``backbone_alpha``: MobileNetV2's
    width multiplier; ``backbone_weights``: None, "imagenet" or a weights file (``.weights.h5``)."""
    filters = _check_widths("model.coarse", filters, count=len(MOBILENET_V2_FEATURES) - 1)
    options = {"separable": separable, "bn_momentum": bn_momentum}

    inputs = keras.Input((None, None, 3), name="inputs")
    # keras.applications' MobileNetV2 expects [-1, 1] (its preprocess_input), inside the model.
    x = layers.Rescaling(2.0, offset=-1.0, name="enc_rescale")(inputs)
    *skips, x = mobilenet_v2_features(backbone_alpha, backbone_weights, bn_momentum)(x)
    x = squeeze_excite(x, name="enc_context")  # [B, H/32, W/32, 1280]
    for level in reversed(range(len(skips))):
        x = up_light(x, skips[level], filters[level], name=f"dec{level}", **options)
    logits = layers.Conv2D(1, 1, dtype="float32", name="head")(x)  # [B, H/2, W/2, 1]
    logits = ResizeLike(dtype="float32", name="head_resize")(logits, inputs)
    outputs = layers.Activation("sigmoid", dtype="float32", name="sigmoid")(logits)
    return keras.Model(inputs, outputs, name="coarse")


# -- refinement net --------------------------------------------------------------------------------


def build_fine_fast(
    *,
    filters: Sequence[int] = (16, 32, 64, 96),
    blocks: Sequence[int] = (0, 1, 2, 2),
    expansion: int = 4,
    separable: bool = True,
    bn_momentum: float = 0.9,
    guide_radius: int = 1,
    guide_hidden: int = 16,
    residual: bool = True,
) -> keras.Model:
    """Refinement net: ``[B, H, W, 4]`` image + coarse mask -> ``[B, H, W, 1]`` alpha.

    ``filters``: widths at 1/4, 1/8, 1/16 ...; ``blocks``: inverted residuals (``expansion``) at each
    of those levels (an int: the same at each); ``guide_radius`` / ``guide_hidden``: the guided
    filter's box radius (in 1/4-resolution pixels) and hidden width. With ``residual`` the guided
    filter starts from the mask (its ``pass_through``) and the output is ``clip(mask + correction,
    0, 1)``: at initialisation the mask itself, at full resolution; without, ``sigmoid(filter)``."""
    filters = _check_widths("model.fine", filters)
    blocks = [int(blocks)] * len(filters) if isinstance(blocks, int) else [int(b) for b in blocks]
    if len(blocks) != len(filters) or min(blocks) < 0 or min(blocks[1:]) < 1:
        raise ConfigError(
            f"model.fine: blocks must give a count per level of filters {filters}, got {blocks}"
        )
    options = {"separable": separable, "bn_momentum": bn_momentum}

    inputs = keras.Input((None, None, 4), name="inputs")
    # Full resolution -> 1/4 in one 4x4 conv, stride 4: the only layer of the encoder at full size.
    x = layers.Conv2D(filters[0], 4, strides=4, padding="same", use_bias=False, name="enc0_conv")(inputs)
    x = layers.BatchNormalization(momentum=bn_momentum, name="enc0_bn")(x)
    x = layers.ReLU(6.0, name="enc0_relu")(x)
    skips = []
    # 1/4 and below: the heavy work, in inverted residuals.
    for level, (width, count) in enumerate(zip(filters, blocks, strict=True)):
        for block in range(count):
            stride = 2 if level > 0 and block == 0 else 1
            x = inverted_residual(
                x, width, expansion=expansion, stride=stride, bn_momentum=bn_momentum,
                name=f"enc{level}_{block}",
            )  # fmt: skip
        skips.append(x)
    x = squeeze_excite(skips.pop(), name="enc_context")  # global context at the deepest level
    for level in reversed(range(len(skips))):
        x = up_light(x, skips[level], filters[level], name=f"dec{level}", **options)
    # Back to full resolution along the edges of the input: the guide is the image and the mask
    # as they come (slicing the image out of the input would cost a full-resolution copy).
    head_init = "zeros" if residual else "glorot_uniform"
    logits = layers.Conv2D(1, 1, kernel_initializer=head_init, name="head")(x)  # [B, H/4, W/4, 1]
    out = guided_upsample(
        logits,
        x,
        inputs,
        radius=guide_radius,
        hidden=guide_hidden,
        bn_momentum=bn_momentum,
        name="guide",
        pass_through=residual,
    )  # [B, H, W, 1] fmt: skip
    if residual:  # alpha itself: the mask plus a correction, no logit or sigmoid at full size
        outputs = UnitClip(dtype="float32", name="clip")(out)
    else:
        outputs = layers.Activation("sigmoid", dtype="float32", name="sigmoid")(out)
    return keras.Model(inputs, outputs, name="fine")

"""Training augmentation with albumentations, run inside tf.data.

Geometric transforms (flip, scale and crop) move the image, the alpha and the coarse mask together,
the masks resampled bilinearly (an alpha matte is not a label map); photometric ones (colour
jitter, blur, noise, JPEG re-compression) touch the image only.
"""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
import tensorflow as tf

from matting.data.features import ALPHA, COARSE, IMAGE
from matting.errors import ConfigError


def build_augmentation(
    *,
    flip: float = 0.5,
    crop: float = 0.5,
    crop_scale=(0.6, 1.0),
    colour: float = 0.5,
    blur: float = 0.1,
    noise: float = 0.1,
    jpeg: float = 0.2,
) -> A.Compose:
    """The augmentation; each argument but ``crop_scale`` is the probability of one transform."""
    for name, p in {"flip": flip, "crop": crop, "colour": colour, "blur": blur, "noise": noise,
                    "jpeg": jpeg}.items():  # fmt: skip
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"train.input.augment.{name} is a probability in [0, 1], got {p}")
    return A.Compose(
        [
            A.HorizontalFlip(p=flip),
            A.Affine(
                scale=(1.0, 1.0 / crop_scale[0]),
                keep_ratio=True,
                p=crop,
                interpolation=cv2.INTER_LINEAR,
                mask_interpolation=cv2.INTER_LINEAR,
            ),  # fmt: skip
            A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.03, p=colour),
            A.GaussianBlur(blur_limit=(3, 5), p=blur),
            A.GaussNoise(std_range=(0.01, 0.04), p=noise),
            A.ImageCompression(quality_range=(50, 95), p=jpeg),
        ],
        additional_targets={"alpha": "mask", "coarse": "mask"},
    )


def augment_arrays(transform: A.Compose, image, alpha, coarse):
    """Apply ``transform`` to uint8 ``image`` [H, W, 3], ``alpha`` and ``coarse`` [H, W]."""
    out = transform(image=image, alpha=alpha, coarse=coarse)
    return out["image"], out["alpha"], out["coarse"]


def tf_augment(transform: A.Compose):
    """A ``tf.data`` map function applying ``transform`` to a parsed example (float in [0, 1])."""

    def apply(image, alpha, coarse):
        to_u8 = lambda x: np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)  # noqa: E731
        image, alpha, coarse = augment_arrays(
            transform, to_u8(image), to_u8(alpha[..., 0]), to_u8(coarse[..., 0])
        )
        return (image.astype(np.float32) / 255.0, alpha[..., None].astype(np.float32) / 255.0,
                coarse[..., None].astype(np.float32) / 255.0)  # fmt: skip

    def augment(example: dict) -> dict:
        image, alpha, coarse = tf.numpy_function(
            apply, [example[IMAGE], example[ALPHA], example[COARSE]], [tf.float32] * 3, stateful=True
        )
        shape = tf.shape(example[IMAGE])
        example[IMAGE] = tf.reshape(image, shape)
        example[ALPHA] = tf.reshape(alpha, tf.concat([shape[:2], [1]], 0))
        example[COARSE] = tf.reshape(coarse, tf.concat([shape[:2], [1]], 0))
        return example

    return augment

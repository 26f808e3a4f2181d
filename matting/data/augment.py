"""Training augmentation with albumentations, run inside tf.data.

Geometric transforms (flip, scale and crop) move the image, the alpha, the coarse mask and the
foreground and background layers (when the records hold them) together, the masks resampled
bilinearly (an alpha matte is not a label map); photometric ones (colour jitter, blur, noise, JPEG
re-compression) touch the image only: the layers keep their true colours for the compositional loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import albumentations as A
import cv2
import numpy as np
import tensorflow as tf

from matting.data.features import ALPHA, BACKGROUND, COARSE, FOREGROUND, IMAGE
from matting.errors import ConfigError
from matting.io.codecs import to_uint8


@dataclass(frozen=True)
class Augmentation:
    """Two albumentations pipelines: ``geometric`` for every target, ``photometric`` for the image."""

    geometric: A.Compose
    photometric: A.Compose


def build_augmentation(
    *,
    flip: float = 0.5,
    crop: float = 0.5,
    crop_scale=(0.6, 1.0),
    colour: float = 0.5,
    blur: float = 0.1,
    noise: float = 0.1,
    jpeg: float = 0.2,
) -> Augmentation:
    """The augmentation; each argument but ``crop_scale`` is the probability of one transform."""
    for name, p in {"flip": flip, "crop": crop, "colour": colour, "blur": blur, "noise": noise,
                    "jpeg": jpeg}.items():  # fmt: skip
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"train.input.augment.{name} is a probability in [0, 1], got {p}")
    geometric = A.Compose(
        [
            A.HorizontalFlip(p=flip),
            A.Affine(
                scale=(1.0, 1.0 / crop_scale[0]),
                keep_ratio=True,
                p=crop,
                interpolation=cv2.INTER_LINEAR,
                mask_interpolation=cv2.INTER_LINEAR,
            ),  # fmt: skip
        ],
        additional_targets={"alpha": "mask", "coarse": "mask", "fg": "image", "bg": "image"},
    )
    photometric = A.Compose(
        [
            A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.03, p=colour),
            A.GaussianBlur(blur_limit=(3, 5), p=blur),
            A.GaussNoise(std_range=(0.01, 0.04), p=noise),
            A.ImageCompression(quality_range=(50, 95), p=jpeg),
        ]
    )
    return Augmentation(geometric, photometric)


def augment_arrays(transform: Augmentation, image, alpha, coarse, layers=None):
    """Apply ``transform`` to uint8 ``image`` [H, W, 3], ``alpha`` and ``coarse`` [H, W], and the
    optional ``layers`` (foreground, background [H, W, 3]); returns them in the same order."""
    extra = {"fg": layers[0], "bg": layers[1]} if layers is not None else {}
    moved = transform.geometric(image=image, alpha=alpha, coarse=coarse, **extra)
    out = (transform.photometric(image=moved["image"])["image"], moved["alpha"], moved["coarse"])
    return out if layers is None else (*out, (moved["fg"], moved["bg"]))


def tf_augment(transform: Augmentation):
    """A ``tf.data`` map function applying ``transform`` to a parsed example (float in [0, 1]),
    its layers too when it holds them."""
    to_float = lambda x: x.astype(np.float32) / 255.0  # noqa: E731

    def apply(image, alpha, coarse, *layers):
        out = augment_arrays(
            transform, to_uint8(image), to_uint8(alpha[..., 0]), to_uint8(coarse[..., 0]),
            tuple(to_uint8(layer) for layer in layers) if layers else None,
        )  # fmt: skip
        moved_layers = out[3] if layers else ()
        return (to_float(out[0]), to_float(out[1])[..., None], to_float(out[2])[..., None],
                *(to_float(layer) for layer in moved_layers))  # fmt: skip

    def augment(example: dict) -> dict:
        keys = [IMAGE, ALPHA, COARSE] + [k for k in (FOREGROUND, BACKGROUND) if k in example]
        outputs = tf.numpy_function(
            apply, [example[k] for k in keys], [tf.float32] * len(keys), stateful=True
        )
        shape = tf.shape(example[IMAGE])
        mask_shape = tf.concat([shape[:2], [1]], 0)
        for key, value in zip(keys, outputs, strict=True):
            example[key] = tf.reshape(value, mask_shape if key in (ALPHA, COARSE) else shape)
        return example

    return augment

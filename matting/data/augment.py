"""Training augmentation (numpy, OpenCV and albumentations), run inside tf.data.

The steps, in order (:func:`augment_arrays`):

1. **Geometry**, every target together: a horizontal flip, then one affine warp of a random crop
   window (zoom in or out, anywhere in the frame) and a small rotation. The masks are resampled
   bilinearly (an alpha matte is not a label map) and padded with 0: what the window adds past the
   record is background. The image is padded with black, plain background as the alpha's 0 says:
   reflecting it would mirror the person where the alpha says background. The background layer is
   padded by reflection (scenery where black would be a frame no photo has; a re-composite shows
   it) and the foreground layer with the background, as the records store it outside the person.
   One warp for window and rotation: a second bilinear resample would soften the hair again.
2. **Re-composite** (records with layers only, see :mod:`matting.data.features`): the foreground and
   the background get their own colour jitter, the background a Gaussian blur (depth of field), and
   the image is made again, ``alpha * fg' + (1 - alpha) * bg'``: new pairings of the person's and
   the scene's colours each epoch, and the scene out of focus behind a sharp person as in a portrait
   photo (a pasted background is as sharp as the person). The jittered layers are returned: the
   compositional loss weighs ``(pred - alpha) * (fg' - bg')``, by the contrast of the image the net
   sees. A record whose two layers are equal (a real photo, stored with ``fg = bg = image``) is not
   re-composited: jittering its two copies apart would paste the photo onto itself. The geometry
   still moves it and its layers, which stay equal (no compositional loss on it).
3. **Camera**, on the whole image: motion blur (the alpha blurred by the same kernel: a shaken
   camera smears the outline the matte follows), colour jitter, grayscale, Gaussian blur, sensor
   noise and JPEG re-compression. These touch the image only (the alpha too for motion blur): the
   layers keep the colours of step 2.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import albumentations as A
import cv2
import numpy as np
import tensorflow as tf

from matting.data.features import ALPHA, BACKGROUND, COARSE, FOREGROUND, IMAGE
from matting.errors import ConfigError
from matting.io.codecs import to_uint8

# One colour jitter for the whole image and for each layer of a re-composite.
JITTER = {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "hue": 0.03}


@dataclass(frozen=True)
class Augmentation:
    """What :func:`build_augmentation` returns: the settings of the geometry, drawn from ``rng``;
    the layers' jitters (``foreground``, ``background``: None when nothing re-composites); the
    camera's transforms: ``motion`` (image and alpha) and ``photometric`` (image)."""

    rng: np.random.Generator
    flip: float
    crop: float
    crop_scale: tuple[float, float]
    rotate: float
    rotate_limit: float
    foreground: A.Compose | None
    background: A.Compose | None
    motion: A.Compose
    photometric: A.Compose

    @property
    def recomposites(self) -> bool:
        """Whether records with layers have their image made again from jittered layers."""
        return self.foreground is not None

    def warp_matrix(self, height: int, width: int) -> np.ndarray | None:
        """A random 2x3 affine matrix (record -> output pixels), or None when neither the crop
        window nor the rotation was drawn.

        The window's side is ``s`` times the record's (log-uniform in ``crop_scale``): below 1 it
        lies inside the record (zoom in), above 1 the record lies inside it (zoom out, padded); its
        centre is uniform over the positions that keep one inside the other."""
        rng, centre = self.rng, np.array([(width - 1) / 2, (height - 1) / 2])
        side, shift, angle = 1.0, np.zeros(2), 0.0
        if rng.random() < self.crop:
            side = math.exp(rng.uniform(math.log(self.crop_scale[0]), math.log(self.crop_scale[1])))
            # Pixel centres: the window's outer pixel centres at most reach the record's.
            shift = rng.uniform(-1.0, 1.0, 2) * abs(1.0 - side) / 2 * np.array([width - 1, height - 1])
        if rng.random() < self.rotate:
            angle = rng.uniform(-self.rotate_limit, self.rotate_limit)
        if side == 1.0 and angle == 0.0:
            return None
        # Zoom by 1 / side and rotate about the window's centre, which lands on the output's.
        matrix = cv2.getRotationMatrix2D(tuple(centre + shift), angle, 1.0 / side)
        matrix[:, 2] -= shift
        return matrix


def _check_probability(name: str, value) -> None:
    if not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"train.input.augment.{name} is a probability in [0, 1], got {value!r}")


def _check_range(name: str, value, what: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        low = high = math.nan
    if not 0.0 < low <= high:
        raise ConfigError(
            f"train.input.augment.{name} is [min, max] with 0 < min <= max ({what}), got {value!r}"
        )
    return low, high


def build_augmentation(
    *,
    flip: float = 0.5,
    crop: float = 0.5,
    crop_scale=(0.6, 1.5),
    rotate: float = 0.3,
    rotate_limit: float = 5.0,
    fg_colour: float = 0.5,
    bg_colour: float = 0.5,
    bg_blur: float = 0.3,
    bg_blur_sigma=(1.0, 4.0),
    motion_blur: float = 0.1,
    colour: float = 0.5,
    grayscale: float = 0.05,
    blur: float = 0.1,
    noise: float = 0.1,
    jpeg: float = 0.2,
    seed: int | None = None,
) -> Augmentation:
    """The augmentation (see the module's docstring for the order). Probabilities of one transform
    each: ``flip``, ``crop`` (a random window whose side is ``crop_scale`` [min, max] times the
    record's: below 1 zooms in, above 1 out), ``rotate`` (up to ``rotate_limit`` degrees either
    way), ``fg_colour`` and ``bg_colour`` (each layer's own colour jitter), ``bg_blur`` (the
    background layer's, sigma in ``bg_blur_sigma`` pixels of the record), then the whole image's
    ``motion_blur``, ``colour``, ``grayscale``, ``blur``, ``noise`` and ``jpeg``. With all of
    ``fg_colour``, ``bg_colour`` and ``bg_blur`` 0, nothing re-composites. ``seed``: the draws
    repeat (tests); None, fresh ones."""
    probabilities = {"flip": flip, "crop": crop, "rotate": rotate, "fg_colour": fg_colour,
                     "bg_colour": bg_colour, "bg_blur": bg_blur, "motion_blur": motion_blur,
                     "colour": colour, "grayscale": grayscale, "blur": blur, "noise": noise,
                     "jpeg": jpeg}  # fmt: skip
    for name, p in probabilities.items():
        _check_probability(name, p)
    crop_scale = _check_range("crop_scale", crop_scale, "the window's side over the record's")
    bg_blur_sigma = _check_range("bg_blur_sigma", bg_blur_sigma, "pixels")
    if not isinstance(rotate_limit, numbers.Real) or not 0.0 <= rotate_limit <= 180.0:
        raise ConfigError(f"train.input.augment.rotate_limit is degrees in [0, 180], got {rotate_limit!r}")

    def compose(transforms, seed_offset, **kwargs):
        return A.Compose(transforms, seed=None if seed is None else seed + seed_offset, **kwargs)

    foreground = background = None
    if fg_colour or bg_colour or bg_blur:
        foreground = compose([A.ColorJitter(**JITTER, p=fg_colour)], 1)
        background = compose(
            [
                A.ColorJitter(**JITTER, p=bg_colour),
                A.GaussianBlur(blur_limit=0, sigma_limit=bg_blur_sigma, p=bg_blur),
            ],
            2,
        )
    # Kernel lines of 3-9 pixels, centred: the image and its alpha smear alike and do not move.
    motion = compose(
        [A.MotionBlur(blur_limit=(3, 9), allow_shifted=False, p=motion_blur)], 3,
        additional_targets={"alpha": "image"},
    )  # fmt: skip
    photometric = compose(
        [
            A.ColorJitter(**JITTER, p=colour),
            A.ToGray(num_output_channels=3, p=grayscale),
            A.GaussianBlur(blur_limit=(3, 5), p=blur),
            A.GaussNoise(std_range=(0.01, 0.04), p=noise),
            A.ImageCompression(quality_range=(50, 95), p=jpeg),
        ],
        4,
    )
    return Augmentation(
        np.random.default_rng(seed), flip, crop, crop_scale, rotate, float(rotate_limit),
        foreground, background, motion, photometric,
    )  # fmt: skip


def recomposites(augment: dict | None) -> bool:
    """Whether ``augment`` (:func:`build_augmentation`'s arguments, None: no augmentation) makes the
    images of records with layers again: whether the layers are worth parsing for it."""
    return augment is not None and build_augmentation(**augment).recomposites


def _warp(matrix: np.ndarray, array: np.ndarray, border: int, dst: np.ndarray | None = None) -> np.ndarray:
    height, width = array.shape[:2]
    return cv2.warpAffine(array, matrix, (width, height), dst=dst, flags=cv2.INTER_LINEAR,
                          borderMode=border, borderValue=0)  # fmt: skip


def augment_arrays(transform: Augmentation, image, alpha, coarse, layers=None):
    """Apply ``transform`` to uint8 ``image`` [H, W, 3], ``alpha`` and ``coarse`` [H, W], and the
    optional ``layers`` (foreground, background [H, W, 3]); returns them in the same order."""
    fg, bg = layers if layers is not None else (None, None)
    # A photo stored as its own two layers stays a photo (its layers still move with it, equal).
    photo = layers is not None and np.array_equal(fg, bg)
    recomposite = transform.recomposites and layers is not None and not photo

    # 1. Geometry: flip, then one warp; the image only when step 2 does not make it again.
    if transform.rng.random() < transform.flip:
        image, alpha, coarse = image[:, ::-1], alpha[:, ::-1], coarse[:, ::-1]
        fg, bg = (None, None) if layers is None else (fg[:, ::-1], bg[:, ::-1])
    matrix = transform.warp_matrix(*alpha.shape[:2])
    if matrix is not None:
        alpha, coarse = (_warp(matrix, mask, cv2.BORDER_CONSTANT) for mask in (alpha, coarse))
        if not recomposite:
            image = _warp(matrix, image, cv2.BORDER_CONSTANT)
        if layers is not None:
            bg = _warp(matrix, bg, cv2.BORDER_REFLECT_101)
            # Pixels from outside the record keep the destination's: the background, as stored.
            fg = bg if photo else _warp(matrix, fg, cv2.BORDER_TRANSPARENT, dst=bg.copy())

    # 2. Re-composite: each layer its own jitter, then image = alpha * fg' + (1 - alpha) * bg'.
    if recomposite:
        fg = transform.foreground(image=np.ascontiguousarray(fg))["image"]
        bg = transform.background(image=np.ascontiguousarray(bg))["image"]
        weight = alpha.astype(np.float32) / 255.0
        image = cv2.blendLinear(fg, bg, weight, 1.0 - weight)

    # 3. Camera: motion blur (image and alpha alike), then the image's colour, blur, noise, JPEG.
    blurred = transform.motion(image=np.ascontiguousarray(image), alpha=np.ascontiguousarray(alpha))
    out = (
        transform.photometric(image=blurred["image"])["image"],
        blurred["alpha"],
        np.ascontiguousarray(coarse),
    )
    return out if layers is None else (*out, tuple(np.ascontiguousarray(layer) for layer in (fg, bg)))


def tf_augment(transform: Augmentation):
    """A ``tf.data`` map function applying ``transform`` to a parsed example (float in [0, 1]),
    its layers too when it holds them (and re-compositing from them: see the module's docstring)."""
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

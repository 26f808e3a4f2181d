"""Augmentation keeps image, alpha and coarse mask aligned, eagerly and inside tf.data."""

import numpy as np
import pytest
import tensorflow as tf

from matting.data.augment import augment_arrays, build_augmentation, tf_augment
from matting.data.features import ALPHA, BACKGROUND, COARSE, FOREGROUND, IMAGE
from matting.errors import ConfigError

# Every transform off; the tests turn on the ones they test.
OFF = dict.fromkeys(
    ["flip", "crop", "rotate", "fg_colour", "bg_colour", "bg_blur", "motion_blur", "colour", "grayscale",
     "blur", "noise", "jpeg"],
    0.0,
)  # fmt: skip
# Flip and a zoom-in crop window (no padding); no re-composite.
GEOMETRIC_ONLY = {**OFF, "flip": 1.0, "crop": 1.0, "crop_scale": (0.6, 1.0)}


def pattern(h=64, w=48):
    """An image whose red channel is the alpha itself (an off-centre blob with a soft edge)."""
    yy, xx = np.mgrid[0:h, 0:w]
    alpha = np.clip(1.5 - np.hypot((yy - 40) / 14, (xx - 18) / 10), 0, 1)
    alpha = np.rint(alpha * 255).astype(np.uint8)
    image = np.stack([alpha, 255 - alpha, np.full_like(alpha, 90)], axis=-1)
    return image, alpha, np.where(alpha >= 128, 255, 0).astype(np.uint8)


def test_geometric_transforms_move_image_and_masks_together():
    image, alpha, coarse = pattern()
    transform = build_augmentation(**GEOMETRIC_ONLY)
    for _ in range(10):
        out_image, out_alpha, out_coarse = augment_arrays(transform, image, alpha, coarse)
        assert out_image.shape == image.shape and out_alpha.shape == alpha.shape
        assert not np.array_equal(out_alpha, alpha)  # it did move (flip is certain)
        # Same geometry: the red channel still equals the alpha (to interpolation rounding).
        assert np.abs(out_image[..., 0].astype(int) - out_alpha.astype(int)).max() <= 1
        # The binary mask is resampled bilinearly too: soft at its edge, on the same side as alpha.
        assert out_coarse[out_alpha >= 160].min() >= 128 and out_coarse[out_alpha <= 90].max() < 128


def test_a_zoom_in_window_stays_inside_the_record():
    # No output pixel may read past the record's edge: there the padding would blend in.
    full = np.full((64, 48), 255, np.uint8)
    for seed in range(50):
        transform = build_augmentation(**{**GEOMETRIC_ONLY, "rotate": 0.0}, seed=seed)
        _, out_alpha, _ = augment_arrays(transform, np.dstack([full] * 3), full, full)
        assert out_alpha.min() == 255, f"seed {seed}"


def test_photometric_transforms_leave_the_masks_alone():
    image, alpha, coarse = pattern()
    photometric = {**OFF, "colour": 1.0, "grayscale": 1.0, "blur": 1.0, "noise": 1.0, "jpeg": 1.0}
    out_image, out_alpha, out_coarse = augment_arrays(build_augmentation(**photometric), image, alpha, coarse)
    np.testing.assert_array_equal(out_alpha, alpha)
    np.testing.assert_array_equal(out_coarse, coarse)
    assert not np.array_equal(out_image, image)


def test_inside_tf_data_the_alignment_holds():
    image, alpha, coarse = pattern()
    example = {IMAGE: image / 255.0, ALPHA: alpha[..., None] / 255.0, COARSE: coarse[..., None] / 255.0}
    ds = tf.data.Dataset.from_tensors({k: tf.constant(v, tf.float32) for k, v in example.items()})
    ds = ds.repeat(5).map(tf_augment(build_augmentation(**GEOMETRIC_ONLY)))
    for out in ds:
        assert out[IMAGE].shape == (64, 48, 3) and out[ALPHA].shape == (64, 48, 1)
        red, a = out[IMAGE].numpy()[..., 0], out[ALPHA].numpy()[..., 0]
        assert np.abs(red - a).max() <= 1.5 / 255


def test_probabilities_are_checked():
    with pytest.raises(ConfigError, match="augment.blur"):
        build_augmentation(blur=1.5)


def test_layers_follow_the_geometry_but_keep_their_colours():
    image, alpha, coarse = pattern()
    background = np.full_like(image, 40)
    for seed, options in enumerate([GEOMETRIC_ONLY] * 20 + [{**GEOMETRIC_ONLY, "colour": 1.0, "noise": 1.0}]):
        transform = build_augmentation(**options, seed=seed)
        out_image, out_alpha, _, (fg, bg) = augment_arrays(
            transform, image, alpha, coarse, (image, background)
        )
        # The foreground layer moved exactly as the alpha did (its red channel is the alpha) ...
        assert np.abs(fg[..., 0].astype(int) - out_alpha.astype(int)).max() <= 1
        # ... and photometric changes touched the image only.
        assert np.array_equal(np.unique(bg), [40])
    assert not np.array_equal(out_image, fg)  # jittered and noisy
    ds = tf.data.Dataset.from_tensors(
        {IMAGE: image / 255.0, ALPHA: alpha[..., None] / 255.0, COARSE: coarse[..., None] / 255.0,
         FOREGROUND: image / 255.0, BACKGROUND: background / 255.0}
    ).map(lambda e: {k: tf.cast(v, tf.float32) for k, v in e.items()})  # fmt: skip
    out = next(iter(ds.map(tf_augment(build_augmentation(**GEOMETRIC_ONLY)))))
    assert out[FOREGROUND].shape == (64, 48, 3)
    assert np.abs(out[FOREGROUND].numpy()[..., 0] - out[ALPHA].numpy()[..., 0]).max() <= 1.5 / 255

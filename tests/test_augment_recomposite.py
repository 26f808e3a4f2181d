"""Composites that look like photos: the re-composite from jittered layers, a photo left a photo,
the window zooming both ways, rotation, grayscale and motion blur; the settings checked; a stage
parsing the layers when the augmentation re-composites and the shards hold them."""

import numpy as np
import pytest
import tensorflow as tf

from matting.data import stages
from matting.data.augment import augment_arrays, build_augmentation, tf_augment
from matting.data.features import ALPHA, BACKGROUND, COARSE, FOREGROUND, IMAGE, encode_example
from matting.data.pipeline import split_files
from matting.errors import ConfigError

OFF = dict.fromkeys(
    ["flip", "crop", "rotate", "fg_colour", "bg_colour", "bg_blur", "motion_blur", "colour", "grayscale",
     "blur", "noise", "jpeg"],
    0.0,
)  # fmt: skip
RECOMPOSITE = {**OFF, "fg_colour": 1.0, "bg_colour": 1.0, "bg_blur": 1.0}


def layered(h=48, w=40, seed=0):
    """A textured foreground and background, an alpha with a person block, a soft band and
    background; the image their composite. uint8."""
    rng = np.random.default_rng(seed)
    fg = rng.integers(90, 230, (h, w, 3), dtype=np.uint8)
    bg = rng.integers(20, 160, (h, w, 3), dtype=np.uint8)
    alpha = np.zeros((h, w), np.uint8)
    alpha[10:30, 10:28] = 255
    alpha[30:36, 10:28] = 128
    weight = alpha[..., None] / 255.0
    image = np.rint(weight * fg + (1 - weight) * bg).astype(np.uint8)
    return image, alpha, np.where(alpha > 127, 255, 0).astype(np.uint8), fg, bg


def composite_error(image, alpha, fg, bg) -> float:
    """max |image - (alpha * fg + (1 - alpha) * bg)|, in the arrays' units."""
    weight = alpha.astype(np.float64)[..., None] / (255.0 if alpha.dtype == np.uint8 else 1.0)
    return float(np.abs(image.astype(np.float64) - (weight * fg + (1 - weight) * bg)).max())


def test_the_image_is_the_composite_of_the_returned_layers():
    image, alpha, coarse, fg, bg = layered()
    transform = build_augmentation(**{**RECOMPOSITE, "flip": 0.5, "crop": 1.0, "rotate": 1.0}, seed=0)
    for _ in range(5):
        out_image, out_alpha, _, (out_fg, out_bg) = augment_arrays(transform, image, alpha, coarse, (fg, bg))
        assert composite_error(out_image, out_alpha, out_fg, out_bg) <= 0.5 + 1e-6  # uint8 rounding
        assert not np.array_equal(out_bg, bg)
    # Inside tf.data, in floats, with the layers the example carries on.
    example = {
        IMAGE: image,
        ALPHA: alpha[..., None],
        COARSE: coarse[..., None],
        FOREGROUND: fg,
        BACKGROUND: bg,
    }
    ds = tf.data.Dataset.from_tensors({k: tf.constant(v / 255.0, tf.float32) for k, v in example.items()})
    for out in ds.repeat(3).map(tf_augment(build_augmentation(**{**RECOMPOSITE, "crop": 1.0}, seed=1))):
        got = {k: out[k].numpy() for k in example}
        assert composite_error(got[IMAGE], got[ALPHA][..., 0], got[FOREGROUND], got[BACKGROUND]) <= 0.51 / 255


def test_each_layer_shows_only_where_the_alpha_puts_it():
    image, alpha, coarse, fg, bg = layered()
    person, scene = alpha == 255, alpha == 0
    # The foreground's jitter alone: the person changes, the scene stays the stored background.
    out_image, _, _, (out_fg, out_bg) = augment_arrays(
        build_augmentation(**{**OFF, "fg_colour": 1.0}, seed=0), image, alpha, coarse, (fg, bg)
    )
    np.testing.assert_array_equal(out_image[scene], bg[scene])
    np.testing.assert_array_equal(out_image[person], out_fg[person])
    assert not np.array_equal(out_fg[person], fg[person]) and np.array_equal(out_bg, bg)
    # The background's jitter and blur alone: the other way round.
    out_image, _, _, (out_fg, out_bg) = augment_arrays(
        build_augmentation(**{**OFF, "bg_colour": 1.0, "bg_blur": 1.0}, seed=0),
        image,
        alpha,
        coarse,
        (fg, bg),
    )
    np.testing.assert_array_equal(out_image[person], fg[person])
    np.testing.assert_array_equal(out_image[scene], out_bg[scene])
    assert not np.array_equal(out_bg[scene], bg[scene]) and np.array_equal(out_fg, fg)


def test_a_photo_stored_as_its_own_layers_stays_a_photo():
    photo, alpha, coarse, _, _ = layered()
    layers = (photo.copy(), photo.copy())
    out_image, out_alpha, _, (out_fg, out_bg) = augment_arrays(
        build_augmentation(**RECOMPOSITE, seed=0), photo, alpha, coarse, layers
    )
    np.testing.assert_array_equal(out_image, photo)  # not jittered apart and pasted onto itself
    np.testing.assert_array_equal(out_fg, out_bg)
    # With the geometry too: the same image as with no re-composite at all, layers still equal
    # (foreground - background = 0: no compositional loss on a photo).
    geometry = {"flip": 0.5, "crop": 1.0, "rotate": 1.0}
    for seed in range(3):
        moved = augment_arrays(
            build_augmentation(**{**RECOMPOSITE, **geometry}, seed=seed), photo, alpha, coarse, layers
        )
        plain = augment_arrays(
            build_augmentation(**{**OFF, **geometry}, seed=seed), photo, alpha, coarse, layers
        )
        np.testing.assert_array_equal(moved[0], plain[0])
        np.testing.assert_array_equal(moved[3][0], moved[3][1])


def test_rotation_turns_image_and_alpha_together():
    h, w = 48, 40
    alpha = np.zeros((h, w), np.uint8)
    alpha[14:34, 10:30] = 255  # a white square
    image = np.repeat(alpha[..., None], 3, axis=-1)
    transform = build_augmentation(**{**OFF, "rotate": 1.0, "rotate_limit": 30.0}, seed=0)
    widths = []
    for _ in range(5):
        out_image, out_alpha, out_coarse = augment_arrays(transform, image, alpha, alpha)
        assert np.abs(out_image.astype(int) - out_alpha[..., None].astype(int)).max() <= 1
        assert np.array_equal(out_coarse, out_alpha)
        cols = np.flatnonzero((out_alpha > 127).any(axis=0))
        widths.append(cols.max() - cols.min() + 1)
    assert max(widths) >= 24  # a turned square is wider than its 20-pixel side


def test_the_window_zooms_out_with_padding():
    image, alpha, coarse, fg, bg = layered()
    zoom_out = {**OFF, "crop": 1.0, "crop_scale": (1.5, 1.5)}
    for seed in range(3):
        out_image, out_alpha, out_coarse, (out_fg, out_bg) = augment_arrays(
            build_augmentation(**zoom_out, seed=seed), image, alpha, coarse, (fg, bg)
        )
        # The person is 1 / 1.5 the size (the record lies inside the window: nothing leaves).
        assert abs(out_alpha.sum(dtype=float) / alpha.sum(dtype=float) - 1 / 1.5**2) < 0.05
        outside = (out_image == 0).all(axis=-1)  # no re-composite: black where the window passed the record
        assert outside.mean() > 0.3
        assert out_alpha[outside].max() == 0 and out_coarse[outside].max() == 0
        assert out_bg[outside].min() >= 20  # reflected scenery, not black
        np.testing.assert_array_equal(out_fg[outside], out_bg[outside])  # as the records store it
    # Re-composited, the margin shows the reflected background.
    out_image, out_alpha, _, (out_fg, out_bg) = augment_arrays(
        build_augmentation(**{**RECOMPOSITE, "crop": 1.0, "crop_scale": (1.5, 1.5)}, seed=0),
        image,
        alpha,
        coarse,
        (fg, bg),
    )
    assert (out_image > 0).any(axis=-1).all()
    assert composite_error(out_image, out_alpha, out_fg, out_bg) <= 0.5 + 1e-6


def test_grayscale_and_motion_blur():
    image, alpha, coarse, _, _ = layered()
    out_image, out_alpha, _ = augment_arrays(
        build_augmentation(**{**OFF, "grayscale": 1.0}), image, alpha, coarse
    )
    assert (out_image == out_image[..., :1]).all()  # R = G = B
    np.testing.assert_array_equal(out_alpha, alpha)
    # Motion blur smears the image and its alpha by one kernel: a red channel equal to the alpha stays so.
    image = np.stack([alpha, 255 - alpha, np.full_like(alpha, 90)], axis=-1)
    transform = build_augmentation(**{**OFF, "motion_blur": 1.0}, seed=0)
    for _ in range(3):
        out_image, out_alpha, out_coarse = augment_arrays(transform, image, alpha, coarse)
        assert not np.array_equal(out_alpha, alpha)
        assert np.abs(out_image[..., 0].astype(int) - out_alpha.astype(int)).max() <= 1
        np.testing.assert_array_equal(out_coarse, coarse)


@pytest.mark.parametrize(
    ("key", "value"),
    [("grayscale", 1.5), ("fg_colour", -0.1), ("bg_blur", "often"), ("rotate", None),
     ("crop_scale", [0.0, 1.0]), ("crop_scale", [1.5, 0.6]), ("bg_blur_sigma", [4.0, 1.0]),
     ("bg_blur_sigma", 2.0), ("rotate_limit", 200)],
)  # fmt: skip
def test_bad_settings_name_their_key(key, value):
    with pytest.raises(ConfigError, match=rf"train\.input\.augment\.{key}\b"):
        build_augmentation(**{key: value})


def test_a_stage_parses_the_layers_to_recomposite_when_its_shards_hold_them(tiny_root, tmp_path, monkeypatch):
    plain = tmp_path / "train-00000-of-00001.tfrecord"
    image, alpha, coarse, _, _ = layered(96, 80)
    with tf.io.TFRecordWriter(str(plain)) as writer:
        for i in range(2):
            writer.write(encode_example(image, alpha, coarse, source="s", sample_id=str(i)))
    asked = []
    make_dataset = stages.make_dataset
    monkeypatch.setattr(
        stages, "make_dataset", lambda *a, **kw: asked.append(kw["with_layers"]) or make_dataset(*a, **kw)
    )
    layered_files = split_files(tiny_root / "data/shards/tiny", "train")
    stage = stages.CoarseStage((32, 32))
    for files in (layered_files, [str(plain)], [*layered_files, str(plain)]):
        inputs, target = next(iter(stage.dataset(files, batch_size=2, shuffle_buffer=4, augment={})))
        assert inputs.shape == (2, 32, 32, 3) and target.shape == (2, 32, 32, 1)
        assert 0.0 <= float(tf.reduce_min(inputs)) and float(tf.reduce_max(inputs)) <= 1.0
    assert asked == [True, False, False]  # re-composite where every shard has layers, quietly not elsewhere
    # No re-composite, no augmentation, or evaluation: no layers to decode.
    stage.dataset(layered_files, augment={"fg_colour": 0.0, "bg_colour": 0.0, "bg_blur": 0.0})
    stage.dataset(layered_files, augment=None)
    stage.dataset(layered_files, training=False, augment={})
    assert asked[3:] == [False, False, False]

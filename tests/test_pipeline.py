"""The tf.data pipelines of both stages and the degraded coarse masks."""

import numpy as np
import pytest
import tensorflow as tf

from matting.data.pipeline import degrade_alpha, make_dataset, read_records, split_files
from matting.errors import ConfigError, DataError


@pytest.mark.parametrize(("stage", "channels"), [("coarse", 3), ("fine", 4)])
def test_batches_have_the_stage_shapes(tiny_root, stage, channels):
    files = split_files(tiny_root / "data/shards/tiny", "train")
    ds = make_dataset(files, stage=stage, size=(48, 40), batch_size=3, coarse_size=(24, 20))
    inputs, target = next(iter(ds))
    assert inputs.shape == (3, 48, 40, channels) and target.shape == (3, 48, 40, 1)
    for t in (inputs, target):
        assert 0.0 <= float(tf.reduce_min(t)) and float(tf.reduce_max(t)) <= 1.0


@pytest.mark.parametrize("stage", ["coarse", "fine"])
def test_evaluation_batches_are_the_same_every_pass(tiny_root, stage):
    files = split_files(tiny_root / "data/shards/tiny", "test")
    ds = make_dataset(files, stage=stage, size=(32, 32), coarse_size=(16, 16), training=False)
    first = [x.numpy() for x, _ in ds]
    second = [x.numpy() for x, _ in ds]
    assert sum(len(b) for b in first) == 6
    for a, b in zip(first, second, strict=True):
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)  # fine: the degraded masks are seeded per record


def test_degraded_mask_stays_near_the_thresholded_alpha():
    alpha = np.zeros((96, 80, 1), np.float32)
    alpha[30:, 20:60] = 1.0  # a block person
    alpha[25:30, 20:60] = 0.5  # a soft top edge
    max_morph, tf_alpha = 0.05, tf.constant(alpha)
    # Bound: the morphology radius plus two cells of the 4x down-up resample.
    radius = int(96 * max_morph) + 8
    inner = alpha[..., 0] == 1.0
    outer = np.zeros_like(inner)
    outer[25 - radius :, 20 - radius : 60 + radius] = True
    core = np.zeros_like(inner)
    core[30 + radius :, 20 + radius : 60 - radius] = True
    for seed in range(20):
        tf.random.set_seed(seed)
        mask = degrade_alpha(tf_alpha, coarse_size=(24, 20), max_morph=max_morph).numpy()[..., 0]
        again = [degrade_alpha(tf_alpha, coarse_size=(24, 20), max_morph=max_morph, seed=[seed, 1])
                 for _ in range(2)]  # fmt: skip
        np.testing.assert_array_equal(again[0], again[1])
        assert mask.shape == (96, 80)
        assert mask[~outer].max() == 0.0  # nothing far outside the person
        assert mask[core].min() == 1.0  # nothing missing deep inside
        assert 0.0 <= mask.min() and mask.max() <= 1.0


def test_bad_arguments(tmp_path):
    with pytest.raises(DataError, match="no such dataset folder"):
        split_files(tmp_path / "missing", "train")
    with pytest.raises(DataError, match="no 'train' shards"):
        split_files(tmp_path, "train")
    with pytest.raises(ConfigError, match="stage"):
        make_dataset(["x"], stage="medium")
    with pytest.raises(ConfigError, match="size"):
        make_dataset(["x"], stage="coarse", size=(-1, 8))


def test_shifts_and_holes_stay_within_their_bounds():
    alpha = np.zeros((96, 80, 1), np.float32)
    alpha[30:, 20:60] = 1.0
    tf_alpha = tf.constant(alpha)
    margin = int(96 * 0.05) + 8  # shift plus two cells of the 4x resample
    outer = np.zeros((96, 80), bool)
    outer[30 - margin :, 20 - margin : 60 + margin] = True
    holes_seen = False
    for seed in range(30):
        settings = {"coarse_size": (24, 20), "threshold_range": (0.5, 0.5), "max_morph": 0.0,
                    "max_shift": 0.05, "hole_probability": 1.0, "max_hole": 0.3}  # fmt: skip
        mask = degrade_alpha(tf_alpha, seed=[seed, 0], **settings).numpy()[..., 0]
        assert mask[~outer].max() == 0.0  # a shift never moves the person further than max_shift
        holes_seen |= bool(mask[40:90, 25:55].min() < 0.5)  # some hole inside the person
    assert holes_seen


def test_coarse_quality_records_get_their_weight(tmp_path):
    from matting.data.features import encode_example

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 32, 3), np.uint8)
    alpha = np.zeros((32, 32), np.uint8)
    alpha[8:, 8:24] = 255
    path = tmp_path / "train-00000-of-00001.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for i, coarse_quality in enumerate([True, False]):
            writer.write(encode_example(image, alpha, alpha, source="s", sample_id=str(i),
                                        coarse_quality=coarse_quality))  # fmt: skip
    ds = make_dataset([str(path)], stage="fine", size=(32, 32), coarse_size=(16, 16), batch_size=2,
                      training=False, coarse_quality_weight=0.25)  # fmt: skip
    inputs, target, weight = next(iter(ds))
    assert inputs.shape == (2, 32, 32, 4)
    np.testing.assert_allclose(weight.numpy(), [0.25, 1.0])


def test_a_trained_coarse_net_can_replace_the_degraded_masks(tiny_root):
    from matting.models import build_coarse_unet
    from matting.ops import resize_bilinear

    files = split_files(tiny_root / "data/shards/tiny", "test")
    net = build_coarse_unet(filters=[4, 8])
    ds = make_dataset(
        files, stage="fine", size=(48, 40), coarse_size=(16, 16), training=False, coarse_model=net
    )
    inputs, _ = next(iter(ds))
    expected = resize_bilinear(net(resize_bilinear(inputs[..., :3], (16, 16)), training=False), (48, 40))
    np.testing.assert_allclose(inputs[..., 3:].numpy(), expected.numpy(), atol=1e-5)


def test_refinement_can_train_on_random_crops(tiny_root):
    files = split_files(tiny_root / "data/shards/tiny", "train")
    ds = make_dataset(files, stage="fine", size=(64, 48), coarse_size=(16, 16), batch_size=2, crop=[32, 24])
    inputs, target = next(iter(ds))
    assert inputs.shape == (2, 32, 24, 4) and target.shape == (2, 32, 24, 1)
    with pytest.raises(ConfigError, match="train.input.crop"):
        make_dataset(files, stage="fine", size=(64, 48), crop=[80, 24])


def test_refinement_targets_carry_foreground_minus_background_for_the_compositional_loss(tiny_root, tmp_path):
    from matting.data.features import encode_example
    from matting.ops import resize_bilinear

    files = split_files(tiny_root / "data/shards/tiny", "val")
    ds = make_dataset(files, stage="fine", size=(48, 40), coarse_size=(16, 16), batch_size=2, training=False,
                      layers=True)  # fmt: skip
    inputs, target = next(iter(ds))
    assert inputs.shape == (2, 48, 40, 4) and target.shape == (2, 48, 40, 4)
    record = next(iter(read_records(files, layers=True)))
    expected = resize_bilinear(record["foreground"], (48, 40)) - resize_bilinear(
        record["background"], (48, 40)
    )
    np.testing.assert_allclose(target[0, ..., 1:].numpy(), expected.numpy(), atol=1e-5)
    np.testing.assert_allclose(
        target[0, ..., :1].numpy(), resize_bilinear(record["alpha"], (48, 40)).numpy(), atol=1e-5
    )
    # Cropped training batches keep the four target channels.
    crops = make_dataset(files, stage="fine", size=(48, 40), batch_size=2, crop=[24, 20], layers=True)
    assert next(iter(crops))[1].shape == (2, 24, 20, 4)

    plain = tmp_path / "train-00000-of-00001.tfrecord"
    with tf.io.TFRecordWriter(str(plain)) as writer:
        blank = np.zeros((8, 8), np.uint8)
        writer.write(encode_example(np.zeros((8, 8, 3), np.uint8), blank, blank, source="s", sample_id="0"))
    with pytest.raises(ConfigError, match="data.build.layers=true"):  # any shard without layers
        make_dataset([*files, str(plain)], stage="fine", size=(8, 8), layers=True)
    with pytest.raises(DataError, match="no shard files"):
        make_dataset([], stage="fine")

"""What an example of each stage is: shapes, degraded coarse masks, crops, the compositional
loss's targets, a coarse net's masks; each stage's net and loss."""

import numpy as np
import pytest
import tensorflow as tf

from matting.data.pipeline import read_records, split_files
from matting.data.stages import CoarseStage, FineStage, degrade_alpha, make_stage, random_crop
from matting.errors import CheckpointError, ConfigError
from matting.losses import alpha_loss, bce_dice_loss
from matting.ops import resize_bilinear

MODEL = {
    "coarse_size": [32, 32],
    "fine_size": [64, 64],
    "coarse": {"filters": [4, 8]},
    "fine": {"filters": [4, 8]},
}
WITH_LAYERS = {"composition_weight": 0.5}


@pytest.mark.parametrize(
    ("stage", "channels"), [(CoarseStage((48, 40)), 3), (FineStage((48, 40), coarse_size=(24, 20)), 4)]
)
def test_batches_have_the_stage_shapes(tiny_root, stage, channels):
    files = split_files(tiny_root / "data/shards/tiny", "train")
    inputs, target = next(iter(stage.dataset(files, batch_size=3)))
    assert inputs.shape == (3, 48, 40, channels) and target.shape == (3, 48, 40, 1)
    for t in (inputs, target):
        assert 0.0 <= float(tf.reduce_min(t)) and float(tf.reduce_max(t)) <= 1.0


@pytest.mark.parametrize("stage", [CoarseStage((32, 32)), FineStage((32, 32), coarse_size=(16, 16))])
def test_evaluation_batches_are_the_same_every_pass(tiny_root, stage):
    files = split_files(tiny_root / "data/shards/tiny", "test")
    ds = stage.dataset(files, training=False)
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


def test_clean_masks_are_the_thresholded_alpha_and_come_at_their_rate():
    alpha = np.zeros((64, 48, 1), np.float32)
    alpha[20:, 10:40] = 0.8
    alpha[15:20, 10:40] = 0.3  # soft edge: below 0.5, so not in the clean mask
    clean = (alpha > 0.5).astype(np.float32)
    options = {"coarse_size": (16, 12), "max_morph": 0.05, "max_shift": 0.05}
    masks = [degrade_alpha(tf.constant(alpha), clean_probability=0.5, seed=[s, 0], **options).numpy()
             for s in range(40)]  # fmt: skip
    exact = [np.array_equal(m, clean) for m in masks]
    assert 8 <= sum(exact) <= 32  # about half of them
    assert not any(np.array_equal(m, clean) for m in (
        degrade_alpha(tf.constant(alpha), seed=[s, 0], **options).numpy() for s in range(10)))  # fmt: skip
    with pytest.raises(ConfigError, match="clean_probability"):
        degrade_alpha(tf.constant(alpha), clean_probability=1.5)


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


def test_a_trained_coarse_net_can_replace_the_degraded_masks(tiny_root, tmp_path):
    from matting.models import build_coarse_unet

    files = split_files(tiny_root / "data/shards/tiny", "test")
    net = build_coarse_unet(filters=[4, 8])
    net.save(tmp_path / "coarse.keras")
    stage = FineStage((48, 40), coarse_size=(16, 16), coarse_predictions=str(tmp_path / "coarse.keras"))
    inputs, _ = next(iter(stage.dataset(files, training=False)))
    expected = resize_bilinear(net(resize_bilinear(inputs[..., :3], (16, 16)), training=False), (48, 40))
    np.testing.assert_allclose(inputs[..., 3:].numpy(), expected.numpy(), atol=1e-5)
    with pytest.raises(CheckpointError, match="no such coarse checkpoint"):
        FineStage((48, 40), coarse_predictions=str(tmp_path / "missing.keras"))


def test_coarse_predictions_can_be_kept_to_some_sources(tiny_root, tmp_path):
    from matting.models import build_coarse_unet

    files = split_files(tiny_root / "data/shards/tiny", "test")
    build_coarse_unet(filters=[4, 8]).save(tmp_path / "coarse.keras")
    options = {"coarse_size": (16, 16), "coarse_predictions": str(tmp_path / "coarse.keras")}

    def masks(stage):
        return np.concatenate([x[..., 3:].numpy() for x, _ in stage.dataset(files, training=False)])

    everywhere = masks(FineStage((48, 40), **options))
    degraded = masks(FineStage((48, 40), coarse_size=(16, 16)))
    assert not np.allclose(everywhere, degraded)
    # The tiny set's one source is "synthetic": its records take the net's masks, others' do not.
    np.testing.assert_allclose(
        masks(FineStage((48, 40), **options, coarse_predictions_sources=["synthetic"])), everywhere, atol=1e-6
    )
    np.testing.assert_array_equal(
        masks(FineStage((48, 40), **options, coarse_predictions_sources=["people"])), degraded
    )
    for sources, extra in (("synthetic", options), ([], options), (["synthetic"], {})):
        with pytest.raises(ConfigError, match="coarse_predictions_sources"):
            FineStage((48, 40), coarse_predictions_sources=sources, **extra)


def test_coarse_predictions_are_made_on_the_whole_frame_then_cropped(tiny_root, tmp_path):
    from matting.models import build_coarse_unet

    files = split_files(tiny_root / "data/shards/tiny", "test")
    build_coarse_unet(filters=[4, 8]).save(tmp_path / "coarse.keras")
    options = {"coarse_size": (16, 16), "coarse_predictions": str(tmp_path / "coarse.keras")}
    frames = [
        x for batch, _ in FineStage((48, 40), **options).dataset(files, training=False) for x in batch.numpy()
    ]
    crops, _ = next(iter(FineStage((48, 40), crop=[32, 24], **options).dataset(files, batch_size=4)))
    for crop in crops.numpy():
        # Where the crop came from: the frame and corner whose image it is, exactly.
        windows = [frame[y : y + 32, x : x + 24] for frame in frames for y in range(17) for x in range(17)]
        window = next(w for w in windows if np.array_equal(w[..., :3], crop[..., :3]))
        np.testing.assert_allclose(crop[..., 3], window[..., 3], atol=1e-6)  # the frame's mask, cropped


def test_refinement_can_train_on_random_crops(tiny_root):
    files = split_files(tiny_root / "data/shards/tiny", "train")
    stage = FineStage((64, 48), coarse_size=(16, 16), crop=[32, 24])
    inputs, target = next(iter(stage.dataset(files, batch_size=2)))
    assert inputs.shape == (2, 32, 24, 4) and target.shape == (2, 32, 24, 1)
    with pytest.raises(ConfigError, match="train.examples.crop"):
        FineStage((64, 48), crop=[80, 24]).dataset(files)


def test_edge_crops_centre_on_soft_alpha_and_stay_inside_the_frame():
    alpha = np.zeros((96, 80), np.float32)
    alpha[:, 60:] = 1.0
    alpha[:6, 58:62] = 0.5  # a few soft pixels, in one corner
    stacked = tf.constant(np.stack([alpha, np.arange(96 * 80, dtype=np.float32).reshape(96, 80)], -1))
    tf.random.set_seed(0)
    for probability, expect_soft in ((1.0, 1.0), (0.0, None)):
        soft = []
        for _ in range(40):
            window = random_crop(stacked, stacked[..., 0], (24, 20), edge_probability=probability).numpy()
            assert window.shape == (24, 20, 2)
            top, left = divmod(int(window[0, 0, 1]), 80)  # each pixel's index: the window's place
            np.testing.assert_array_equal(window[..., 1], stacked[top : top + 24, left : left + 20, 1])
            soft.append(((window[..., 0] > 0) & (window[..., 0] < 1)).any())
        if expect_soft:
            assert np.mean(soft) == expect_soft
        else:  # anywhere: the soft corner is in few random windows
            assert np.mean(soft) < 0.5
    flat = tf.zeros((96, 80, 2))  # no soft pixel: a random window still
    assert random_crop(flat, flat[..., 0], (24, 20), edge_probability=1.0).shape == (24, 20, 2)
    with pytest.raises(ConfigError, match="edge_crop"):
        random_crop(stacked, stacked[..., 0], (24, 20), edge_probability=1.5)


def test_edge_crops_need_crops(tiny_root):
    files = split_files(tiny_root / "data/shards/tiny", "train")
    with pytest.raises(ConfigError, match="needs train.examples.crop"):
        FineStage((64, 48), edge_crop=0.5).dataset(files)
    stage = FineStage((64, 48), coarse_size=(16, 16), crop=[32, 24], edge_crop=0.5)
    inputs, target = next(iter(stage.dataset(files, batch_size=2)))
    assert inputs.shape == (2, 32, 24, 4) and target.shape == (2, 32, 24, 1)


def test_refinement_targets_carry_foreground_minus_background_for_the_compositional_loss(tiny_root, tmp_path):
    from matting.data.features import encode_example

    files = split_files(tiny_root / "data/shards/tiny", "val")
    stage = FineStage((48, 40), loss_weights=WITH_LAYERS, coarse_size=(16, 16))
    assert stage.with_layers and not FineStage((48, 40)).with_layers
    inputs, target = next(iter(stage.dataset(files, batch_size=2, training=False)))
    assert inputs.shape == (2, 48, 40, 4) and target.shape == (2, 48, 40, 4)
    record = next(iter(read_records(files, with_layers=True)))
    expected = resize_bilinear(record["foreground"], (48, 40)) - resize_bilinear(
        record["background"], (48, 40)
    )
    np.testing.assert_allclose(target[0, ..., 1:].numpy(), expected.numpy(), atol=1e-5)
    np.testing.assert_allclose(
        target[0, ..., :1].numpy(), resize_bilinear(record["alpha"], (48, 40)).numpy(), atol=1e-5
    )
    # Cropped training batches keep the four target channels.
    crops = FineStage((48, 40), loss_weights=WITH_LAYERS, crop=[24, 20]).dataset(files, batch_size=2)
    assert next(iter(crops))[1].shape == (2, 24, 20, 4)

    plain = tmp_path / "train-00000-of-00001.tfrecord"
    with tf.io.TFRecordWriter(str(plain)) as writer:
        blank = np.zeros((8, 8), np.uint8)
        writer.write(encode_example(np.zeros((8, 8, 3), np.uint8), blank, blank, source="s", sample_id="0"))
    with pytest.raises(ConfigError, match="data.build.layers=true"):  # any shard without layers
        FineStage((8, 8), loss_weights=WITH_LAYERS).dataset([*files, str(plain)])


def test_make_stage_takes_the_sizes_nets_and_losses_from_the_config():
    coarse = make_stage("coarse", model=MODEL, loss={"dice_weight": 0.5})
    fine = make_stage("fine", model=MODEL, loss={"gradient_weight": 1.0}, crop=[32, 32])
    assert isinstance(coarse, CoarseStage) and isinstance(fine, FineStage)
    assert coarse.size == [32, 32] and fine.size == [64, 64] and fine.coarse_size == [32, 32]
    nets = coarse.build_net(), fine.build_net()
    assert [net.name for net in nets] == ["coarse_unet", "fine_unet"]
    assert [net.input_shape[-1] for net in nets] == [3, 4]
    target = tf.constant((np.random.default_rng(0).random((2, 16, 16, 1)) > 0.5).astype(np.float32))
    pred = tf.fill(target.shape, 0.3)
    np.testing.assert_allclose(coarse.loss(target, pred), bce_dice_loss(target, pred, dice_weight=0.5))
    np.testing.assert_allclose(fine.loss(target, pred), alpha_loss(target, pred, gradient_weight=1.0))
    assert (coarse.loss.__name__, fine.loss.__name__) == ("coarse_loss", "fine_loss")


def test_bad_stage_settings(tiny_root):
    files = split_files(tiny_root / "data/shards/tiny", "val")
    with pytest.raises(ConfigError, match="train.stage"):
        make_stage("medium", model=MODEL)
    with pytest.raises(ConfigError, match=r"\['crop'\] are for the fine stage"):
        make_stage("coarse", model=MODEL, crop=[32, 32])
    with pytest.raises(ConfigError, match="size"):
        CoarseStage((-1, 8)).dataset(files)
    with pytest.raises(ConfigError, match="model.coarse_size"):
        CoarseStage((31, 32), {"filters": [4, 8]}).build_net()  # not a multiple of 2 ** poolings

"""The fast nets (``model=fast``): the U-Nets' contract, serialisation, pretrained backbone weights,
the config dispatch, and every export of a tiny fast pipeline."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import compose_config
from test_export import TOLERANCE

from matting.errors import ConfigError
from matting.export import export, load_pipeline
from matting.inference.pipeline import MattingPipeline
from matting.models import build_coarse, build_fine
from matting.models.blocks import ChannelDot
from matting.models.fast import build_coarse_fast, build_fine_fast, mobilenet_v2_features

# Tiny widths: seconds to build and run.
COARSE = {"filters": [4, 4, 8, 8], "backbone_alpha": 0.35}
FINE = {"filters": [4, 8, 8], "blocks": 1, "expansion": 2, "guide_hidden": 4}


def test_shapes_and_range_at_any_size():
    coarse, fine = build_coarse_fast(**COARSE), build_fine_fast(**FINE)
    rng = np.random.default_rng(0)
    for height, width in ((64, 64), (70, 50)):  # 70 x 50: not a multiple of 32
        mask = coarse(rng.random((2, height, width, 3), dtype=np.float32), training=False).numpy()
        alpha = fine(rng.random((2, height, width, 4), dtype=np.float32), training=False).numpy()
        for y in (mask, alpha):
            assert y.shape == (2, height, width, 1)
            assert y.min() >= 0.0 and y.max() <= 1.0


def test_the_channel_dot_product_is_the_sum_over_channels():
    rng = np.random.default_rng(3)
    a, b = (rng.normal(size=(2, 9, 7, 4)).astype(np.float32) for _ in range(2))
    expected = (a * b).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(ChannelDot()(a, b).numpy(), expected, rtol=1e-5, atol=1e-5)
    # channels unknown until run time (no kernel can be made): the plain sum
    dot = tf.function(ChannelDot(), input_signature=[tf.TensorSpec([None, None, None, None])] * 2)
    np.testing.assert_allclose(dot(a, b).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_models_are_named_for_their_checkpoints():
    # training.fit names checkpoints model.name.removesuffix("_unet"): coarse.keras, fine.keras.
    assert build_coarse_fast(**COARSE).name == "coarse" and build_fine_fast(**FINE).name == "fine"


def test_untrained_residual_refinement_passes_the_mask_through_sharp_edges_included():
    x = np.random.default_rng(2).random((1, 32, 40, 4), dtype=np.float32)
    x[0, :, 19:, 3] = 1.0  # a binary mask with a hard edge, as a true mask > 0.5 gives it
    x[0, :, :19, 3] = 0.0
    y = build_fine_fast(**FINE)(x, training=False)
    np.testing.assert_allclose(y[..., 0], x[..., 3], atol=1e-5)


def test_clipped_output_still_learns_at_zero_and_one():
    # Where the pass-through gives exactly 1 but the truth is 0.7 (hair over a mask's inside), the
    # gradient must reach the weights: a plain clip would block it there.
    fine = build_fine_fast(**FINE)
    x = np.zeros((1, 32, 40, 4), np.float32)
    x[..., 3] = 1.0
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.abs(fine(x, training=True) - 0.7))
    grads = tape.gradient(loss, fine.trainable_variables)
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in grads if g is not None) > 0


@pytest.mark.parametrize("builder", [lambda: build_coarse_fast(**COARSE), lambda: build_fine_fast(**FINE)])
def test_get_config_round_trip_and_keras_save_load(builder, tmp_path):
    model = builder()
    clone = keras.Model.from_config(model.get_config())
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    assert clone.count_params() == model.count_params()
    channels = model.input_shape[-1]
    x = np.random.default_rng(1).random((2, 48, 40, channels), dtype=np.float32)
    model.save(tmp_path / "net.keras")
    loaded = keras.models.load_model(tmp_path / "net.keras", compile=False)  # safe mode
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), atol=1e-6)


def test_the_coarse_encoder_starts_from_a_weights_file(tmp_path):
    # "imagenet" needs a download (none here); a local file goes through the same keras.applications path.
    keras.utils.set_random_seed(3)
    source = mobilenet_v2_features(alpha=0.35)
    path = tmp_path / "mobilenet_v2.weights.h5"
    source.save_weights(path)  # the sub-model holds every weight of the top-less MobileNetV2
    keras.utils.set_random_seed(4)
    net = build_coarse_fast(**{**COARSE, "backbone_weights": str(path)})
    backbone = net.get_layer("enc_backbone")
    fresh = build_coarse_fast(**COARSE).get_layer("enc_backbone")
    assert len(backbone.weights) == len(source.weights) > 100
    for got, want in zip(backbone.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    pairs = zip(fresh.get_weights(), source.get_weights(), strict=True)
    assert not all(np.array_equal(a, b) for a, b in pairs)


def test_config_selects_the_architecture():
    cfg = compose_config("train_fine", ["model=fast"])
    assert build_coarse(**COARSE, arch=cfg.model.coarse.arch).name == "coarse"
    assert build_fine(**FINE, arch=cfg.model.fine.arch).name == "fine"  # the fast net, not "fine_unet"
    assert build_fine(arch="unet", filters=[4, 8]).name == "fine_unet"
    with pytest.raises(ConfigError, match="arch"):
        build_coarse(arch="nope")
    with pytest.raises(ConfigError, match="filters"):
        build_fine_fast(filters=[8])


@pytest.fixture(scope="module")
def fast_pipeline():
    keras.utils.set_random_seed(5)
    fine = build_fine_fast(**FINE)
    # Non-zero guided-filter and head weights, so the export checks more than the mask pass-through.
    rng = np.random.default_rng(6)
    for layer in ("head", "guide_a"):
        fine.get_layer(layer).set_weights(
            [0.3 * rng.standard_normal(w.shape) for w in fine.get_layer(layer).get_weights()]
        )
    return MattingPipeline.from_models(
        build_coarse_fast(**COARSE), fine, coarse_size=(32, 32), fine_size=(64, 64)
    )


@pytest.mark.slow  # four exports and reloads: about 50 s
@pytest.mark.parametrize("format", ["saved_model", "modelscope", "tflite", "onnx"])
def test_a_fast_pipeline_exports_and_reloads(fast_pipeline, tmp_path, format):
    exported = load_pipeline(format, str(export(fast_pipeline.module, str(tmp_path / format), format=format)))
    rng = np.random.default_rng(7)
    for shape in ((96, 80, 3), (77, 131, 3)):
        image = rng.integers(0, 256, shape, np.uint8)
        expected, got = fast_pipeline.predict(image), exported.predict(image)
        assert got.shape == shape[:2]
        assert np.abs(got - expected).max() <= TOLERANCE[format], shape


@pytest.mark.parametrize("upsample", ["bilinear", "guided"])
def test_the_live_pipeline_takes_uint8_into_the_graph_with_the_float_paths_result(fast_pipeline, upsample):
    module = fast_pipeline.module
    pipeline = MattingPipeline.from_models(
        module.coarse, module.fine, coarse_size=(32, 32), fine_size=(64, 64), upsample=upsample
    )
    assert pipeline.uint8  # the images go in as uint8, scaled inside the graph
    image = np.random.default_rng(8).integers(0, 256, (2, 45, 38, 3), np.uint8)
    as_float = pipeline.module(tf.constant(image / np.float32(255.0))).numpy()[..., 0]
    # Equal to float rounding: the uint8 path divides after each resize, the float path before.
    np.testing.assert_allclose(pipeline.predict_batch(image), as_float, atol=1e-5)


def test_the_uint8_graph_resizes_the_photo_without_converting_it_first(fast_pipeline):
    from matting.inference.module import UINT8_SPEC

    matte = tf.function(fast_pipeline.module.matte_uint8, input_signature=[UINT8_SPEC])
    graph = matte.get_concrete_function().graph
    photo = graph.inputs[0].name
    readers = {op.type for op in graph.get_operations() if photo in {t.name for t in op.inputs}}
    assert "ResizeBilinear" in readers and "Cast" not in readers, readers


def test_the_backbone_batch_norms_use_the_configured_momentum():
    net = build_coarse_fast(bn_momentum=0.8)
    backbone = net.get_layer("enc_backbone")
    norms = [layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and {layer.momentum for layer in norms} == {0.8}
    # and it survives a save: the momentum is in the backbone's config
    assert {
        layer["config"]["momentum"]
        for layer in backbone.get_config()["layers"]
        if layer["class_name"] == "BatchNormalization"
    } == {0.8}


def test_the_aspect_frame_feeds_the_refinement_the_image_at_its_own_aspect(fast_pipeline):
    from matting.inference.module import MattingModule
    from matting.ops import aspect_frame, resize_bilinear

    nets = fast_pipeline.module.coarse, fast_pipeline.module.fine
    sizes = {"coarse_size": (32, 32), "fine_size": (64, 64)}
    aspect = MattingModule(*nets, **sizes, fine_frame="aspect")
    image = tf.constant(np.random.default_rng(9).random((1, 40, 100, 3), np.float32))
    frame = aspect_frame(tf.constant([40, 100]), (64, 64), 32)
    assert frame.numpy().tolist() == [32, 96]  # 64x64's pixels, at 100:40 (squeezed: 64:64)
    coarse = nets[0](resize_bilinear(image, (32, 32)))
    refined = nets[1](tf.concat([resize_bilinear(image, frame), resize_bilinear(coarse, frame)], axis=-1))
    expected = resize_bilinear(refined, (40, 100)).numpy()
    np.testing.assert_allclose(aspect.matte(image)["alpha"].numpy(), expected, atol=1e-5)
    squeezed = MattingModule(*nets, **sizes).matte(image)["alpha"].numpy()
    assert np.abs(squeezed - expected).max() > 1e-3
    with pytest.raises(ConfigError, match="fine_frame"):
        MattingModule(*nets, **sizes, fine_frame="stretch")

"""Batch norms folded into their convolutions compute the same function with none left."""

import keras
import numpy as np
import pytest
from keras import layers

from matting.inference.module import MattingModule
from matting.models import build_coarse, build_fine
from matting.models.folding import fold_batch_norms
from matting.ops import resize_bilinear


def randomise(model: keras.Model, seed: int = 0) -> keras.Model:
    """Every weight random (the batch norms' moving statistics too): an untrained net's batch norms
    are near the identity, and a zero-initialised head would hide any error behind it."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        for variable in layer.weights:
            if "variance" in variable.path:
                variable.assign(rng.uniform(0.5, 2.0, variable.shape))
            else:
                variable.assign(rng.normal(0.0, 0.3, variable.shape))
    return model


def batch_norms(model: keras.Model) -> int:
    return sum(isinstance(layer, layers.BatchNormalization) for layer in model._flatten_layers())


def assert_same_function(model, folded, shape, seed=1):
    x = np.random.default_rng(seed).random(shape, dtype=np.float32)
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(folded(x, training=False)), expected, atol=2e-5)


@pytest.mark.parametrize("arch", ["fast", "unet"])
def test_the_nets_fold_every_batch_norm_and_compute_the_same(arch):
    small = {"filters": [4, 8, 8, 16]} if arch == "unet" else {}
    nets = ((build_coarse(arch, **small), (2, 64, 64, 3)), (build_fine(arch, **small), (2, 64, 64, 4)))
    for model, shape in nets:
        model = randomise(model)
        folded = fold_batch_norms(model)
        assert batch_norms(model) > 0 and batch_norms(folded) == 0
        assert_same_function(model, folded, shape)
        assert model.name == folded.name  # the checkpoint names stay


def test_each_kind_of_convolution_and_batch_norm_folds():
    inputs = keras.Input((None, None, 3))
    x = layers.Conv2D(6, 3, padding="same", use_bias=True)(inputs)
    x = layers.BatchNormalization(center=False)(x)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(scale=False)(x)
    x = layers.ReLU()(x)
    x = layers.SeparableConv2D(5, 3, padding="same", depth_multiplier=2)(x)
    outputs = layers.BatchNormalization()(x)
    model = randomise(keras.Model(inputs, outputs))
    folded = fold_batch_norms(model)
    assert batch_norms(folded) == 0
    assert_same_function(model, folded, (2, 16, 12, 3))


def test_what_cannot_fold_stays():
    inputs = keras.Input((None, None, 3))
    shared = layers.Conv2D(4, 3, padding="same")(inputs)  # two consumers: the conv must stay as it is
    a = layers.BatchNormalization(name="after_shared")(shared)
    b = layers.ReLU()(shared)
    activated = layers.Conv2D(4, 1, activation="relu")(layers.Add()([a, b]))  # conv -> ReLU -> BN
    c = layers.BatchNormalization(name="after_activation")(activated)
    d = layers.BatchNormalization(name="after_add")(layers.Add()([c, b]))
    model = randomise(keras.Model(inputs, d))
    folded = fold_batch_norms(model)
    assert batch_norms(folded) == 3
    assert_same_function(model, folded, (1, 8, 8, 3))


def test_the_inference_module_runs_the_folded_nets():
    coarse, fine = randomise(build_coarse("fast")), randomise(build_fine("fast"))
    module = MattingModule(coarse, fine, coarse_size=(64, 48), fine_size=(128, 96))
    assert batch_norms(module.coarse) == batch_norms(module.fine) == 0
    images = np.random.default_rng(2).random((1, 100, 80, 3), dtype=np.float32)
    alpha = module(images).numpy()
    # The same graph with the nets as trained, unfolded.
    mask = coarse(resize_bilinear(images, (64, 48)), training=False)
    fine_in = keras.ops.concatenate(
        [resize_bilinear(images, (128, 96)), resize_bilinear(mask, (128, 96))], axis=-1
    )
    expected = resize_bilinear(fine(fine_in, training=False), (100, 80)).numpy()
    np.testing.assert_allclose(alpha, expected, atol=1e-4)

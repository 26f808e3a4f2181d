"""Losses are zero at the target, positive elsewhere, and weigh what they claim to."""

import numpy as np
import pytest
import tensorflow as tf

from matting import metrics
from matting.losses import (
    alpha_loss,
    bce_dice_loss,
    charbonnier,
    composition_l1,
    gradient_l1,
    laplacian_loss,
    per_image_mse,
    per_image_sad,
)
from matting.training.fit import SAD, training_metrics

rng = np.random.default_rng(0)
TARGET = tf.constant((rng.random((2, 32, 32, 1)) > 0.5).astype(np.float32))
PRED = tf.constant(rng.random((2, 32, 32, 1)).astype(np.float32))


@pytest.mark.parametrize("loss", [gradient_l1, laplacian_loss, lambda t, p: charbonnier(t, p, eps=0.0)])
def test_zero_at_the_target_and_positive_elsewhere(loss):
    assert loss(TARGET, TARGET).shape == (2,)  # one value per image
    np.testing.assert_allclose(loss(TARGET, TARGET), 0.0, atol=1e-6)
    assert (loss(TARGET, PRED).numpy() > 0.0).all()


def test_charbonnier_is_l1_plus_eps_at_zero():
    np.testing.assert_allclose(charbonnier(TARGET, TARGET, eps=1e-3), 1e-3, rtol=1e-3)
    shift = tf.fill(TARGET.shape, 0.25)
    np.testing.assert_allclose(charbonnier(shift * 0, shift, eps=1e-6), 0.25, rtol=1e-4)


def test_per_image_values_follow_each_image():
    pred = tf.concat([TARGET[:1], 1.0 - TARGET[1:]], axis=0)  # first perfect, second inverted
    values = alpha_loss(TARGET, pred).numpy()
    assert values[0] == pytest.approx(0.0) and values[1] == pytest.approx(1.0)


def test_alpha_loss_adds_its_terms():
    l1 = alpha_loss(TARGET, PRED).numpy()
    np.testing.assert_allclose(l1, tf.reduce_mean(tf.abs(PRED - TARGET), axis=[1, 2, 3]), rtol=1e-6)
    both = alpha_loss(TARGET, PRED, gradient_weight=1.0, laplacian_weight=0.5).numpy()
    expected = l1 + gradient_l1(TARGET, PRED).numpy() + 0.5 * laplacian_loss(TARGET, PRED).numpy()
    np.testing.assert_allclose(both, expected, rtol=1e-5)


def test_bce_dice_is_lower_for_a_better_mask():
    good = TARGET * 0.9 + 0.05
    better, worse = bce_dice_loss(TARGET, good, dice_weight=0.5), bce_dice_loss(TARGET, PRED, dice_weight=0.5)
    assert (better.numpy() < worse.numpy()).all()


def test_the_compositional_loss_compares_the_images_composited_with_each_alpha():
    fg = tf.constant(rng.random((2, 32, 32, 3)).astype(np.float32))
    bg = tf.constant(rng.random((2, 32, 32, 3)).astype(np.float32))
    composite = lambda a: a * fg + (1.0 - a) * bg  # noqa: E731
    expected = tf.reduce_mean(tf.abs(composite(PRED) - composite(TARGET)), axis=[1, 2, 3])
    np.testing.assert_allclose(composition_l1(TARGET, PRED, fg - bg, eps=1e-8), expected, rtol=1e-4)
    np.testing.assert_allclose(composition_l1(TARGET, TARGET, fg - bg, eps=0.0), 0.0, atol=1e-7)
    # Where foreground and background look alike, an alpha error costs nothing in the composite.
    np.testing.assert_allclose(composition_l1(TARGET, PRED, fg - fg, eps=0.0), 0.0, atol=1e-7)

    packed = tf.concat([TARGET, fg - bg], axis=-1)  # the refinement target with its layers
    with_composition = alpha_loss(packed, PRED, composition_weight=0.5, charbonnier_eps=1e-8)
    without = alpha_loss(TARGET, PRED, charbonnier_eps=1e-8)
    np.testing.assert_allclose(with_composition, without + 0.5 * expected, rtol=1e-4)
    with pytest.raises(ValueError, match="compositional loss needs a target"):
        alpha_loss(TARGET, PRED, composition_weight=0.5)


def test_the_training_metrics_equal_the_evaluation_metrics():
    alpha = rng.random((3, 24, 20, 1)).astype(np.float32)
    pred = rng.random((3, 24, 20, 1)).astype(np.float32)
    sad = [metrics.sad(p, a) for p, a in zip(pred, alpha, strict=True)]  # the DIM definitions, per image
    mse = [metrics.mse(p, a) for p, a in zip(pred, alpha, strict=True)]
    np.testing.assert_allclose(per_image_sad(alpha, pred), sad, rtol=1e-5)
    np.testing.assert_allclose(per_image_mse(alpha, pred), mse, rtol=1e-5)
    # The Keras metrics: the mean over images, of the alpha alone when the target carries F - B too.
    target = np.concatenate([alpha, rng.random((3, 24, 20, 3)).astype(np.float32)], axis=-1)
    for metric, expected in zip(training_metrics(), (mse, sad), strict=True):
        metric.update_state(target, pred)
        np.testing.assert_allclose(float(metric.result()), np.mean(expected), rtol=1e-5)
    assert [m.name for m in training_metrics()] == ["mse", "sad"] and isinstance(training_metrics()[1], SAD)

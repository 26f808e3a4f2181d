"""Losses are zero at the target, positive elsewhere, and weigh what they claim to."""

import numpy as np
import pytest
import tensorflow as tf

from matting.losses import alpha_loss, bce_dice_loss, charbonnier, gradient_l1, laplacian_loss

rng = np.random.default_rng(0)
TARGET = tf.constant((rng.random((2, 32, 32, 1)) > 0.5).astype(np.float32))
PRED = tf.constant(rng.random((2, 32, 32, 1)).astype(np.float32))


@pytest.mark.parametrize("loss", [gradient_l1, laplacian_loss, lambda t, p: charbonnier(t, p, eps=0.0)])
def test_zero_at_the_target_and_positive_elsewhere(loss):
    assert float(loss(TARGET, TARGET)) == pytest.approx(0.0, abs=1e-6)
    assert float(loss(TARGET, PRED)) > 0.0


def test_charbonnier_is_l1_plus_eps_at_zero():
    assert float(charbonnier(TARGET, TARGET, eps=1e-3)) == pytest.approx(1e-3, rel=1e-3)
    shift = tf.fill(TARGET.shape, 0.25)
    assert float(charbonnier(shift * 0, shift, eps=1e-6)) == pytest.approx(0.25, rel=1e-4)


def test_alpha_loss_adds_its_terms():
    l1 = float(alpha_loss(TARGET, PRED))
    assert l1 == pytest.approx(float(tf.reduce_mean(tf.abs(PRED - TARGET))))
    both = float(alpha_loss(TARGET, PRED, gradient_weight=1.0, laplacian_weight=0.5))
    expected = l1 + float(gradient_l1(TARGET, PRED)) + 0.5 * float(laplacian_loss(TARGET, PRED))
    assert both == pytest.approx(expected, rel=1e-5)


def test_bce_dice_is_lower_for_a_better_mask():
    good = TARGET * 0.9 + 0.05
    assert float(bce_dice_loss(TARGET, good, dice_weight=0.5)) < float(
        bce_dice_loss(TARGET, PRED, dice_weight=0.5)
    )

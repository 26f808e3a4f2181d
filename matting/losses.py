"""Training losses: pure functions of ``(target, pred)``, both ``[B, H, W, 1]`` float32 in [0, 1]
(the refinement target may carry 3 more channels, foreground - background: see :func:`alpha_loss`).

Each returns one value per image, ``[B]``: Keras averages them over the batch, weighted by the
sample weights when the dataset gives them (coarse-quality samples, see ``make_dataset``).
:func:`per_image_sad` and :func:`per_image_mse` are the training metrics' formulas, the tensor twins
of :func:`matting.metrics.sad` and :func:`matting.metrics.mse`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

IMAGE_AXES = [1, 2, 3]


def _per_image(x: tf.Tensor) -> tf.Tensor:
    """Mean over every axis but the batch: ``[B, ...]`` -> ``[B]``."""
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


def bce_dice_loss(target: tf.Tensor, pred: tf.Tensor, *, dice_weight: float = 0.0) -> tf.Tensor:
    """Coarse stage: binary cross-entropy + ``dice_weight`` * (1 - soft Dice). ``[B]``."""
    bce = _per_image(keras.losses.binary_crossentropy(target, pred))
    if not dice_weight:
        return bce
    overlap = tf.reduce_sum(target * pred, axis=IMAGE_AXES)
    total = tf.reduce_sum(target + pred, axis=IMAGE_AXES)
    dice = (2.0 * overlap + 1.0) / (total + 1.0)
    return bce + dice_weight * (1.0 - dice)


def gradient_l1(target: tf.Tensor, pred: tf.Tensor) -> tf.Tensor:
    """Mean |Sobel(pred) - Sobel(target)| over both directions: keeps edges sharp. ``[B]``."""
    return _per_image(tf.abs(tf.image.sobel_edges(pred) - tf.image.sobel_edges(target)))


def charbonnier(target: tf.Tensor, pred: tf.Tensor, *, eps: float = 1e-3) -> tf.Tensor:
    """Mean sqrt((pred - target)^2 + eps^2): L1 that is smooth at zero. ``[B]``."""
    return _per_image(tf.sqrt(tf.square(pred - target) + eps * eps))


def laplacian_loss(target: tf.Tensor, pred: tf.Tensor, *, levels: int = 4) -> tf.Tensor:
    """L1 between the Laplacian pyramids of ``pred`` and ``target``, coarse levels weighted up
    (2 ** level): errors at every scale, from hair strands to the whole silhouette. ``[B]``."""
    loss = 0.0
    for level in range(levels):
        small_t = tf.nn.avg_pool2d(target, 2, 2, "SAME")
        small_p = tf.nn.avg_pool2d(pred, 2, 2, "SAME")
        size = tf.shape(target)[1:3]
        band_t = target - tf.image.resize(small_t, size)
        band_p = pred - tf.image.resize(small_p, size)
        loss += (2.0**level) * _per_image(tf.abs(band_p - band_t))
        target, pred = small_t, small_p
    return loss + (2.0**levels) * _per_image(tf.abs(pred - target))


def composition_l1(
    alpha: tf.Tensor, pred: tf.Tensor, difference: tf.Tensor, *, eps: float = 1e-3
) -> tf.Tensor:
    """The compositional loss (Xu et al., Deep Image Matting): the image composited with the
    predicted alpha against the one composited with the true alpha, ``pred * F + (1 - pred) * B``
    against ``alpha * F + (1 - alpha) * B``, whose difference is ``(pred - alpha) * (F - B)``.
    ``alpha`` and ``pred`` ``[B, H, W, 1]``, ``difference`` = F - B ``[B, H, W, 3]`` in [-1, 1];
    Charbonnier (``eps``) mean over pixels and channels. ``[B]``."""
    return _per_image(tf.sqrt(tf.square((pred - alpha) * difference) + eps * eps))


def alpha_loss(
    target: tf.Tensor,
    pred: tf.Tensor,
    *,
    gradient_weight: float = 0.0,
    laplacian_weight: float = 0.0,
    composition_weight: float = 0.0,
    charbonnier_eps: float = 0.0,
) -> tf.Tensor:
    """Refinement stage: mean |pred - alpha| (Charbonnier with ``charbonnier_eps`` > 0)
    + ``gradient_weight`` * :func:`gradient_l1` + ``laplacian_weight`` * :func:`laplacian_loss`
    + ``composition_weight`` * :func:`composition_l1`. ``[B]``.

    ``target`` is the alpha ``[B, H, W, 1]``, or ``[B, H, W, 4]``: the alpha, then foreground -
    background, which the compositional loss needs."""
    if composition_weight:
        if target.shape[-1] != 4:
            raise ValueError(
                f"the compositional loss needs a target of alpha + foreground - background (4 channels), "
                f"got {target.shape[-1]}: make the dataset with_layers=True"
            )
        difference = target[..., 1:]
    target = target[..., :1]
    if charbonnier_eps:
        loss = charbonnier(target, pred, eps=charbonnier_eps)
    else:
        loss = _per_image(tf.abs(pred - target))
    if gradient_weight:
        loss += gradient_weight * gradient_l1(target, pred)
    if laplacian_weight:
        loss += laplacian_weight * laplacian_loss(target, pred)
    if composition_weight:
        loss += composition_weight * composition_l1(target, pred, difference)
    return loss


def per_image_sad(alpha: tf.Tensor, pred: tf.Tensor) -> tf.Tensor:
    """Sum of absolute differences / 1000, alpha ``[B, H, W, 1]`` in [0, 1]. ``[B]``."""
    return keras.ops.sum(keras.ops.abs(pred - alpha), axis=IMAGE_AXES) / 1000.0


def per_image_mse(alpha: tf.Tensor, pred: tf.Tensor) -> tf.Tensor:
    """Mean squared error, alpha ``[B, H, W, 1]`` in [0, 1]. ``[B]``."""
    return keras.ops.mean(keras.ops.square(pred - alpha), axis=IMAGE_AXES)

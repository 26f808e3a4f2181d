"""Resizing and the guided-filter upsampling shared by training and the inference graph."""

import numpy as np
import tensorflow as tf

from matting.ops import box_mean, guided_upsample, resize_bilinear


def test_box_mean_counts_only_pixels_inside_the_image():
    x = tf.ones([1, 5, 6, 1])
    np.testing.assert_allclose(box_mean(x, 2).numpy(), 1.0)  # no darkening at the border
    y = tf.constant(np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1))
    assert box_mean(y, 1).numpy()[0, 0, 0, 0] == np.mean([0, 1, 3, 4])


def test_guided_upsampling_keeps_a_constant_and_sharpens_an_edge():
    size = (240, 200)
    constant = guided_upsample(tf.fill([1, 24, 20, 1], 0.7), tf.random.uniform([1, *size, 3]), size)
    np.testing.assert_allclose(constant.numpy(), 0.7, atol=1e-3)

    # A bright person on a dark background with a slanted edge: the true alpha follows the image.
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]]
    truth = (xx > 60 + 0.3 * yy).astype(np.float32)
    image = np.repeat((0.1 + 0.8 * truth)[..., None], 3, axis=2)[None]
    low = resize_bilinear(truth[None, ..., None], (24, 20))  # what a low-resolution net would predict
    plain = resize_bilinear(low, size).numpy()[0, ..., 0]
    guided = guided_upsample(low, tf.constant(image), size).numpy()[0, ..., 0]
    plain_error = np.mean((plain - truth) ** 2)
    guided_error = np.mean((guided - truth) ** 2)
    assert guided_error < 0.5 * plain_error, (guided_error, plain_error)

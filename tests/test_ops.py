"""Resizing, the guided-filter upsampling and the uint8 conversion shared by training, the inference
graph and the exports."""

import numpy as np
import tensorflow as tf

from matting.io.codecs import to_uint8
from matting.ops import box_mean, guided_upsample, resize_bilinear, to_uint8_tensor


def test_to_uint8_tensor_rounds_and_clips_as_its_numpy_twin():
    alpha = np.array([-0.2, 0.0, 0.5 / 255, 1.5 / 255, 0.3, 0.5, 254.5 / 255, 1.0, 1.7], np.float32)
    got = to_uint8_tensor(tf.constant(alpha))
    assert got.dtype == tf.uint8
    np.testing.assert_array_equal(got.numpy(), to_uint8(alpha))
    np.testing.assert_array_equal(got.numpy()[[0, 1, 7, 8]], [0, 0, 255, 255])  # clipped, not wrapped
    pixels = np.array([-3.0, 0.5, 1.5, 2.49, 127.5, 254.6, 300.0], np.float32)  # already in [0, 255]
    np.testing.assert_array_equal(
        to_uint8_tensor(tf.constant(pixels), scale=1.0).numpy(), [0, 0, 2, 2, 128, 255, 255]
    )


def test_box_mean_counts_only_pixels_inside_the_image():
    x = tf.ones([1, 5, 6, 1])
    np.testing.assert_allclose(box_mean(x, 2).numpy(), 1.0)  # no darkening at the border
    y = tf.constant(np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1))
    assert box_mean(y, 1).numpy()[0, 0, 0, 0] == np.mean([0, 1, 3, 4])


def test_box_mean_by_convolution_equals_the_shifted_sums_and_a_reference():
    x = np.random.default_rng(0).random((2, 7, 9, 5)).astype(np.float32)
    radius = 2
    padded = np.pad(x, [(0, 0), (radius, radius), (radius, radius), (0, 0)])
    inside = np.pad(np.ones_like(x), [(0, 0), (radius, radius), (radius, radius), (0, 0)])
    window = 2 * radius + 1
    sums = sum(padded[:, i : i + 7, j : j + 9] for i in range(window) for j in range(window))
    counts = sum(inside[:, i : i + 7, j : j + 9] for i in range(window) for j in range(window))
    # Channels known when traced: the depthwise convolution; unknown: the shifted sums.
    unknown = tf.function(lambda t: box_mean(t, radius), input_signature=[tf.TensorSpec([None] * 4)])
    for got in (box_mean(tf.constant(x), radius), unknown(tf.constant(x))):
        np.testing.assert_allclose(got.numpy(), sums / counts, rtol=1e-5, atol=1e-6)


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


def test_the_aspect_frame_keeps_the_pixels_and_the_images_aspect():
    from matting.ops import aspect_frame

    frame = lambda h, w, **kw: aspect_frame(tf.constant([h, w]), (768, 640), **kw).numpy().tolist()  # noqa: E731
    assert frame(768, 640) == frame(1536, 1280) == [768, 640]  # the card's frame for the card's aspect
    assert frame(550, 800) == [576, 832]  # alphamatting's landscape, not squeezed into 768x640
    assert frame(825, 550) == [864, 576]  # the full-body street photos' 1.5
    assert frame(1, 1000) == [416, 1216]  # a strip: the aspect capped at 3
    assert frame(825, 550, multiple=16) == [864, 576] and frame(700, 600, multiple=16) == [752, 656]
    for h, w in ((550, 800), (825, 550), (1, 1000)):
        assert abs(np.prod(frame(h, w)) / (768 * 640) - 1) < 0.05

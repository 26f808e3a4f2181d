"""Timing the nets and pipelines: a call's wall time, FLOPs of a graph, this machine's matmul rate,
and the pipelines against closed-form matting in alternating rounds (``benchmarks/model_speed.py``,
``benchmarks/peers.py``)."""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from matting.metrics import trimap_from_mask


def timed(fn, *args):
    """``fn(*args)`` and the seconds it took."""
    started = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - started


def flops(fn, shape) -> float:
    """FLOPs of one call of ``fn`` (a Keras model or a ``tf.function``) on a float32 ``shape``."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    concrete = tf.function(lambda x: fn(x)).get_concrete_function(tf.TensorSpec(shape, tf.float32))
    graph = convert_variables_to_constants_v2(concrete).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops


def ms_per_image(model, shape, repeats: int) -> float:
    x = tf.constant(np.random.default_rng(0).random(shape, dtype=np.float32))
    fn = tf.function(lambda x: model(x, training=False))
    fn(x)
    return float(np.median([timed(lambda: fn(x).numpy())[1] * 1000 for _ in range(repeats)]))


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """This machine's float32 matmul rate, GFLOP/s (median of ``repeats``)."""
    a = tf.random.uniform((n, n))
    tf.linalg.matmul(a, a).numpy()
    seconds = np.median([timed(lambda: tf.linalg.matmul(a, a).numpy())[1] for _ in range(repeats)])
    return 2 * n**3 / seconds / 1e9


def interleaved_times(
    pipelines: dict, block: int, closed_form: list
) -> tuple[dict[str, dict[str, float]], float | None]:
    """Each pipeline's ms per image (``{name: MattingPipeline}``, on a 768x640 image) and closed-form
    matting's median s per image on ``closed_form`` (``[(image, trimap)]`` in [0, 1], may be empty).

    The two are timed in alternating rounds, one closed-form image then ``block`` consecutive calls
    of each pipeline, so that both see the machine as it is over the same minutes (timed minutes
    apart on a shared machine, their ratio drifts). Per pipeline: ``per_image``, the median of every
    call (what MediaPipe's loop over consecutive photos gives), and ``first``, the median of each
    block's first call: the first call after a pause runs slower (threads and cores waking), which a
    folder run pays once and a server idling between requests pays each time."""
    from pymatting import estimate_alpha_cf

    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    image = np.random.default_rng(0).integers(0, 256, (768, 640, 3), np.uint8)
    for pipeline in pipelines.values():
        pipeline.predict(image)  # tracing, session start-up
    if closed_form:
        estimate_alpha_cf(
            np.random.rand(32, 32, 3), trimap_from_mask(np.pad(np.ones((16, 16)), 8), band=2) / 255.0
        )
    times, seconds = {name: [] for name in pipelines}, []
    for index in range(len(closed_form) or 1):
        if closed_form:
            seconds.append(timed(estimate_alpha_cf, *closed_form[index])[1])
        for name, pipeline in pipelines.items():
            times[name].append([timed(pipeline.predict, image)[1] * 1000 for _ in range(block)])
    medians = {
        name: {"per_image": float(np.median(values)), "first": float(np.median([b[0] for b in values]))}
        for name, values in times.items()
    }
    return medians, (float(np.median(seconds)) if seconds else None)


def with_trained_statistics(model: keras.Model, seed: int = 0) -> keras.Model:
    """``model`` with its batch norms given moving statistics and offsets of a trained net's kind
    (in place). An untrained net's batch norms fold into zero biases (``fold_batch_norms``), which
    TensorFlow's graph optimiser deletes, and a convolution with no bias add is not fused with its
    activation: timed untrained, the fast pipeline ran about 2 ms slower than with these weights."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0.0, 0.1, shape).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, shape).astype(np.float32))
            if layer.center:
                layer.beta.assign(rng.normal(0.0, 0.1, shape).astype(np.float32))
    return model

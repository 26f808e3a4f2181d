"""Parameters, FLOPs and milliseconds per image of the two U-Nets at their card sizes.

    python benchmarks/model_speed.py                     # the widths in configs/model/unet.yaml
    python benchmarks/model_speed.py --filters 8 16 32 64 --separable

FLOPs come from TensorFlow's profiler on the traced graph (multiply-adds count as two FLOPs).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import tensorflow as tf

from matting.models import build_coarse_unet, build_fine_unet
from matting.tables import markdown_table


def flops(model, shape) -> float:
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec(shape, tf.float32)
    )
    graph = convert_variables_to_constants_v2(fn).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops


def ms_per_image(model, shape, repeats: int) -> float:
    x = tf.constant(np.random.default_rng(0).random(shape, dtype=np.float32))
    fn = tf.function(lambda x: model(x, training=False))
    fn(x)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn(x).numpy()
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--filters", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--separable", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rows = [
        ("coarse", build_coarse_unet, (1, 192, 160, 3)),
        ("refinement", build_fine_unet, (1, 768, 640, 4)),
    ]
    print(
        f"\nfilters {args.filters}, separable={args.separable}; one image, CPU, median of {args.repeats}.\n"
    )
    table = []
    for name, builder, shape in rows:
        model = builder(filters=args.filters, separable=args.separable)
        gflops, ms = flops(model, shape) / 1e9, ms_per_image(model, shape, args.repeats)
        size = "x".join(str(s) for s in shape[1:])
        table.append((name, size, f"{model.count_params():,}", f"{gflops:.2f}", f"{ms:.1f}"))
    print(markdown_table(["net", "input", "parameters", "GFLOPs", "ms / image"], table))


if __name__ == "__main__":
    main()

"""Milliseconds per image of every export format on this CPU, in one table.

    python benchmarks/export_speed.py                       # card-sized U-Nets, fresh weights
    python benchmarks/export_speed.py --arch fast           # the fast pair (configs/model/fast.yaml)
    python benchmarks/export_speed.py --coarse outputs/default/coarse/coarse.keras \\
        --fine outputs/default/fine/fine.keras              # your trained checkpoints
    python benchmarks/export_speed.py --size 768 640 --repeats 10

Speed does not depend on the weights, so fresh weights measure the architecture in
``configs/model/<arch>.yaml``. Each format is exported to a temporary folder, loaded
through ``MattingPipeline`` (the loop evaluation uses) and timed on one image after a warm-up call.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from model_speed import net_options

from matting.export import export, load_pipeline
from matting.inference.pipeline import MattingPipeline
from matting.models import build_coarse, build_fine
from matting.tables import markdown_table

FORMATS = [
    ("keras (in-process)", None, {}),
    ("SavedModel", "saved_model", {}),
    ("frozen graph (ModelScope)", "modelscope", {}),
    ("TFLite float32", "tflite", {"quantization": "float32"}),
    ("TFLite float16", "tflite", {"quantization": "float16"}),
    ("ONNX Runtime", "onnx", {}),
]


def time_ms(pipeline: MattingPipeline, image: np.ndarray, repeats: int) -> tuple[float, float]:
    pipeline.predict(image)  # warm-up: tracing, allocation
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        pipeline.predict(image)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times)), float(np.min(times))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--coarse", help="coarse .keras checkpoint (default: fresh weights)")
    parser.add_argument("--fine", help="refinement .keras checkpoint (default: fresh weights)")
    parser.add_argument("--arch", default="unet", help="configs/model/<arch>.yaml, for fresh weights")
    parser.add_argument("--size", type=int, nargs=2, default=[768, 640], help="input height width")
    parser.add_argument("--coarse-size", type=int, nargs=2, default=[192, 160])
    parser.add_argument("--fine-size", type=int, nargs=2, default=[768, 640])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    sizes = {"coarse_size": args.coarse_size, "fine_size": args.fine_size}
    if args.coarse and args.fine:
        live = MattingPipeline.from_checkpoints(args.coarse, args.fine, **sizes)
    else:
        nets = net_options(args.arch)
        live = MattingPipeline.from_models(
            build_coarse(**nets["coarse"]), build_fine(**nets["fine"]), **sizes
        )
    image = np.random.default_rng(0).integers(0, 256, (*args.size, 3), np.uint8)
    reference = live.predict(image)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, format, options in FORMATS:
            if format is None:
                pipeline = live
            else:
                path = export(live.module, f"{tmp}/{label.replace(' ', '_')}", format=format, **options)
                pipeline = load_pipeline(format, str(path))
            median, best = time_ms(pipeline, image, args.repeats)
            error = float(np.abs(pipeline.predict(image) - reference).max())
            rows.append((label, median, best, error))

    print(
        f"\nInput {args.size[0]}x{args.size[1]}, coarse net at {args.coarse_size}, refinement at "
        f"{args.fine_size}, {args.coarse or args.arch}; {args.repeats} timed calls after a warm-up.\n"
    )
    header = ["format", "ms / image (median)", "ms / image (best)", "max abs alpha diff vs keras"]
    print(markdown_table(header, [(label, f"{m:.1f}", f"{b:.1f}", f"{e:.2e}") for label, m, b, e in rows]))


if __name__ == "__main__":
    main()

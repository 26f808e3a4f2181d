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
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from model_speed import net_options

from matting.evaluation.report import run_record
from matting.evaluation.results import export_speed_table
from matting.export import export, load_pipeline
from matting.inference.pipeline import MattingPipeline
from matting.io.files import write_atomic
from matting.models import build_coarse, build_fine

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
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here (make results)")
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

    setting = (
        f"Input {args.size[0]}x{args.size[1]}, coarse net at {args.coarse_size}, refinement at "
        f"{args.fine_size}, {args.coarse or args.arch}; {args.repeats} timed calls after a warm-up."
    )
    payload = {
        "kind": "export_speed",
        "run": run_record(),
        "setting": setting,
        "formats": [{"format": f, "median_ms": m, "best_ms": b, "max_abs_diff": e} for f, m, b, e in rows],
    }
    print("\n" + export_speed_table(payload))
    if args.json:
        write_atomic(args.json, (json.dumps(payload, indent=1) + "\n").encode())
        print(f"figures: {args.json}")


if __name__ == "__main__":
    main()

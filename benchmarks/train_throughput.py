"""Images per second of the training step and of the input pipeline alone, per stage.

    python benchmarks/train_throughput.py --shards data/shards/shared_real     # card sizes
    python benchmarks/train_throughput.py --shards data/shards/synthetic_demo --coarse-size 96 80 \\
        --fine-size 192 160

The pipeline (read, decode, albumentations, resize, degrade, batch) is timed on its own; the step
on one batch held in memory. The goal: the pipeline at least 3x the step, so training never waits.
The refinement stage runs as configs/train/fine.yaml does: with the foreground and background layers
and the compositional loss when the shards hold the layers.
"""

from __future__ import annotations

import argparse
import time

import keras

from matting.data.features import has_layers
from matting.data.pipeline import split_files
from matting.data.stages import make_stage
from matting.tables import markdown_table

AUGMENT = {"flip": 0.5, "crop": 0.5, "crop_scale": (0.6, 1.0), "colour": 0.5, "blur": 0.1, "noise": 0.1,
           "jpeg": 0.2}  # fmt: skip


def pipeline_rate(ds, batches: int, batch_size: int) -> float:
    iterator = iter(ds)
    next(iterator)  # warm-up: shuffle buffer, tracing
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - started)


def step_rate(model, batch, loss, steps: int) -> float:
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    x, y = batch
    model.train_on_batch(x, y)  # warm-up: tracing
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * len(x) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shards", required=True)
    parser.add_argument("--coarse-size", type=int, nargs=2, default=[192, 160])
    parser.add_argument("--fine-size", type=int, nargs=2, default=[768, 640])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args()

    files = split_files(args.shards, "train")
    with_layers = has_layers(files[0])
    print(f"\n{args.shards}, batch {args.batch_size}, {args.batches} batches each; CPU; refinement "
          f"{'with' if with_layers else 'without'} layers and compositional loss.\n")  # fmt: skip
    rows = []
    model = {"coarse_size": args.coarse_size, "fine_size": args.fine_size, "coarse": {}, "fine": {}}
    for name in ("coarse", "fine"):
        loss = (
            {"gradient_weight": 1.0, "composition_weight": 0.5 if with_layers else 0.0}
            if name == "fine"
            else {}
        )
        stage = make_stage(name, model=model, loss=loss)
        ds = stage.dataset(files, batch_size=args.batch_size, augment=AUGMENT)
        pipeline = pipeline_rate(ds, args.batches, args.batch_size)
        step = step_rate(stage.build_net(), next(iter(ds)), stage.loss, args.batches)
        height, width = stage.size
        rows.append((name, f"{height}x{width}", f"{pipeline:.1f}", f"{step:.1f}", f"{pipeline / step:.1f}x"))
    header = ["stage", "input", "pipeline images/s", "train step images/s", "pipeline / step"]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()

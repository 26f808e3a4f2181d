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
from matting.data.pipeline import make_dataset, split_files
from matting.losses import make_loss
from matting.models import build_coarse_unet, build_fine_unet

AUGMENT = {"flip": 0.5, "crop": 0.5, "crop_scale": (0.6, 1.0), "colour": 0.5, "blur": 0.1, "noise": 0.1,
           "jpeg": 0.2}  # fmt: skip


def pipeline_rate(ds, batches: int, batch_size: int) -> float:
    iterator = iter(ds)
    next(iterator)  # warm-up: shuffle buffer, tracing
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - started)


def step_rate(model, batch, stage: str, steps: int, **loss) -> float:
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=make_loss(stage, **loss))
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
    layers = has_layers(files[0])
    print(f"\n{args.shards}, batch {args.batch_size}, {args.batches} batches each; CPU; refinement "
          f"{'with' if layers else 'without'} layers and compositional loss.\n")  # fmt: skip
    print("| stage | input | pipeline images/s | train step images/s | pipeline / step |")
    print("|---|---|---|---|---|")
    for stage, builder, size in (
        ("coarse", build_coarse_unet, args.coarse_size),
        ("fine", build_fine_unet, args.fine_size),
    ):
        options = {"batch_size": args.batch_size, "coarse_size": args.coarse_size, "augment": AUGMENT}
        ds = make_dataset(files, stage=stage, size=size, layers=layers, **options)
        pipeline = pipeline_rate(ds, args.batches, args.batch_size)
        loss = (
            {"gradient_weight": 1.0, "composition_weight": 0.5 if layers else 0.0} if stage == "fine" else {}
        )
        step = step_rate(builder(), next(iter(ds)), stage, args.batches, **loss)
        print(f"| {stage} | {size[0]}x{size[1]} | {pipeline:.1f} | {step:.1f} | {pipeline / step:.1f}x |")


if __name__ == "__main__":
    main()

"""Images per second of the training step and of the input pipeline alone, per stage, as a preset
trains them (its nets, sizes, augmentation, sources, batch size, loss and examples).

    python benchmarks/train_throughput.py experiment=real
    python benchmarks/train_throughput.py experiment=demo model=fast --batches 5

The arguments are Hydra overrides of the training configs (``train_coarse`` / ``train_fine``). The
pipeline (read, decode, albumentations, resize, degrade, batch) is timed on its own; the step on one
batch held in memory. The goal: the pipeline at least 3x the step, so training never waits.
"""

from __future__ import annotations

import matting  # noqa: F401  (first: TensorFlow then starts without its no-GPU notices)

# isort: split

import argparse
import sys
import time
from pathlib import Path

import keras
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from matting.data.pipeline import split_files
from matting.data.stages import make_stage
from matting.tables import markdown_table

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def pipeline_rate(ds, batches: int, batch_size: int) -> float:
    iterator = iter(ds)
    next(iterator)  # warm-up: shuffle buffer, tracing
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - started)


def step_rate(model, batch, loss, steps: int) -> float:
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    x, y, *weights = batch
    model.train_on_batch(x, y, *weights)  # warm-up: tracing
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y, *weights)
    return steps * len(x) / (time.perf_counter() - started)


def stage_row(cfg, batches: int) -> list[str]:
    train = OmegaConf.to_container(cfg.train, resolve=True)
    model = OmegaConf.to_container(cfg.model, resolve=True)
    stage = make_stage(train["stage"], model=model, loss=train["loss"], **(train.get("examples") or {}))
    files = split_files(cfg.data.shards_dir, "train")
    batch_size = train["input"]["batch_size"]
    ds = stage.dataset(files, training=True, seed=0, **train["input"])
    pipeline = pipeline_rate(ds, batches, batch_size)
    step = step_rate(stage.build_net(), next(iter(ds)), stage.loss, batches)
    crop = (train.get("examples") or {}).get("crop")
    size = "x".join(map(str, stage.size)) + (f" (crops {crop[0]}x{crop[1]})" if crop else "")
    arch = model[stage.name].get("arch", "unet")
    return [
        stage.name,
        arch,
        size,
        str(batch_size),
        f"{pipeline:.1f}",
        f"{step:.1f}",
        f"{pipeline / step:.1f}x",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. experiment=real")
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args()
    rows = []
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        for name in ("train_coarse", "train_fine"):
            cfg = compose(config_name=name, overrides=args.overrides)
            rows.append(stage_row(cfg, args.batches))
    print(f"\n{' '.join(args.overrides) or 'defaults'}: {args.batches} batches each; CPU.\n")
    header = [
        "stage",
        "nets",
        "input",
        "batch",
        "pipeline images/s",
        "train step images/s",
        "pipeline / step",
    ]
    print(markdown_table(header, rows))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

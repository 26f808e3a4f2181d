"""Looking at mattes, datasets and training runs: uint8 panels, matplotlib figures, dataset
statistics, TensorBoard scalars, a run's trained pipeline.

The notebooks in ``notebooks/`` hold no logic of their own; what they compute is here, so it is
tested and reusable from any script. (PNG grids without matplotlib: :mod:`matting.viz`.)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from matting.data.composite import composite
from matting.data.features import ALPHA, COARSE, IMAGE, SOURCE
from matting.data.pipeline import read_records, split_files
from matting.inference.pipeline import MattingPipeline
from matting.io.codecs import to_uint8
from matting.io.images import read_image
from matting.layout import STAGES, stage_files
from matting.predict import background_like
from matting.tables import markdown_table

# ---------------------------------------------------------------------------------------------------
# Mattes
# ---------------------------------------------------------------------------------------------------


def checkerboard(height: int, width: int, square: int = 16) -> np.ndarray:
    """The grey checkerboard that shows transparency, float ``[H, W, 3]`` in [0, 1]."""
    yy, xx = np.mgrid[0:height, 0:width]
    light = ((yy // square + xx // square) % 2).astype(np.float32)
    return np.repeat((0.6 + 0.3 * light)[..., None], 3, axis=2)


def over(fg: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """uint8 ``fg`` [H, W, 3] with alpha [H, W] in [0, 1] over a float background -> uint8."""
    return to_uint8(composite(fg / 255.0, background, alpha))


def matting_panels(pipeline, image: np.ndarray, background=(0, 177, 64)) -> dict[str, np.ndarray]:
    """Image, alpha, the cut-out on a checkerboard and on a new background (an RGB colour in 0..255
    or an image path), as uint8 panels."""
    alpha = pipeline.predict(image)
    h, w = alpha.shape
    return {
        "image": image,
        "alpha": to_uint8(alpha),
        "RGBA on a checkerboard": over(image, alpha, checkerboard(h, w)),
        "on a new background": over(image, alpha, background_like(background, (h, w))),
    }


def time_call(fn, *args, repeats: int = 3) -> float:
    """Median milliseconds of ``fn(*args)`` after one warm-up call."""
    fn(*args)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times))


def show_panels(rows: list[dict[str, np.ndarray]], *, size: float = 2.6):
    """A matplotlib figure: one row per dict of named uint8 panels."""
    import matplotlib.pyplot as plt

    columns = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), columns, figsize=(size * columns, size * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        for c, (name, panel) in enumerate(row.items()):
            axes[r][c].imshow(panel, cmap="gray" if panel.ndim == 2 else None, vmin=0, vmax=255)
            axes[r][c].set_title(name, fontsize=9)
        for ax in axes[r]:
            ax.axis("off")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------------


def overlay(image: np.ndarray, mask: np.ndarray, colour=(255, 0, 0), opacity: float = 0.5) -> np.ndarray:
    """uint8 ``image`` tinted with ``colour`` where ``mask`` (float [H, W] in [0, 1]) is high."""
    weight = opacity * mask[..., None]
    return to_uint8((1 - weight) * image / 255.0 + weight * np.asarray(colour) / 255.0)


def load_examples(shards_dir: str, split: str = "train", count: int = 6) -> list[dict]:
    """The first ``count`` records of ``split`` as uint8 arrays (image, alpha, coarse) + source."""
    examples = []
    for example in read_records(split_files(shards_dir, split)).take(count).as_numpy_iterator():
        examples.append({
            IMAGE: to_uint8(example[IMAGE]),
            ALPHA: example[ALPHA][..., 0],
            COARSE: example[COARSE][..., 0],
            SOURCE: example[SOURCE].decode(),
        })  # fmt: skip
    return examples


def example_panels(example: dict) -> dict[str, np.ndarray]:
    """A composite, its alpha, and both masks drawn over it (alpha red, coarse mask blue)."""
    return {
        f"composite ({example[SOURCE]})": example[IMAGE],
        "alpha": to_uint8(example[ALPHA]),
        "alpha overlay": overlay(example[IMAGE], example[ALPHA]),
        "coarse-mask overlay": overlay(example[IMAGE], example[COARSE], colour=(0, 80, 255)),
    }


def manifest_table(shards_dir: str) -> str:
    """A Markdown table of the composites per split and source in the dataset's manifest.json, and
    the number of skipped files."""
    manifest = json.loads((Path(shards_dir) / "manifest.json").read_text())
    rows = [
        (split, source, count)
        for split, info in manifest["splits"].items()
        for source, count in info["by_source"].items()
    ]
    rows.append(("(skipped files)", "", len(manifest["skipped"])))
    return markdown_table(("split", "source", "composites"), rows)


def alpha_statistics(shards_dir: str, split: str = "train", max_records: int = 200) -> dict[str, np.ndarray]:
    """Per dataset: every alpha value that is neither 0 nor 1 (the soft ones), and each
    foreground's height as a fraction of the composite height."""
    soft, scales = [], []
    for example in read_records(split_files(shards_dir, split)).take(max_records).as_numpy_iterator():
        alpha = example[ALPHA][..., 0]
        soft.append(alpha[(alpha > 0) & (alpha < 1)])
        rows = np.nonzero(alpha.max(axis=1) > 0)[0]
        scales.append((rows.max() - rows.min() + 1) / alpha.shape[0] if len(rows) else 0.0)
    return {"soft_alpha": np.concatenate(soft), "foreground_scale": np.asarray(scales)}


def plot_histograms(stats: dict[str, np.ndarray]):
    """The two histograms of :func:`alpha_statistics` side by side."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3))
    axes[0].hist(stats["soft_alpha"], bins=50, color="#4c72b0")
    axes[0].set_title("alpha values strictly between 0 and 1")
    axes[1].hist(stats["foreground_scale"], bins=20, color="#dd8452")
    axes[1].set_title("foreground height / composite height")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------
# Training runs
# ---------------------------------------------------------------------------------------------------


def read_scalars(log_dir: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every scalar of the TensorBoard event files in ``log_dir``: tag -> (steps, values)."""
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(log_dir), size_guidance={"tensors": 0, "scalars": 0})
    accumulator.Reload()
    scalars = {}
    for tag in accumulator.Tags().get("tensors", []):
        events = accumulator.Tensors(tag)
        if not events or events[0].tensor_proto.dtype == tf.string.as_datatype_enum:
            continue  # text summaries (the model config Keras writes), not scalars
        values = [float(tf.make_ndarray(e.tensor_proto)) for e in events]
        scalars[tag] = (np.array([e.step for e in events]), np.array(values))
    for tag in accumulator.Tags().get("scalars", []):
        events = accumulator.Scalars(tag)
        scalars[tag] = (np.array([e.step for e in events]), np.array([e.value for e in events]))
    return scalars


def training_curves(run_dir: str) -> dict[str, dict[str, dict]]:
    """``{stage: {"train": scalars, "validation": scalars}}`` from each stage's TensorBoard folder."""
    curves = {}
    for stage in STAGES:
        log_dir = stage_files(run_dir, stage).tensorboard
        if log_dir.is_dir():
            curves[stage] = {part: read_scalars(log_dir / part) for part in ("train", "validation")}
    return curves


def plot_curves(curves: dict, metrics=("epoch_loss", "epoch_mse")):
    """Loss and MSE per epoch of both stages, train and validation."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        len(curves), len(metrics), figsize=(5 * len(metrics), 3 * len(curves)), squeeze=False
    )
    for r, (stage, parts) in enumerate(curves.items()):
        for c, metric in enumerate(metrics):
            for part, scalars in parts.items():
                if metric in scalars:
                    axes[r][c].plot(*scalars[metric], marker="o", label=part)
            axes[r][c].set_title(f"{stage}: {metric}")
            axes[r][c].set_xlabel("epoch")
            axes[r][c].legend()
    fig.tight_layout()
    return fig


def load_run(run_dir: str) -> MattingPipeline:
    """The trained pipeline of a run folder (``outputs/<name>``), with the sizes its refinement
    stage was trained at (read from the fine stage's ``config.yaml``)."""
    import yaml

    coarse, fine = stage_files(run_dir, "coarse"), stage_files(run_dir, "fine")
    model = yaml.safe_load(fine.config.read_text())["model"]
    return MattingPipeline.from_checkpoints(
        str(coarse.last),
        str(fine.last),
        coarse_size=model["coarse_size"],
        fine_size=model["fine_size"],
        upsample=model.get("upsample", "bilinear"),
    )


def show_image(path: str, *, width: float = 10.0):
    """A PNG file (an evaluation grid) as a matplotlib figure."""
    import matplotlib.pyplot as plt

    image = read_image(path)
    fig, ax = plt.subplots(figsize=(width, width * image.shape[0] / image.shape[1]))
    ax.imshow(image)
    ax.axis("off")
    return fig

"""Scoring a :class:`matting.inference.MattingPipeline` on a built split or on a folder of images
with ground-truth alpha (and optional trimaps), the coarse stage on a folder of person masks, and
reporting it all (CSV, JSON, Markdown, PNG grids, TensorBoard)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
from tqdm import tqdm

from matting.data.features import ALPHA, IMAGE, SAMPLE_ID
from matting.data.pipeline import read_records
from matting.errors import ConfigError, DataError
from matting.inference import MattingPipeline
from matting.io.codecs import to_uint8
from matting.io.files import write_atomic
from matting.io.images import list_images, read_alpha, read_image
from matting.metrics import SCALE_NOTE, evaluate_alpha, mse
from matting.viz import error_map, save_grid

TRIMAP = "trimap"

# Columns of the summary table: (metric key, header).
TABLE_COLUMNS = (
    ("mse", "MSE"),
    ("sad", "SAD"),
    ("mad", "MAD"),
    ("grad", "Grad"),
    ("conn", "Conn"),
    ("mse_unknown", "MSE (unknown)"),
)


def _pair_by_stem(folder: Path, stems: list[str]) -> dict[str, Path]:
    files = {p.stem: p for p in list_images(folder)}
    return {stem: files[stem] for stem in stems if stem in files}


def load_folder_arrays(
    images: str, alphas: str, trimaps: str | None = None, max_images: int | None = None
) -> tuple[list[dict], list[dict]]:
    """Image + alpha (+ trimap) files paired by basename, the layout of alphamatting.com, PPM-100,
    P3M-500 and AM-2k (``image/`` + ``alpha/``, ``original/`` + ``mask/``, ...).

    Returns the samples (uint8 ``image`` [H, W, 3], ``alpha`` [H, W], optional ``trimap``) and the
    skipped files (unreadable, or without an alpha) with reasons. An alpha or trimap whose size differs
    from its image is a :class:`DataError` naming both files.
    """
    image_files = list_images(images)
    stems = [p.stem for p in image_files]
    alpha_files = _pair_by_stem(Path(alphas), stems)
    trimap_files = _pair_by_stem(Path(trimaps), stems) if trimaps else {}
    samples, skipped = [], []
    for path in image_files:
        if path.stem not in alpha_files:
            skipped.append({"path": str(path), "reason": f"no alpha named {path.stem}.* in {alphas}"})
            continue
        try:
            sample = {"id": path.stem, IMAGE: read_image(path), ALPHA: read_alpha(alpha_files[path.stem])}
            if path.stem in trimap_files:
                sample[TRIMAP] = read_alpha(trimap_files[path.stem])
        except DataError as error:
            skipped.append({"path": str(path), "reason": str(error)})
            continue
        for key, other in ((ALPHA, alpha_files), (TRIMAP, trimap_files)):
            if key in sample and sample[key].shape != sample[IMAGE].shape[:2]:
                raise DataError(
                    f"{other[path.stem]}: {key} is {sample[key].shape[1]}x{sample[key].shape[0]} but "
                    f"{path} is {sample[IMAGE].shape[1]}x{sample[IMAGE].shape[0]}"
                )
        samples.append(sample)
        if max_images and len(samples) >= max_images:
            break
    if not samples:
        raise DataError(f"{images}: no image with a readable alpha in {alphas}")
    return samples, skipped


def load_split_arrays(files: list[str], max_images: int | None = None) -> list[dict]:
    """The records of ``files`` as uint8 numpy arrays: ``image`` [H, W, 3], ``alpha`` [H, W]."""
    samples = []
    for example in read_records(files).as_numpy_iterator():
        samples.append(
            {
                "id": example[SAMPLE_ID].decode(),
                IMAGE: to_uint8(example[IMAGE]),
                ALPHA: to_uint8(example[ALPHA][..., 0]),
            }
        )
        if max_images and len(samples) >= max_images:
            break
    return samples


REFINE_FROM = ("coarse", "gt_mask")


def score(
    pipeline: MattingPipeline,
    samples: list[dict],
    *,
    batch_size: int = 8,
    refine_from: str = "coarse",
    desc: str = "evaluate",
) -> tuple[list[dict], list[np.ndarray]]:
    """Per-image metrics (whole image and trimap-unknown region: the sample's trimap, else one
    derived from the ground truth) and the predicted alphas.

    ``refine_from="gt_mask"`` feeds the refinement net the ground truth thresholded at 0.5 instead
    of the coarse net's mask, to score the refinement alone.
    """
    if refine_from not in REFINE_FROM:
        raise ConfigError(f"refine_from must be one of {REFINE_FROM}, got {refine_from!r}")
    rows, preds = [], []
    for start in tqdm(range(0, len(samples), batch_size), desc=desc, leave=False):
        batch = samples[start : start + batch_size]
        if refine_from == "gt_mask":
            alphas = [pipeline.predict_stages(s[IMAGE], s[ALPHA] >= 128)["alpha"] for s in batch]
        elif len({s[IMAGE].shape for s in batch}) == 1:  # one size (a split): one batch
            alphas = list(pipeline.predict_batch(np.stack([s[IMAGE] for s in batch])))
        else:
            alphas = [pipeline.predict(s[IMAGE]) for s in batch]
        for sample, alpha in zip(batch, alphas, strict=True):
            rows.append({"id": sample["id"], **evaluate_alpha(alpha, sample[ALPHA], sample.get(TRIMAP))})
            preds.append(alpha)
    return rows, preds


def score_coarse(pipeline: MattingPipeline, samples: list[dict]) -> list[dict]:
    """The coarse stage against binary person masks (``alpha`` of the samples, 0 / 255): IoU of the
    coarse mask thresholded at 0.5, and MSE of the soft mask, both over the whole image."""
    rows = []
    for sample in tqdm(samples, desc="coarse", leave=False):
        coarse = pipeline.predict_stages(sample[IMAGE])["coarse"]
        truth = sample[ALPHA] >= 128
        union = np.logical_or(coarse >= 0.5, truth).sum()
        iou = np.logical_and(coarse >= 0.5, truth).sum() / union if union else 1.0
        rows.append({"id": sample["id"], "iou": float(iou), "mse": mse(coarse, truth.astype(np.float64))})
    return rows


def summarize(rows: list[dict]) -> dict:
    """Mean of every metric over ``rows`` (NaN values, e.g. an empty unknown region, skipped)."""
    keys = [k for k in rows[0] if k != "id"]
    summary = {}
    for key in keys:
        values = [r[key] for r in rows if not math.isnan(r[key])]
        summary[key] = float(np.mean(values)) if values else float("nan")
    summary["count"] = len(rows)
    return summary


def format_table(summaries: dict[str, dict], *, title: str) -> str:
    """A Markdown table, one row per pipeline, with the scale stated above it."""
    header = "| pipeline | " + " | ".join(h for _, h in TABLE_COLUMNS) + " |"
    lines = [f"### {title}", "", f"Whole image unless marked; {SCALE_NOTE}", "", header,
             "|" + "---|" * (len(TABLE_COLUMNS) + 1)]  # fmt: skip
    for name, summary in summaries.items():
        cells = " | ".join(f"{summary[k]:.4f}" for k, _ in TABLE_COLUMNS)
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def write_report(out_dir: str, rows: list[dict], summaries: dict[str, dict], table: str) -> None:
    """``per_image.csv`` (the main pipeline's rows), ``summary.json`` and ``summary.md``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "per_image.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    payload = {"scale": SCALE_NOTE, "pipelines": summaries}
    write_atomic(out / "summary.json", json.dumps(payload, indent=2).encode())
    write_atomic(out / "summary.md", (table + "\n").encode())


def save_prediction_grid(
    path: str, samples: list[dict], preds: list[np.ndarray], indices: list[int] | None = None
) -> None:
    """A PNG grid, one row per sample (all, or ``indices`` in that order): image, ground-truth
    alpha, predicted alpha, |error| heat map."""
    rows = []
    for i in range(len(samples)) if indices is None else indices:
        gt = samples[i][ALPHA].astype(np.float32) / 255.0
        rows.append([samples[i][IMAGE], gt, preds[i], error_map(preds[i], gt)])
    save_grid(path, rows)


def worst(rows: list[dict], count: int, key: str = "mse") -> list[int]:
    """Indices of the ``count`` rows with the highest ``key``, worst first."""
    return sorted(range(len(rows)), key=lambda i: rows[i][key], reverse=True)[:count]


def write_tensorboard(log_dir: str, summaries: dict[str, dict], step: int = 0) -> None:
    """Every summary metric as a TensorBoard scalar, ``{pipeline}/{metric}``."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        for name, summary in summaries.items():
            for key, value in summary.items():
                tf.summary.scalar(f"{name}/{key}", value, step=step)
    writer.close()

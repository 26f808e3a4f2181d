"""The evaluation report: a Markdown summary table, ``per_image.csv`` / ``summary.json`` /
``summary.md`` (names from :class:`matting.layout.EvalFiles`), PNG grids and TensorBoard scalars."""

from __future__ import annotations

import csv
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from matting.data.features import ALPHA, IMAGE
from matting.io.files import write_atomic
from matting.layout import EvalFiles
from matting.metrics import SCALE_NOTE
from matting.tables import markdown_table
from matting.viz import error_map, save_grid

# Columns of the summary table: (metric key, header).
TABLE_COLUMNS = (
    ("mse", "MSE"),
    ("sad", "SAD"),
    ("mad", "MAD"),
    ("grad", "Grad"),
    ("conn", "Conn"),
    ("mse_unknown", "MSE (unknown)"),
)


def run_record() -> dict:
    """What a results file says of the run that wrote it: the command, the date (UTC) and the
    machine, so that a figure is never read without them."""
    return {
        "command": " ".join(sys.argv),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
    }


def summary_table(summaries: dict[str, dict], *, title: str) -> str:
    """A Markdown table, one row per pipeline, with the scale stated above it."""
    header = ["pipeline", *(h for _, h in TABLE_COLUMNS)]
    rows = [[name, *(f"{summary[k]:.4f}" for k, _ in TABLE_COLUMNS)] for name, summary in summaries.items()]
    table = markdown_table(header, rows)
    return f"### {title}\n\nWhole image unless marked; {SCALE_NOTE}\n\n{table}"


def coarse_note(coarse: dict, images: str) -> str:
    """The line under the table for the coarse stage's summary (``iou``, ``mse``, ``count``) on ``images``."""
    return (
        f"Coarse stage on {images} ({coarse['count']} images, masks thresholded "
        f"at 0.5): IoU {coarse['iou']:.4f}, MSE {coarse['mse']:.4f} (whole image, mask in [0,1])"
    )


def write_report(
    out_dir: str,
    rows: list[dict],
    summaries: dict[str, dict],
    table: str,
    skipped: list[dict] = (),
    *,
    photos: list[dict] = (),
) -> None:
    """``per_image.csv`` (the main pipeline's rows), ``summary.json`` (with the ``skipped`` files
    and, for folder runs, which ``photos`` were scored: :meth:`Selection.summary`) and ``summary.md``."""
    files = EvalFiles(Path(out_dir))
    files.folder.mkdir(parents=True, exist_ok=True)
    with open(files.per_image, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    payload = {
        "run": run_record(),
        "scale": SCALE_NOTE,
        "pipelines": summaries,
        "skipped": list(skipped),
        "photos": list(photos),
    }
    write_atomic(files.summary_json, json.dumps(payload, indent=2).encode())
    write_atomic(files.summary_md, (table + "\n").encode())


def save_prediction_grid(
    path: str,
    samples: list[dict],
    preds: list[np.ndarray],
    indices: list[int] | None = None,
    *,
    others: list[list[np.ndarray]] = (),
    captions: list[str] | None = None,
) -> None:
    """A PNG grid, one row per sample (all, or ``indices`` in that order): image, ground-truth
    alpha, predicted alpha, |error| heat map, then each of ``others`` (other predictions of the same
    samples, e.g. a peer's masks); ``captions`` (one a sample) are written on the image."""
    rows, texts = [], []
    for i in range(len(samples)) if indices is None else indices:
        gt = samples[i][ALPHA].astype(np.float32) / 255.0
        rows.append([samples[i][IMAGE], gt, preds[i], error_map(preds[i], gt), *(o[i] for o in others)])
        texts.append(captions[i] if captions else "")
    save_grid(path, rows, captions=texts)


def write_tensorboard(log_dir: str, summaries: dict[str, dict], step: int = 0) -> None:
    """Every summary metric as a TensorBoard scalar, ``{pipeline}/{metric}``."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        for name, summary in summaries.items():
            for key, value in summary.items():
                tf.summary.scalar(f"{name}/{key}", value, step=step)
    writer.close()

"""Scoring a :class:`matting.inference.MattingPipeline` on a built split, and reporting it."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
from tqdm import tqdm

from matting.data.features import ALPHA, IMAGE, SAMPLE_ID
from matting.data.pipeline import read_records
from matting.inference import MattingPipeline
from matting.io import to_uint8, write_atomic
from matting.metrics import SCALE_NOTE, evaluate_alpha
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


def score(
    pipeline: MattingPipeline, samples: list[dict], *, batch_size: int = 8, desc: str = "evaluate"
) -> tuple[list[dict], list[np.ndarray]]:
    """Per-image metrics (whole image and trimap-unknown region) and the predicted alphas."""
    rows, preds = [], []
    for start in tqdm(range(0, len(samples), batch_size), desc=desc, leave=False):
        batch = samples[start : start + batch_size]
        # Images of one split share a size, so a batch is one array; other sizes go one by one.
        if len({s[IMAGE].shape for s in batch}) == 1:
            alphas = list(pipeline.predict_batch(np.stack([s[IMAGE] for s in batch])))
        else:
            alphas = [pipeline.predict(s[IMAGE]) for s in batch]
        for sample, alpha in zip(batch, alphas, strict=True):
            rows.append({"id": sample["id"], **evaluate_alpha(alpha, sample[ALPHA])})
            preds.append(alpha)
    return rows, preds


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


def save_prediction_grid(path: str, samples: list[dict], preds: list[np.ndarray], count: int) -> None:
    """A PNG grid: one row per sample: composite, ground-truth alpha, predicted alpha, |error|."""
    rows = []
    for sample, pred in list(zip(samples, preds, strict=True))[:count]:
        gt = sample[ALPHA].astype(np.float32) / 255.0
        rows.append([sample[IMAGE], gt, pred, error_map(pred, gt)])
    save_grid(path, rows)

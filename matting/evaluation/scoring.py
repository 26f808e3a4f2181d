"""Per-image metrics of a pipeline on samples (see :mod:`matting.evaluation.samples`), of its coarse
stage against person masks, their means, and the worst cases."""

from __future__ import annotations

import math

import numpy as np
from tqdm import tqdm

from matting.data.features import ALPHA, IMAGE
from matting.errors import ConfigError
from matting.evaluation.samples import TRIMAP
from matting.inference.pipeline import MattingPipeline
from matting.metrics import evaluate_alpha, mse

REFINE_FROM = ("coarse", "gt_mask")


def mask_iou(mask: np.ndarray, truth: np.ndarray) -> float:
    """IoU of two [H, W] masks in [0, 1], each thresholded at 0.5; 1 when both are empty."""
    a, b = mask >= 0.5, truth >= 0.5
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


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
            alphas = [pipeline.refine(s[IMAGE], s[ALPHA] >= 128) for s in batch]
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
        coarse = pipeline.coarse_mask(sample[IMAGE])
        truth = sample[ALPHA] >= 128
        rows.append(
            {"id": sample["id"], "iou": mask_iou(coarse, truth), "mse": mse(coarse, truth.astype(np.float64))}
        )
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


def worst(rows: list[dict], count: int, key: str = "mse", *, higher_is_worse: bool = True) -> list[int]:
    """Indices of the ``count`` rows with the highest ``key`` (the lowest with
    ``higher_is_worse=False``, for a score such as IoU), worst first."""
    return sorted(range(len(rows)), key=lambda i: rows[i][key], reverse=higher_is_worse)[:count]

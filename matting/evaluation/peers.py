"""Our pipeline beside its peers on the same photos, the scoring behind ``benchmarks/peers.py``:
person masks (our coarse stage and whole pipeline vs MediaPipe Selfie Segmentation, run in its own
environment), alpha on images with a true alpha (our refinement vs closed-form matting, from the
true mask and from our coarse mask), and the tables, chart and worst-case grid of the report.

MediaPipe runs in ``.venv-mediapipe`` (``make mediapipe-venv``) as a subprocess,
:mod:`matting.evaluation.mediapipe_worker`, that reads and writes files only.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from matting.evaluation.holdout import Selection
from matting.evaluation.methods import (
    ALPHA_ROWS,
    BAND,
    COARSE_CF,
    COARSE_REFINED,
    MEDIAPIPE,
    OURS,
    OURS_ALPHA,
    TRUE_CF,
    TRUE_MASK,
    TRUE_REFINED,
)
from matting.evaluation.report import save_prediction_grid
from matting.evaluation.samples import load_folder_arrays
from matting.evaluation.scoring import mask_iou, worst
from matting.evaluation.timing import timed
from matting.inference.pipeline import MattingPipeline
from matting.io.codecs import to_uint8
from matting.metrics import TRIMAP_BG, TRIMAP_FG, TRIMAP_UNKNOWN, mse, sad, trimap_from_mask
from matting.tables import markdown_table

WORKER = Path(__file__).with_name("mediapipe_worker.py")
PALETTE = ("#4c72b0", "#55a868", "#dd8452")  # the chart's colours, one a method
SHORT = {  # the chart's labels
    TRUE_MASK: "true mask itself",
    TRUE_REFINED: "true mask -> ours",
    TRUE_CF: "true mask -> closed form",
    COARSE_REFINED: "coarse -> ours (pipeline)",
    COARSE_CF: "coarse -> closed form",
}
NOT_HELD_OUT = (
    "!! NOT HELD OUT: no --splits given, so every photo is scored, the ones the run trained on "
    "included: these figures prove nothing about unseen photos. Pass --splits <shards_dir>/splits.json."
)


def mediapipe_masks(images: dict[str, np.ndarray], python: Path | None) -> tuple[dict, dict] | None:
    """MediaPipe's masks (float ``[H, W]`` in [0, 1]) and ms of each uint8 RGB image of ``images``
    (``{id: image}``), run in ``python`` (.venv-mediapipe) on the same pixels; None, with a message,
    where that environment is missing."""
    if python is None or not Path(python).is_file():
        print(f"MediaPipe skipped: {python} not found (run `make mediapipe-venv`)")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        for name, image in images.items():  # the same images, as the files MediaPipe reads (PNG: lossless)
            cv2.imwrite(str(folder / f"{name}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        subprocess.run([str(python), str(WORKER), str(folder), f"{tmp}/masks"], check=True)
        timing = json.loads(Path(f"{tmp}/masks/timing.json").read_text())
        masks = {name: cv2.imread(f"{tmp}/masks/{name}.png", cv2.IMREAD_GRAYSCALE) / 255.0 for name in images}
    return masks, {name: timing[name] for name in images}


# --------------------------------------------------------------------------- person masks


@dataclass
class MaskSet:
    """One folder of photos with person masks, scored: per method, per-image rows and the masks."""

    name: str
    selection: Selection
    samples: list[dict]
    rows: dict[str, list[dict]] = field(default_factory=dict)  # method -> [{id, iou, mse, ms}]
    masks: dict[str, list[np.ndarray]] = field(default_factory=dict)  # method -> uint8 [H, W]


def score_mask_set(
    name: str,
    folder: Path,
    selection: Selection,
    pipeline: MattingPipeline,
    mediapipe_python: Path | None,
    limit: int | None,
) -> MaskSet:
    """Our coarse stage, our whole pipeline's alpha and MediaPipe on the selected photos of ``folder``
    (``image/`` + ``mask/``). The alpha row says whether the refinement improves the coarse mask on
    real photos: a refinement can score well from a good mask and still make a poor one worse."""
    samples, skipped = load_folder_arrays(
        folder / "image", folder / "mask", max_images=limit, stems=selection.stems
    )  # fmt: skip
    for skip in skipped:
        print(f"skipped: {skip['reason']}")
    scored = MaskSet(name, selection, samples)
    methods = {}
    for method, run in ((OURS, pipeline.coarse_mask), (OURS_ALPHA, pipeline.predict)):
        run(samples[0]["image"])  # warm-up: the trace
        predictions = [timed(run, s["image"]) for s in samples]
        methods[method] = ([m for m, _ in predictions], [t * 1000 for _, t in predictions])
    peer = mediapipe_masks({s["id"]: s["image"] for s in samples}, mediapipe_python)
    if peer is not None:
        methods[MEDIAPIPE] = tuple([by_id[s["id"]] for s in samples] for by_id in peer)
    for method, (masks, ms) in methods.items():
        truths = [s["alpha"] / 255.0 for s in samples]
        scored.rows[method] = [
            {"id": s["id"], "iou": mask_iou(m, truth), "mse": mse(m, truth), "ms": t}
            for s, truth, m, t in zip(samples, truths, masks, ms, strict=True)
        ]
        scored.masks[method] = [to_uint8(m) for m in masks]
    return scored


# --------------------------------------------------------------------------- alpha


def closed_form(image: np.ndarray, trimap: np.ndarray) -> tuple[np.ndarray, bool]:
    """Closed-form matting of uint8 ``image`` with a uint8 ``trimap`` (0 / 128 / 255, see
    :func:`matting.metrics.trimap_from_mask`); where it has no foreground or no background (a mask
    thinner than the band, or none) it cannot run: the trimap's foreground as the alpha, False."""
    from pymatting import estimate_alpha_cf

    if not ((trimap == TRIMAP_FG).any() and (trimap == TRIMAP_BG).any()):
        return (trimap == TRIMAP_FG).astype(np.float64), False
    return estimate_alpha_cf(image / 255.0, trimap / 255.0), True


def alpha_metrics(alpha: np.ndarray, truth: np.ndarray, band: np.ndarray) -> dict:
    """MSE and SAD (/ 1000) of ``alpha`` over the whole image and over ``band``, alpha in [0, 1]."""
    alpha = np.clip(alpha, 0.0, 1.0)
    return {
        "mse": mse(alpha, truth),
        "sad": sad(alpha, truth),
        "mse_band": mse(alpha, truth, band),
        "sad_band": sad(alpha, truth, band),
    }


def score_alpha(pipeline: MattingPipeline, folder: Path, selection: Selection, limit: int | None):
    """The rows of :data:`ALPHA_ROWS` on the selected photos of ``folder`` (``image/`` + ``alpha/``):
    per row, per image ``{id, mse, sad, mse_band, sad_band, s}``; and how often closed form could not run."""
    samples, skipped = load_folder_arrays(
        folder / "image", folder / "alpha", max_images=limit, stems=selection.stems
    )
    for skip in skipped:
        print(f"skipped: {skip['reason']}")
    rows = {name: [] for name in ALPHA_ROWS}
    # Warm-up: with and without a given mask, at two sizes (the second trace serves every size);
    # closed form once, small (pymatting compiles its numba code on the first call).
    for image in (samples[0]["image"], samples[0]["image"][:-1, :-1]):
        pipeline.predict_stages(image)
        pipeline.refine(image, np.ones(image.shape[:2], np.float32))
    small = cv2.resize(samples[0]["alpha"], (64, 64), interpolation=cv2.INTER_NEAREST) >= 128
    closed_form(cv2.resize(samples[0]["image"], (64, 64)), trimap_from_mask(small, 4))
    not_run = 0
    for s in samples:
        truth = s["alpha"] / 255.0
        mask = (s["alpha"] >= 128).astype(np.float32)  # the true alpha > 0.5
        trimap = trimap_from_mask(mask, BAND)
        band = trimap == TRIMAP_UNKNOWN
        given, given_s = timed(pipeline.refine, s["image"], mask)
        (cf, ran), cf_s = timed(closed_form, s["image"], trimap)
        stages, stages_s = timed(pipeline.predict_stages, s["image"])
        coarse_trimap = trimap_from_mask(stages["coarse"], BAND)
        (cf_coarse, ran_coarse), cf_coarse_s = timed(closed_form, s["image"], coarse_trimap)
        not_run += (not ran) + (not ran_coarse)
        for name, alpha, seconds in (
            (TRUE_MASK, mask, float("nan")),
            (TRUE_REFINED, given, given_s),
            (TRUE_CF, cf, cf_s),
            (COARSE_REFINED, stages["alpha"], stages_s),
            (COARSE_CF, cf_coarse, cf_coarse_s),
        ):
            rows[name].append({"id": s["id"], **alpha_metrics(alpha, truth, band), "s": seconds})
        print(f"  {s['id']}: refinement {given_s:.2f} s, closed-form {cf_s:.1f} s", flush=True)
    return rows, not_run


def pipeline_ms(pipeline: MattingPipeline, repeats: int = 5) -> float:
    image = np.random.default_rng(0).integers(0, 256, (768, 640, 3), np.uint8)
    pipeline.predict(image)
    return float(np.median([timed(pipeline.predict, image)[1] * 1000 for _ in range(repeats)]))


# --------------------------------------------------------------------------- report


def no_nan(value):
    """``value`` with every NaN float (no time for the true mask itself, an empty band) as None: JSON."""
    if isinstance(value, dict):
        return {k: no_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [no_nan(v) for v in value]
    return None if isinstance(value, float) and np.isnan(value) else value


def mean(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows if not np.isnan(r[key])]
    return float(np.mean(values)) if values else float("nan")


def photos_label(selection: Selection, count: int) -> str:
    return f"{count} {'held out' if selection.held_out else 'ALL, training photos included'}"


def mask_table(sets: list[MaskSet]) -> str:
    rows = [
        [method, scored.name, photos_label(scored.selection, len(per_image)), f"{mean(per_image, 'iou'):.4f}",
         f"{mean(per_image, 'mse'):.4f}", f"{mean(per_image, 'ms'):.1f}"]
        for scored in sets
        for method, per_image in scored.rows.items()
    ]  # fmt: skip
    return markdown_table(["method", "set", "photos", "IoU", "MSE", "ms per image"], rows)


def alpha_table(rows: dict[str, list[dict]], selection: Selection) -> str:
    def cell(value: float, digits: int) -> str:
        return "-" if np.isnan(value) else f"{value:.{digits}f}"

    body = [
        [name, photos_label(selection, len(per_image)), cell(mean(per_image, "mse"), 4),
         cell(mean(per_image, "sad"), 2), cell(mean(per_image, "mse_band"), 4),
         cell(mean(per_image, "sad_band"), 2), cell(mean(per_image, "s"), 3)]
        for name, per_image in rows.items()
    ]  # fmt: skip
    header = ["method", "photos", "MSE", "SAD", "MSE (band)", "SAD (band)", "s per image"]
    return markdown_table(header, body)


def save_chart(path: Path, sets: list[MaskSet], alpha: dict[str, list[dict]], held_out: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    methods = list(dict.fromkeys(m for s in sets for m in s.rows))
    x = np.arange(len(sets))
    width = 0.8 / max(len(methods), 1)
    for i, method in enumerate(methods):
        for ax, key in ((axes[0, 0], "iou"), (axes[0, 1], "mse")):
            values = [mean(s.rows[method], key) if method in s.rows else 0.0 for s in sets]
            ax.bar(x + i * width, values, width, label=method, color=PALETTE[i % len(PALETTE)])
    titles = ("person masks: IoU (higher is better)", "person masks: MSE of the soft mask (lower is better)")
    for ax, title in zip(axes[0], titles, strict=True):
        ax.set_xticks(x + width * (len(methods) - 1) / 2, [f"{s.name} ({len(s.samples)})" for s in sets])
        ax.set_title(title, fontsize=10)
    axes[0, 0].set_ylim(0, 1.15)
    axes[0, 0].legend(fontsize=8, loc="upper center", ncol=len(methods))
    names = list(alpha)
    y = np.arange(len(names))
    labels = [SHORT.get(n, n) for n in names]
    ax = axes[1, 0]
    ax.barh(y - 0.2, [mean(alpha[n], "mse") for n in names], 0.4, label="whole image", color="#4c72b0")
    ax.barh(
        y + 0.2, [mean(alpha[n], "mse_band") for n in names], 0.4, label=f"+-{BAND} px band", color="#55a868"
    )
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.legend(fontsize=8)
    ax.set_title(f"alphamatting ({len(alpha[TRUE_MASK])}): MSE (lower is better)", fontsize=10)
    timed_names = [n for n in names if not np.isnan(mean(alpha[n], "s"))]
    ax = axes[1, 1]
    ax.barh(np.arange(len(timed_names)), [mean(alpha[n], "s") for n in timed_names], color="#8172b2")
    ax.set_yticks(np.arange(len(timed_names)), [SHORT.get(n, n) for n in timed_names], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_title("alphamatting: seconds per image (log)", fontsize=10)
    which = "held-out photos" if held_out else "ALL photos, training photos included (no --splits)"
    fig.suptitle(which, fontsize=11, color="black" if held_out else "red")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def save_worst(path: Path, sets: list[MaskSet], count: int) -> list[str]:
    """``worst.png``: the ``count`` photos of each set with the lowest IoU of ours (image, true
    mask, our mask, |error|, MediaPipe's mask where it ran); returns one line a photo."""
    samples, ours, peers, captions, lines = [], [], [], [], []
    with_peer = all(MEDIAPIPE in s.rows for s in sets)
    for scored in sets:
        for i in worst(scored.rows[OURS], count, "iou", higher_is_worse=False):
            samples.append(scored.samples[i])
            ours.append(scored.masks[OURS][i] / 255.0)
            text = f"{scored.name} {scored.samples[i]['id']}\nours IoU {scored.rows[OURS][i]['iou']:.2f}"
            if with_peer:
                peers.append(scored.masks[MEDIAPIPE][i] / 255.0)
                text += f"\nMediaPipe {scored.rows[MEDIAPIPE][i]['iou']:.2f}"
            captions.append(text)
            lines.append(text.replace("\n", ", "))
    others = [peers] if with_peer else []
    save_prediction_grid(str(path), samples, ours, others=others, captions=captions)
    return lines


def report_text(
    header: str,
    selections: dict[str, Selection],
    scored: dict[str, int],
    sets: list[MaskSet],
    alpha: dict[str, list[dict]],
    *,
    not_run: int,
    speed: dict[str, float] | None,
    worst: tuple[Path, list[str]],
) -> str:
    """The report's Markdown: ``header``, the photos of each set (``scored``: their counts), the
    person-mask and alpha tables, the whole pipeline's speed (``{row: ms}``) against closed form's,
    and the worst cases (``worst``: the grid's path and a line a photo)."""
    parts = [
        header,
        *(f"- {selections[name].describe(count)}" for name, count in scored.items()),
        "\n### Person masks: our coarse stage and whole pipeline vs MediaPipe, on the same photos\n",
        "IoU: masks thresholded at 0.5; MSE: the soft mask (our pipeline: its alpha), whole image, in "
        "[0,1], against the person mask; ms: ours the coarse stage alone (resizes included) and the "
        "whole pipeline, MediaPipe its own time (file reading excluded).\n",
        mask_table(sets),
        "\n### Alpha on alphamatting.com: the refinement alone (true mask), and from our coarse mask\n",
        f"MSE: whole image / band, alpha in [0,1]; SAD: sum of |error|, / 1000. Band: the +-{BAND} px "
        "unknown band around the true mask's edge, the same pixels for every row. Closed form gets a "
        f"+-{BAND} px trimap around its row's mask; our refinement gets the mask itself (its time: the "
        "refinement alone from the true mask, the whole graph from our coarse mask).\n",
        alpha_table(alpha, selections["alphamatting"]),
    ]
    if not_run:
        parts.append(
            f"\nClosed form could not run {not_run} times (a trimap without foreground or background: "
            "the mask is empty, full or thinner than the band): the trimap rounded stands in."
        )
    if speed:
        cf_s = mean(alpha[TRUE_CF], "s")
        rows = [[name, f"{ms:.1f}", f"{cf_s / (ms / 1000):.1f}x as long"] for name, ms in speed.items()]
        parts += [
            "\n### Whole pipeline, 768x640 input\n",
            markdown_table(["pipeline", "ms per image", "closed form (true mask) takes"], rows),
        ]
    path, lines = worst
    parts += [f"\n### Worst by our IoU ({path})\n", *(f"- {line}" for line in lines)]
    return "\n".join(parts)

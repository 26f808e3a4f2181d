"""Our pipeline beside its peers on real photos the run never trained on (../shared/data): Markdown
tables, a PNG chart and a worst-cases grid, all from one run on the same photos.

Which photos: ``--splits <shards_dir>/splits.json``, the split record the dataset builder writes
beside the run's shards, keeps only the photos whose id ``{source}:{stem}`` is in a held-out split
(``--held-out``, default ``test``) or in no split at all (the run never saw them; counted apart).
A source name is the ``name`` of the source's entry in the run's data config (``--portraits-source``,
``--people-source``, ``--alphamatting-source``; ``none`` for a folder the run never trained on).
A splits file that lists none of a folder's photos under its source name is refused. Without
``--splits`` every photo is scored, and the output says loudly that the figures include the
training photos.

- Person masks, portraits and people reported apart, each at its own resolution (people 550x825):
  our coarse stage vs MediaPipe Selfie Segmentation on the same photos: IoU (masks at 0.5),
  whole-image MSE of the soft mask, ms per image (ours: the coarse stage alone, resizes included;
  MediaPipe: its own time, file reading excluded), the number of photos. MediaPipe runs in
  .venv-mediapipe (``make mediapipe-venv``) as a subprocess that writes masks to files; where that
  environment is missing it is skipped with a message.
- Alpha on alphamatting.com (objects with a true alpha), the same images for every row:
  the refinement alone given the true mask (alpha > 0.5): that mask itself as the prediction (what a
  refinement must beat), our refinement, closed-form matting (pymatting ``estimate_alpha_cf``) with a
  trimap of +-10 px around the same mask; and, from our coarse mask, the whole pipeline and
  closed-form matting with a +-10 px trimap around that mask. MSE and SAD (/ 1000) over the whole
  image and over the band (the +-10 px unknown band around the true mask's edge: the same pixels
  for every row), seconds per image.
- The whole pipeline's ms per image on a 768x640 input (``--no-speed`` skips it).
- ``worst.png``: the ``--worst`` photos of each mask set with the lowest IoU of ours: image, true
  mask, our mask, |error|, MediaPipe's mask. ``peers.md`` (the tables), ``peers.json`` (per image),
  ``peers.png`` (the chart), all under ``--out``.

    make mediapipe-venv
    python benchmarks/peers.py      # the demo's checkpoints, every photo (NOT held out)
    # the demo trained on synthetic data only: every real photo is held out
    python benchmarks/peers.py --splits data/shards/synthetic_demo/splits.json \\
        --portraits-source none --people-source none --alphamatting-source none
    # a run of experiment=shared_real (portraits and alphamatting; no people source)
    python benchmarks/peers.py --coarse outputs/shared_real/coarse/coarse.keras \\
        --fine outputs/shared_real/fine/fine.keras --coarse-size 192 160 --fine-size 384 320 \\
        --splits data/shards/shared_real/splits.json --people-source none
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf

from matting.errors import ConfigError
from matting.evaluation.holdout import HELD_OUT, Selection, SplitRecord, select_photos
from matting.evaluation.report import run_record, save_prediction_grid
from matting.evaluation.samples import load_folder_arrays
from matting.evaluation.scoring import mask_iou, worst
from matting.inference.module import FRAMES
from matting.inference.pipeline import MattingPipeline
from matting.io.codecs import to_uint8
from matting.metrics import mse, sad
from matting.models import build_coarse_unet, build_fine_unet
from matting.tables import markdown_table

ROOT = Path(__file__).resolve().parents[1]
OURS = "coarse stage (ours)"
OURS_ALPHA = "whole pipeline (ours): its alpha"
MEDIAPIPE = "MediaPipe Selfie Segmentation"
MASK_SETS = ("portraits", "people")
BAND = 10  # px each side of a mask's edge: the closed-form trimap's unknown band, and the scored band
# The rows of the alpha table, in order: the refinement alone (true mask), then from our coarse mask.
TRUE_MASK = "true mask (alpha > 0.5) itself, as the alpha"
TRUE_REFINED = "true mask -> refinement (ours)"
TRUE_CF = "true mask -> closed-form matting"
COARSE_REFINED = "our coarse mask -> refinement (ours): the whole pipeline"
COARSE_CF = "our coarse mask -> closed-form matting"
ALPHA_ROWS = (TRUE_MASK, TRUE_REFINED, TRUE_CF, COARSE_REFINED, COARSE_CF)
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


def source_name(value: str) -> str | None:
    """A source name from the command line: ``none`` (or ``null``) for a folder the run never trained on."""
    return None if value.lower() in ("none", "null") else value


def timed(fn, *args):
    started = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - started


def coarse_stage(pipeline: MattingPipeline):
    """The coarse stage alone (:meth:`MattingModule.coarse_stage`): uint8 RGB ``[H, W, 3]`` -> mask
    ``[H, W]`` in [0, 1]; one trace for every size."""
    module = pipeline.module
    if module is None:
        raise ConfigError("the coarse stage alone needs the checkpoints, not an exported artifact")
    run = tf.function(module.coarse_stage, input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])
    return lambda image: run(tf.constant(np.asarray(image, np.float32)[None] / 255.0)).numpy()[0, ..., 0]


def trimap_from_mask(mask: np.ndarray, band: int = BAND) -> np.ndarray:
    """Foreground 1 / background 0 / unknown 0.5 (pymatting's convention) from a soft mask: the
    unknown band is ``band`` px each side of the edge of ``mask >= 0.5``."""
    binary = (mask >= 0.5).astype(np.uint8)
    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    trimap = np.full(mask.shape, 0.5)
    trimap[cv2.erode(binary, kernel) == 1] = 1.0
    trimap[cv2.dilate(binary, kernel) == 0] = 0.0
    return trimap


# --------------------------------------------------------------------------- person masks


@dataclass
class MaskSet:
    """One folder of photos with person masks, scored: per method, per-image rows and the masks."""

    name: str
    selection: Selection
    samples: list[dict]
    rows: dict[str, list[dict]] = field(default_factory=dict)  # method -> [{id, iou, mse, ms}]
    masks: dict[str, list[np.ndarray]] = field(default_factory=dict)  # method -> uint8 [H, W]


def mediapipe_masks(samples: list[dict], python: Path | None) -> tuple[list[np.ndarray], list[float]] | None:
    """MediaPipe's masks (float [H, W] in [0, 1]) and ms of each sample, run in ``python``
    (.venv-mediapipe) on the same pixels; None, with a message, where that environment is missing."""
    if python is None or not Path(python).is_file():
        print(f"MediaPipe skipped: {python} not found (run `make mediapipe-venv`)")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        images = Path(tmp) / "images"
        images.mkdir()
        for s in samples:  # the same images, as the files MediaPipe reads (PNG: lossless)
            cv2.imwrite(str(images / f"{s['id']}.png"), cv2.cvtColor(s["image"], cv2.COLOR_RGB2BGR))
        script = ROOT / "benchmarks" / "mediapipe_masks.py"
        subprocess.run([str(python), str(script), str(images), f"{tmp}/masks"], check=True)
        timing = json.loads(Path(f"{tmp}/masks/timing.json").read_text())
        masks = [cv2.imread(f"{tmp}/masks/{s['id']}.png", cv2.IMREAD_GRAYSCALE) / 255.0 for s in samples]
    return masks, [timing[s["id"]] for s in samples]


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
    for method, run in ((OURS, coarse_stage(pipeline)), (OURS_ALPHA, pipeline.predict)):
        run(samples[0]["image"])  # warm-up: the trace
        predictions = [timed(run, s["image"]) for s in samples]
        methods[method] = ([m for m, _ in predictions], [t * 1000 for _, t in predictions])
    peer = mediapipe_masks(samples, mediapipe_python)
    if peer is not None:
        methods[MEDIAPIPE] = peer
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
    """Closed-form matting of uint8 ``image`` with ``trimap``; where the trimap has no foreground or
    no background (a mask thinner than the band, or none) it cannot run: the trimap rounded, False."""
    from pymatting import estimate_alpha_cf

    if not ((trimap == 1.0).any() and (trimap == 0.0).any()):
        return np.round(trimap), False
    return estimate_alpha_cf(image / 255.0, trimap), True


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
    closed_form(cv2.resize(samples[0]["image"], (64, 64)), trimap_from_mask(small.astype(np.float32), 4))
    not_run = 0
    for s in samples:
        truth = s["alpha"] / 255.0
        mask = (s["alpha"] >= 128).astype(np.float32)  # the true alpha > 0.5
        trimap = trimap_from_mask(mask)
        band = trimap == 0.5
        given, given_s = timed(pipeline.refine, s["image"], mask)
        (cf, ran), cf_s = timed(closed_form, s["image"], trimap)
        stages, stages_s = timed(pipeline.predict_stages, s["image"])
        coarse_trimap = trimap_from_mask(stages["coarse"])
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


# --------------------------------------------------------------------------- main


def parse_args(argv=None) -> argparse.Namespace:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--coarse", default="outputs/demo/coarse/coarse.keras")
    parser.add_argument("--fine", default="outputs/demo/fine/fine.keras")
    parser.add_argument("--coarse-size", type=int, nargs=2, default=[96, 80])
    parser.add_argument("--fine-size", type=int, nargs=2, default=[192, 160])
    parser.add_argument("--fine-frame", choices=FRAMES, default="squeeze", help="model.fine_frame")
    parser.add_argument(
        "--untrained-filters", type=int, nargs="+", default=None, metavar="N",
        help="no checkpoints: fresh, untrained U-Nets of these widths (e.g. 4 8), to try the script "
        "(the figures mean nothing)",
    )  # fmt: skip
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--splits", type=Path, default=None,
        help="the run's splits.json (beside its shards): score only the photos it never trained on",
    )  # fmt: skip
    parser.add_argument(
        "--held-out", nargs="+", default=list(HELD_OUT), metavar="SPLIT",
        help="the splits that count as held out (default: test); a photo listed in no split is held out too",
    )  # fmt: skip
    for folder in ("portraits", "people", "alphamatting"):
        parser.add_argument(
            f"--{folder}-source", type=source_name, default=folder, metavar="NAME",
            help=f"the run's name of the source {folder}/ (default {folder}); none: never trained on it",
        )  # fmt: skip
    mediapipe = ROOT / ".venv-mediapipe" / "bin" / "python"
    parser.add_argument("--mediapipe-python", type=Path, default=mediapipe)
    parser.add_argument("--max-images", type=int, default=None, help="at most this many photos a folder")
    parser.add_argument("--worst", type=int, default=6, help="rows of worst.png for each mask set")
    parser.add_argument("--no-speed", action="store_true", help="skip the whole pipeline's 768x640 timing")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "peers")
    return parser.parse_args(argv)


def make_pipeline(args: argparse.Namespace) -> MattingPipeline:
    sizes = {"coarse_size": args.coarse_size, "fine_size": args.fine_size, "fine_frame": args.fine_frame}
    if args.untrained_filters:
        coarse = build_coarse_unet(filters=args.untrained_filters)
        fine = build_fine_unet(filters=args.untrained_filters)
        return MattingPipeline.from_models(coarse, fine, **sizes)
    return MattingPipeline.from_checkpoints(args.coarse, args.fine, **sizes)


def main(argv=None) -> dict:
    """Run the benchmark; returns the report (``text``), the selections and the files written."""
    args = parse_args(argv)
    record = SplitRecord.read(args.splits, args.held_out) if args.splits else None
    if record is None:
        print(NOT_HELD_OUT)
    # Every folder's selection is checked (a wrong source name refused) before any net runs.
    selections = {
        folder: select_photos(
            args.shared / folder / "image", getattr(args, f"{folder}_source"), record,
            option=f"--{folder}-source",
        )
        for folder in (*MASK_SETS, "alphamatting")
    }  # fmt: skip
    for selection in selections.values():
        print(selection.describe())
    pipeline = make_pipeline(args)
    limit = args.max_images
    sets = [
        score_mask_set(name, args.shared / name, selections[name], pipeline, args.mediapipe_python, limit)
        for name in MASK_SETS
    ]
    alpha, not_run = score_alpha(pipeline, args.shared / "alphamatting", selections["alphamatting"], limit)

    weights = "fresh untrained nets" if args.untrained_filters else f"checkpoints {args.coarse}, {args.fine}"
    scored = {s.name: len(s.samples) for s in sets} | {"alphamatting": len(alpha[TRUE_MASK])}
    parts = [
        f"{weights} (coarse {args.coarse_size}, fine {args.fine_size}).",
        "Photos: " + ("held out of the run's training, from " + str(args.splits) if record else NOT_HELD_OUT),
        *(f"- {selections[name].describe(count)}" for name, count in scored.items()),
        "\n### Person masks: our coarse stage and whole pipeline vs MediaPipe, on the same photos\n",
        "IoU: masks thresholded at 0.5; MSE: the soft mask (our pipeline: its alpha), whole image, in "
        "[0,1], against the person mask; ms: ours the coarse stage alone (resizes included) and the "
        "whole pipeline, MediaPipe its own time (file reading excluded).\n",
        mask_table(sets),
        "\n### Alpha on alphamatting.com: the refinement alone (true mask), and from our coarse mask\n",
        f"MSE: whole image / band, alpha in [0,1]; SAD: sum of |error|, / 1000. Band: the +-{BAND} px "
        "unknown band around the true mask's edge, the same pixels for every row. Closed form gets a "
        f"+-{BAND} px trimap around its row's mask; our refinement gets the mask itself (its time is the "
        "whole graph, the coarse net included).\n",
        alpha_table(alpha, selections["alphamatting"]),
    ]
    if not_run:
        parts.append(
            f"\nClosed form could not run {not_run} times (a trimap without foreground or background: "
            "the mask is empty, full or thinner than the band): the trimap rounded stands in."
        )
    if not args.no_speed:
        full_ms = pipeline_ms(pipeline)
        # The card's sizes and the default widths, fresh weights: speed does not depend on the weights.
        card_ms = pipeline_ms(MattingPipeline.from_models(build_coarse_unet(), build_fine_unet()))
        cf_s = mean(alpha[TRUE_CF], "s")
        parts += [
            "\n### Whole pipeline, 768x640 input\n",
            markdown_table(["pipeline", "ms per image", "closed form (true mask) takes"], [
                ["ours, these weights", f"{full_ms:.1f}", f"{cf_s / (full_ms / 1000):.1f}x as long"],
                ["card sizes 192x160 / 768x640", f"{card_ms:.1f}", f"{cf_s / (card_ms / 1000):.1f}x as long"],
            ]),
        ]  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    files = {name: args.out / f"peers.{name}" for name in ("md", "json", "png")}
    files["worst"] = args.out / "worst.png"
    worst_lines = save_worst(files["worst"], sets, args.worst)
    parts += [f"\n### Worst by our IoU ({files['worst']})\n", *(f"- {line}" for line in worst_lines)]
    if record is None:
        parts.append("\n" + NOT_HELD_OUT)
    text = "\n".join(parts)
    print("\n" + text)
    files["md"].write_text(text + "\n")
    payload = {
        "run": run_record(),
        "checkpoints": {} if args.untrained_filters else {"coarse": args.coarse, "fine": args.fine},
        "held_out": record is not None,
        "photos": {name: selections[name].summary(count) for name, count in scored.items()},
        "masks": {s.name: s.rows for s in sets},
        "alpha": alpha,
    }
    files["json"].write_text(json.dumps(no_nan(payload), indent=1))
    save_chart(files["png"], sets, alpha, record is not None)
    print(f"report: {files['md']}, {files['json']}; chart: {files['png']}; worst cases: {files['worst']}")
    return {"text": text, "selections": selections, "files": files, "sets": sets, "alpha": alpha}


if __name__ == "__main__":
    main()

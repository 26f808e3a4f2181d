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
from pathlib import Path

from matting.evaluation import peers as lib
from matting.evaluation.holdout import HELD_OUT, SplitRecord, select_photos
from matting.evaluation.methods import MASK_SETS
from matting.evaluation.report import run_record
from matting.inference.module import FRAMES
from matting.inference.pipeline import MattingPipeline
from matting.models import build_coarse_unet, build_fine_unet

ROOT = Path(__file__).resolve().parents[1]


def source_name(value: str) -> str | None:
    """A source name from the command line: ``none`` (or ``null``) for a folder the run never trained on."""
    return None if value.lower() in ("none", "null") else value


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
        print(lib.NOT_HELD_OUT)
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
        lib.score_mask_set(name, args.shared / name, selections[name], pipeline, args.mediapipe_python, limit)
        for name in MASK_SETS
    ]
    alpha, not_run = lib.score_alpha(
        pipeline, args.shared / "alphamatting", selections["alphamatting"], limit
    )

    speed = None
    if not args.no_speed:  # the card's sizes and default widths, fresh: speed does not depend on weights
        card = MattingPipeline.from_models(build_coarse_unet(), build_fine_unet())
        speed = {
            "ours, these weights": lib.pipeline_ms(pipeline),
            "card sizes 192x160 / 768x640": lib.pipeline_ms(card),
        }
    args.out.mkdir(parents=True, exist_ok=True)
    files = {name: args.out / f"peers.{name}" for name in ("md", "json", "png")}
    files["worst"] = args.out / "worst.png"
    worst_lines = lib.save_worst(files["worst"], sets, args.worst)
    weights = "fresh untrained nets" if args.untrained_filters else f"checkpoints {args.coarse}, {args.fine}"
    scored = {s.name: len(s.samples) for s in sets} | {"alphamatting": len(alpha[lib.TRUE_MASK])}
    held_out = f"held out of the run's training, from {args.splits}" if record else lib.NOT_HELD_OUT
    text = lib.report_text(
        f"{weights} (coarse {args.coarse_size}, fine {args.fine_size}).\nPhotos: {held_out}",
        selections, scored, sets, alpha, not_run=not_run, speed=speed, worst=(files["worst"], worst_lines),
    )  # fmt: skip
    if record is None:
        text += "\n\n" + lib.NOT_HELD_OUT
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
    files["json"].write_text(json.dumps(lib.no_nan(payload), indent=1))
    lib.save_chart(files["png"], sets, alpha, record is not None)
    print(f"report: {files['md']}, {files['json']}; chart: {files['png']}; worst cases: {files['worst']}")
    return {"text": text, "selections": selections, "files": files, "sets": sets, "alpha": alpha}


if __name__ == "__main__":
    main()

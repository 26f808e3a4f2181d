"""Our pipeline beside its peers on the real photos of ../shared/data, in one table and a PNG chart.

- Coarse stage vs MediaPipe Selfie Segmentation on the portraits (person masks): IoU (masks at
  0.5), whole-image MSE of the soft mask, ms per image. MediaPipe runs in .venv-mediapipe
  (`make mediapipe-venv`) as a subprocess that writes masks to files.
- Refinement vs closed-form matting (pymatting ``estimate_alpha_cf``) on the alphamatting.com images,
  both given our coarse mask: closed-form gets a trimap from it (mask > 0.5, unknown band +-10 px),
  our refinement gets the mask itself. MSE (whole image, alpha in [0,1]), SAD (/ 1000), s per image.
- The whole pipeline's ms per image on a 768x640 input.

    make mediapipe-venv
    python benchmarks/peers.py        # the demo's checkpoints (outputs/demo), sizes 96x80 / 192x160
    python benchmarks/peers.py --coarse C.keras --fine F.keras --coarse-size 192 160 --fine-size 768 640
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from matting.evaluation.samples import load_folder_arrays
from matting.evaluation.scoring import mask_iou
from matting.inference.pipeline import MattingPipeline
from matting.metrics import mad, mse, sad
from matting.models import build_coarse_unet, build_fine_unet
from matting.tables import markdown_table

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, *args):
    started = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - started


def coarse_rows(pipeline: MattingPipeline, portraits: Path, mediapipe_python: Path | None, limit: int | None):
    samples, _ = load_folder_arrays(portraits / "image", portraits / "mask", max_images=limit)
    ours = {"iou": [], "mse": [], "ms": []}
    pipeline.predict_stages(samples[0]["image"])  # warm-up
    for s in samples:
        out, seconds = timed(pipeline.predict_stages, s["image"])
        truth = s["alpha"] / 255.0
        ours["iou"].append(mask_iou(out["coarse"], truth))
        ours["mse"].append(mse(out["coarse"], truth))
        ours["ms"].append(seconds * 1000)
    rows = {"coarse stage (ours)": ours}
    if mediapipe_python and mediapipe_python.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            images = Path(tmp) / "images"
            images.mkdir()
            for s in samples:  # the same images, as the files MediaPipe reads
                cv2.imwrite(str(images / f"{s['id']}.png"), cv2.cvtColor(s["image"], cv2.COLOR_RGB2BGR))
            script = ROOT / "benchmarks" / "mediapipe_masks.py"
            subprocess.run([str(mediapipe_python), str(script), str(images), f"{tmp}/masks"], check=True)
            timing = json.loads(Path(f"{tmp}/masks/timing.json").read_text())
            theirs = {"iou": [], "mse": [], "ms": []}
            for s in samples:
                mask = cv2.imread(f"{tmp}/masks/{s['id']}.png", cv2.IMREAD_GRAYSCALE) / 255.0
                truth = s["alpha"] / 255.0
                theirs["iou"].append(mask_iou(mask, truth))
                theirs["mse"].append(mse(mask, truth))
                theirs["ms"].append(timing[s["id"]])
        rows["MediaPipe Selfie Segmentation"] = theirs
    else:
        print(f"MediaPipe skipped: {mediapipe_python} not found (run `make mediapipe-venv`)")
    return rows, len(samples)


def trimap_from_mask(mask: np.ndarray, band: int = 10) -> np.ndarray:
    """Foreground 1 / background 0 / unknown 0.5 (pymatting's convention) from a soft mask."""
    binary = (mask >= 0.5).astype(np.uint8)
    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    trimap = np.full(mask.shape, 0.5)
    trimap[cv2.erode(binary, kernel) == 1] = 1.0
    trimap[cv2.dilate(binary, kernel) == 0] = 0.0
    return trimap


def refinement_rows(pipeline: MattingPipeline, folder: Path, limit: int | None):
    from pymatting import estimate_alpha_cf

    samples, _ = load_folder_arrays(folder / "image", folder / "alpha", max_images=limit)
    rows = {"refinement (ours)": {"mse": [], "sad": [], "mad": [], "s": []},
            "closed-form matting": {"mse": [], "sad": [], "mad": [], "s": []}}  # fmt: skip
    pipeline.predict(samples[0]["image"])  # warm-up
    for s in samples:
        truth = s["alpha"] / 255.0
        ours, ours_s = timed(pipeline.predict, s["image"])
        coarse = pipeline.predict_stages(s["image"])["coarse"]
        theirs, theirs_s = timed(estimate_alpha_cf, s["image"] / 255.0, trimap_from_mask(coarse))
        for name, alpha, seconds in (
            ("refinement (ours)", ours, ours_s),
            ("closed-form matting", theirs, theirs_s),
        ):
            alpha = np.clip(alpha, 0.0, 1.0)
            rows[name]["mse"].append(mse(alpha, truth))
            rows[name]["sad"].append(sad(alpha, truth))
            rows[name]["mad"].append(mad(alpha, truth))
            rows[name]["s"].append(seconds)
        print(f"  {s['id']}: ours {ours_s:.2f} s, closed-form {theirs_s:.1f} s", flush=True)
    return rows, len(samples)


def pipeline_ms(pipeline: MattingPipeline, repeats: int = 5) -> float:
    image = np.random.default_rng(0).integers(0, 256, (768, 640, 3), np.uint8)
    pipeline.predict(image)
    return float(np.median([timed(pipeline.predict, image)[1] * 1000 for _ in range(repeats)]))


def save_chart(path: Path, coarse: dict, refine: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    names = list(coarse)
    axes[0].bar(names, [np.mean(coarse[n]["iou"]) for n in names], color=["#4c72b0", "#dd8452"][: len(names)])
    axes[0].set_title("coarse: IoU on portraits (higher is better)")
    names = list(refine)
    axes[1].bar(names, [np.mean(refine[n]["mse"]) for n in names], color=["#4c72b0", "#55a868"])
    axes[1].set_title("alpha: MSE on alphamatting (lower is better)")
    axes[2].bar(names, [np.mean(refine[n]["s"]) for n in names], color=["#4c72b0", "#55a868"])
    axes[2].set_yscale("log")
    axes[2].set_title("alpha: seconds per image (log)")
    for ax in axes:
        ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--coarse", default="outputs/demo/coarse/coarse.keras")
    parser.add_argument("--fine", default="outputs/demo/fine/fine.keras")
    parser.add_argument("--coarse-size", type=int, nargs=2, default=[96, 80])
    parser.add_argument("--fine-size", type=int, nargs=2, default=[192, 160])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--mediapipe-python", type=Path, default=ROOT / ".venv-mediapipe" / "bin" / "python")
    parser.add_argument("--max-images", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "peers")
    args = parser.parse_args()

    pipeline = MattingPipeline.from_checkpoints(
        args.coarse, args.fine, coarse_size=args.coarse_size, fine_size=args.fine_size
    )
    coarse, n_portraits = coarse_rows(
        pipeline, args.shared / "portraits", args.mediapipe_python, args.max_images
    )
    refine, n_matting = refinement_rows(pipeline, args.shared / "alphamatting", args.max_images)
    full_ms = pipeline_ms(pipeline)
    # The card's sizes and the default widths, fresh weights: speed does not depend on the weights.
    card = MattingPipeline.from_models(build_coarse_unet(), build_fine_unet())
    card_ms = pipeline_ms(card)

    print(f"\nCheckpoints {args.coarse}, {args.fine} (coarse {args.coarse_size}, fine {args.fine_size}).")
    print(
        "IoU: masks thresholded at 0.5; MSE / MAD: mean over the whole image, alpha in [0,1]; SAD: / 1000.\n"
    )
    rows = [
        [name, f"portraits ({n_portraits})", f"{np.mean(r['iou']):.4f}", f"{np.mean(r['mse']):.4f}", "",
         f"{np.mean(r['ms']):.1f} ms"]
        for name, r in coarse.items()
    ]  # fmt: skip
    rows += [
        [name, f"alphamatting ({n_matting})", "", f"{np.mean(r['mse']):.4f}", f"{np.mean(r['sad']):.2f}",
         f"{np.mean(r['s']):.3f} s"]
        for name, r in refine.items()
    ]  # fmt: skip
    rows += [
        ["whole pipeline (ours, these checkpoints)", "768x640 input", "", "", "", f"{full_ms:.1f} ms"],
        ["whole pipeline (card sizes 192x160 / 768x640)", "768x640 input", "", "", "", f"{card_ms:.1f} ms"],
    ]
    print(markdown_table(["method", "data", "IoU", "MSE", "SAD", "time per image"], rows))
    closed_form = np.mean(refine["closed-form matting"]["s"])
    print(f"\nclosed-form matting per image: {closed_form / (full_ms / 1000):.1f}x these checkpoints' "
          f"pipeline, {closed_form / (card_ms / 1000):.1f}x the card-sized pipeline")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    save_chart(args.out / "peers.png", coarse, refine)
    print(f"chart: {args.out / 'peers.png'}")


if __name__ == "__main__":
    main()

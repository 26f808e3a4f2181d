"""High resolution: the refinement's alpha (at 768x640) brought back to a large image, by plain
bilinear zoom against the guided-filter upsampling the pipeline uses (``model.upsample``).

    python benchmarks/high_res.py                     # synthetic 2400x2000 portraits
    python benchmarks/high_res.py --shared ../shared/data/alphamatting   # + real alpha mattes

The low-resolution alpha is the ground truth itself resized to the refinement size, so the table
isolates what the upsampling loses (a perfect refinement net would leave exactly this error). The
alphamatting.com images (640-800 px) are reduced by the same factor as 2400 px to 768 px.
"""

from __future__ import annotations

import matting  # noqa: F401  (first: TensorFlow then starts without its no-GPU notices)

# isort: split

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf

from matting.data.composite import composite
from matting.data.synthetic import generate_background, generate_person
from matting.io.images import read_alpha, read_image
from matting.metrics import evaluate_alpha
from matting.ops import guided_upsample, resize_bilinear
from matting.tables import markdown_table


def synthetic_samples(count: int, size: tuple[int, int]):
    for i in range(count):
        rng = np.random.default_rng([7, i])
        fg, alpha = generate_person(rng, size)
        bg = generate_background(rng, size)
        a = alpha.astype(np.float32) / 255.0
        image = composite(fg / 255.0, bg / 255.0, a)
        yield f"synthetic {i}", np.clip(image, 0, 1).astype(np.float32), a


def folder_samples(root: Path):
    for path in sorted((root / "image").glob("*.png")):
        image = read_image(path).astype(np.float32) / 255.0
        yield path.stem, image, read_alpha(root / "alpha" / path.name).astype(np.float32) / 255.0


def upsample_both(image: np.ndarray, alpha: np.ndarray, factor: float):
    """(bilinear, guided, ms bilinear, ms guided) for the ground truth reduced by ``factor``."""
    h, w = alpha.shape
    low = resize_bilinear(tf.constant(alpha[None, ..., None]), (round(h / factor), round(w / factor)))
    guide = tf.constant(image[None])
    results, times = [], []
    for fn in (lambda: resize_bilinear(low, (h, w)), lambda: guided_upsample(low, guide, (h, w))):
        fn()  # warm-up
        started = time.perf_counter()
        out = fn().numpy()[0, ..., 0]
        times.append((time.perf_counter() - started) * 1000)
        results.append(np.clip(out, 0.0, 1.0))
    return (*results, *times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=4, help="synthetic portraits")
    parser.add_argument("--size", type=int, nargs=2, default=[2400, 2000])
    parser.add_argument("--shared", type=Path, help="an alphamatting-style folder (image/, alpha/)")
    args = parser.parse_args()

    factor = args.size[0] / 768
    sets = [(f"synthetic {args.size[0]}x{args.size[1]}", synthetic_samples(args.count, tuple(args.size)))]
    if args.shared:
        sets.append((f"{args.shared.name} (reduced {factor:.2f}x)", folder_samples(args.shared)))

    print(
        f"\nGround-truth alpha reduced {factor:.2f}x (as {args.size[0]} px to 768 px), then upsampled back."
    )
    print("MSE and MAD: mean over the image, alpha in [0,1]; SAD and Grad: DIM definitions, / 1000;")
    print("'unknown': the band of a trimap from the ground truth (25 px disk).\n")
    table = []
    for name, samples in sets:
        scores = {"bilinear": [], "guided": []}
        for _, image, alpha in samples:
            bilinear, guided, ms_bilinear, ms_guided = upsample_both(image, alpha, factor)
            for key, pred, ms in (("bilinear", bilinear, ms_bilinear), ("guided", guided, ms_guided)):
                m = evaluate_alpha(pred, alpha, metrics=("mse", "sad", "grad"))
                scores[key].append((m["mse"], m["mse_unknown"], m["sad"], m["grad"], ms))
        for key, rows in scores.items():
            mean = np.mean(rows, axis=0)
            table.append([f"{name} ({len(rows)})", key, f"{mean[0]:.5f}", f"{mean[1]:.5f}", f"{mean[2]:.2f}",
                          f"{mean[3]:.2f}", f"{mean[4]:.0f}"])  # fmt: skip
    print(markdown_table(["images", "upsampling", "MSE", "MSE (unknown)", "SAD", "Grad", "ms"], table))


if __name__ == "__main__":
    cv2.setNumThreads(2)
    main()

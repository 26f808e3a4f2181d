"""Parameters, GFLOPs and ms per image of each net and of the whole pipeline at the card sizes
(coarse 192x160, refinement 768x640, a 768x640 input), beside this machine's matmul rate and two
peers timed in the same run: MediaPipe Selfie Segmentation (ms per image, in .venv-mediapipe) and
closed-form matting (pymatting ``estimate_alpha_cf``, s per image on ../shared/data/alphamatting,
trimap +-10 px around the true alpha > 0.5). The whole pipeline is timed twice: in TensorFlow (what
evaluation, the SavedModel and ModelScope's frozen graph run) and exported to ONNX, in ONNX Runtime.

    make mediapipe-venv                                   # once; MediaPipe is skipped without it
    python benchmarks/model_speed.py            # both archs, as configs/model/{unet,fast}.yaml set them
    python benchmarks/model_speed.py --arch fast --repeats 20   # the ratios to quote (see below)
    python benchmarks/model_speed.py --arch released --repeats 20   # the released model's nets
    python benchmarks/model_speed.py --arch fast --repeats 20 --no-closed-form --no-onnx

For the ratios, time one arch at a time: with the U-Nets in the same rounds, closed form ran about
twice as slowly (1.385 s against 0.754-0.763 s per image in runs minutes apart), which flatters
every pipeline's ratio to it.

Each net is timed as the pipeline runs it, its batch norms folded into its convolutions
(``matting.models.folding``), with a trained net's kind of batch-norm statistics
(``with_trained_statistics``). The whole pipelines are timed the way MediaPipe is, the median over
consecutive images, in blocks of ``--block`` between closed-form images (``interleaved_times``);
the first call of each block, after closed form's pause, is reported beside it.
FLOPs come from TensorFlow's profiler on the traced graph (multiply-adds count as two FLOPs; resizes,
pooling and elementwise ops are not counted). "GFLOP/s" is what the net achieves; "of matmul" divides
it by the rate of a 2048x2048 float32 matmul timed at the start of the run.
"""

from __future__ import annotations

import matting  # noqa: F401  (first: TensorFlow then starts without its no-GPU notices)

# isort: split

import argparse
import json
import sys
import tempfile
from pathlib import Path

import cv2
import keras
import numpy as np
import tensorflow as tf
from omegaconf import OmegaConf

from matting.evaluation.peers import mediapipe_masks
from matting.evaluation.report import run_record
from matting.evaluation.results import model_speed_tables
from matting.evaluation.timing import (
    flops,
    interleaved_times,
    matmul_gflops,
    ms_per_image,
    with_trained_statistics,
)
from matting.export import export, load_pipeline
from matting.inference.pipeline import MattingPipeline
from matting.io.files import write_atomic
from matting.layout import stage_files
from matting.metrics import trimap_from_mask
from matting.models import build_coarse, build_fine
from matting.models.folding import fold_batch_norms
from matting.models.loading import load_checkpoint

COARSE_SHAPE, FINE_SHAPE = (1, 192, 160, 3), (1, 768, 640, 4)
ROOT = Path(__file__).resolve().parents[1]
RELEASED = ROOT / "pretrained" / "portrait"


def mediapipe_ms(python: Path, portraits: Path, count: int = 20) -> float | None:
    """MediaPipe's median ms per image on ``count`` portraits resized to 768x640 (the pipeline's input
    here), run in its own venv (:func:`matting.evaluation.peers.mediapipe_masks`); None without it."""
    if not python.is_file():
        return None
    images = {}  # in file-name order, the order MediaPipe runs them
    for path in sorted((portraits / "image").iterdir())[:count]:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        images[path.stem] = cv2.cvtColor(cv2.resize(image, (640, 768)), cv2.COLOR_BGR2RGB)
    times = list(mediapipe_masks(images, python)[1].values())
    return float(np.median(times[1:]))  # the first call loads the model


def closed_form_inputs(folder: Path, limit: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The alphamatting images (RGB in [0, 1]) with their +-10 px trimaps around the true alpha > 0.5."""
    inputs = []
    for path in sorted((folder / "image").iterdir())[:limit]:
        image = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) / 255.0
        truth = cv2.imread(str(folder / "alpha" / path.name), cv2.IMREAD_GRAYSCALE) / 255.0
        inputs.append((image, trimap_from_mask(truth) / 255.0))
    return inputs


def net_options(arch: str) -> dict:
    """``model.coarse`` / ``model.fine`` of configs/model/<arch>.yaml (arch included)."""
    cfg = OmegaConf.to_container(OmegaConf.load(ROOT / "configs" / "model" / f"{arch}.yaml"))
    return {"coarse": cfg["coarse"], "fine": cfg["fine"]}


def nets(arch: str) -> tuple[keras.Model, keras.Model]:
    """The (coarse, refinement) nets of ``arch``: ``released``, the released model's checkpoints
    (pretrained/portrait); else configs/model/<arch>.yaml's, with trained-like statistics."""
    if arch == "released":
        return tuple(load_checkpoint(stage_files(RELEASED, stage).last) for stage in ("coarse", "fine"))
    options = net_options(arch)
    coarse = with_trained_statistics(build_coarse(**options["coarse"]), seed=0)
    return coarse, with_trained_statistics(build_fine(**options["fine"]), seed=1)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--arch", nargs="+", default=["unet", "fast"],
        help="configs/model/<arch>.yaml; released: the released model (pretrained/portrait)",
    )  # fmt: skip
    parser.add_argument("--repeats", type=int, default=10, help="calls per net timed alone")
    parser.add_argument(
        "--block", type=int, default=10, help="consecutive pipeline calls per closed-form image"
    )
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--mediapipe-python", type=Path, default=ROOT / ".venv-mediapipe" / "bin" / "python")
    parser.add_argument("--closed-form-images", type=int, default=None, help="default: all")
    parser.add_argument("--no-closed-form", action="store_true")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX Runtime pipeline")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here (make results)")
    args = parser.parse_args()

    rate = matmul_gflops()
    nets_rows, pipelines, whole = [], {}, []

    def row(name, size, params, gflop, ms):
        nets_rows.append({"name": name, "input": size, "parameters": params, "gflops": gflop, "ms": ms})

    with tempfile.TemporaryDirectory() as tmp:
        for arch in args.arch:
            coarse, fine = nets(arch)
            for stage, model, shape in (("coarse", coarse, COARSE_SHAPE), ("refinement", fine, FINE_SHAPE)):
                size = "x".join(str(s) for s in shape[1:])
                folded = fold_batch_norms(model)  # as the pipeline runs it
                row(f"{arch}: {stage}", size, model.count_params(), flops(folded, shape) / 1e9,
                    ms_per_image(folded, shape, args.repeats))  # fmt: skip
            pipeline = MattingPipeline.from_models(coarse, fine)  # the card sizes
            params = coarse.count_params() + fine.count_params()
            gflop = flops(pipeline.module, (1, 768, 640, 3)) / 1e9
            pipelines[arch] = pipeline
            whole.append((arch, f"{arch}: whole pipeline", params, gflop))
            if not args.no_onnx:
                path = export(pipeline.module, f"{tmp}/{arch}_onnx", format="onnx")
                pipelines[f"{arch} (ONNX Runtime)"] = load_pipeline("onnx", str(path))
                whole.append(
                    (f"{arch} (ONNX Runtime)", f"{arch}: whole pipeline, ONNX Runtime", params, gflop)
                )
        if not args.mediapipe_python.is_file():
            print(f"MediaPipe skipped: {args.mediapipe_python} not found (run `make mediapipe-venv`)")
        mediapipe = mediapipe_ms(args.mediapipe_python, args.shared / "portraits")
        closed_form_images = (
            []
            if args.no_closed_form
            else closed_form_inputs(args.shared / "alphamatting", args.closed_form_images)
        )
        pipeline_times, closed_form = interleaved_times(pipelines, args.block, closed_form_images)
    for key, name, params, gflop in whole:
        row(name, "768x640x3 (uint8)", params, gflop, pipeline_times[key]["per_image"])

    from tensorflow.python.util import _pywrap_util_port  # what this process loaded, not what was asked

    payload = {
        "kind": "model_speed",
        "run": run_record(),
        "matmul_gflops": rate,
        "onednn": bool(_pywrap_util_port.IsMklEnabled()),
        "threads": tf.config.threading.get_intra_op_parallelism_threads() or "all",
        "repeats": args.repeats,
        "nets": nets_rows,
        "pipelines": pipeline_times,
        "mediapipe_ms": mediapipe,
        "closed_form_s": closed_form,
        "closed_form_images": len(closed_form_images),
    }
    print("\n" + model_speed_tables(payload))
    if args.json:
        write_atomic(args.json, (json.dumps(payload, indent=1) + "\n").encode())
        print(f"figures: {args.json}")


if __name__ == "__main__":
    sys.exit(main())

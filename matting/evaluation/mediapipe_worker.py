"""Person masks from MediaPipe Selfie Segmentation, for benchmarks/peers.py.

Runs inside .venv-mediapipe (`make mediapipe-venv`): mediapipe 0.10.14 pins protobuf below 5 and
pulls opencv-contrib-python and jax, which clash with TensorFlow 2.21, so it lives in its own
environment and talks to the benchmark through files only.

    .venv-mediapipe/bin/python benchmarks/mediapipe_masks.py IMAGE_DIR OUT_DIR

Writes OUT_DIR/<stem>.png (the mask probability as 8-bit) and OUT_DIR/timing.json (ms per image,
excluding file reading and writing).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np

# No `matting` import: this runs in .venv-mediapipe, so the mask is converted to 8 bits here.


def main(image_dir: str, out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    times = {}
    # model_selection=0: the general model (256x256), the one for whole portraits.
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as segmenter:
        for path in sorted(Path(image_dir).iterdir()):
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                continue
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            started = time.perf_counter()
            mask = segmenter.process(rgb).segmentation_mask  # float32 [H, W] in [0, 1]
            times[path.stem] = (time.perf_counter() - started) * 1000
            cv2.imwrite(str(out / f"{path.stem}.png"), np.clip(np.rint(mask * 255), 0, 255).astype(np.uint8))
    (out / "timing.json").write_text(json.dumps(times))


if __name__ == "__main__":
    main(*sys.argv[1:3])

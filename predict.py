"""Matte an image or a folder of images: RGBA and alpha PNGs, optionally on a new background.

    python predict.py input=photo.jpg                          # outputs/<name>/predict/photo_*.png
    python predict.py input=photos/ background=[0,177,64]      # also composites on green
    python predict.py input=photos/ background=beach.jpg out_dir=results/
    python predict.py input=photo.jpg model_format=onnx model_path=outputs/default/export/onnx
    python predict.py input=photos/ mask=masks/                 # refine your own masks (same names)

A file that fails (unreadable, over ``max_pixels``, foreground estimation, a write) is skipped and the
run goes on; the skips are printed and listed in ``<out_dir>/skipped.csv``. The last line is
``N written, K skipped``; the exit status is 0 when nothing was skipped, 1 when some file was, and 2
for a mistake in the command (``cli_common.run``).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from cli_common import checkpoints, exit_after_folder_run, plain, report_skipped, run
from matting.errors import ConfigError
from matting.export import load_pipeline
from matting.predict import input_files, mask_files, predict_files


def predict(cfg: DictConfig) -> dict:
    """Matte ``cfg.input`` into ``cfg.out_dir``; returns the count written, the skipped files and
    the run's last line (``summary``)."""
    files = input_files(cfg.input)
    if cfg.mask is not None and cfg.model_format != "keras":
        raise ConfigError(f"mask= refines with the checkpoints' refinement net: model_format=keras, "
                          f"not {cfg.model_format}")  # fmt: skip
    masks = None if cfg.mask is None else mask_files(cfg.mask, files)
    pipeline = load_pipeline(cfg.model_format, cfg.model_path, **checkpoints(cfg))
    result = predict_files(
        pipeline,
        files,
        cfg.out_dir,
        background=plain(cfg)["background"],
        masks=masks,
        estimate_foreground_colours=cfg.estimate_foreground,
        max_pixels=cfg.max_pixels,
    )
    print(f"outputs: {cfg.out_dir}")
    result["summary"] = report_skipped(cfg.out_dir, result["written"], "written", result["skipped"])
    return result


@hydra.main(version_base="1.3", config_path="configs", config_name="predict")
def main(cfg: DictConfig) -> None:
    exit_after_folder_run(run("predict", predict, cfg))


if __name__ == "__main__":
    main()

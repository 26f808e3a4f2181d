"""Matte an image or a folder of images: RGBA and alpha PNGs, optionally on a new background.

    python predict.py input=photo.jpg                          # outputs/<name>/predict/photo_*.png
    python predict.py input=photos/ background=[0,177,64]      # also composites on green
    python predict.py input=photos/ background=beach.jpg out_dir=results/
    python predict.py input=photo.jpg model_format=onnx model_path=outputs/default/export/onnx

Unreadable files in a folder are skipped, counted and listed at the end.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from cli_common import checkpoints, plain, run
from matting.export import load_pipeline
from matting.predict import input_files, predict_files


def predict(cfg: DictConfig) -> dict:
    """Matte ``cfg.input`` into ``cfg.out_dir``; returns the counts and skipped files."""
    files = input_files(cfg.input)
    pipeline = load_pipeline(cfg.model_format, cfg.model_path, **checkpoints(cfg))
    background = plain(cfg)["background"]
    result = predict_files(
        pipeline,
        files,
        cfg.out_dir,
        background=background,
        estimate_foreground_colours=cfg.estimate_foreground,
        max_pixels=cfg.max_pixels,
    )
    print(f"wrote {result['written']} of {len(files)} images to {cfg.out_dir}")
    for skip in result["skipped"]:
        print(f"skipped {skip['path']}: {skip['reason']}")
    if result["skipped"]:
        print(f"{len(result['skipped'])} unreadable files skipped")
    return result


@hydra.main(version_base="1.3", config_path="configs", config_name="predict")
def main(cfg: DictConfig) -> None:
    run("predict", predict, cfg)


if __name__ == "__main__":
    main()

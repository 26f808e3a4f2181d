"""Score the trained pipeline on a built split through ``matting.inference`` and print a table.

    python evaluate.py                          # test split, trained vs untrained
    python evaluate.py split=val max_images=50
    python evaluate.py model_format=onnx model_path=outputs/default/export/onnx   # score an export
    python evaluate.py +exports.tflite=outputs/default/export/tflite    # add a row for one

Writes per_image.csv, summary.json, summary.md and predictions.png to ``out_dir``.
"""

from __future__ import annotations

from pathlib import Path

import hydra
import keras
from omegaconf import DictConfig

from cli_common import plain, run
from matting.data.pipeline import split_files
from matting.evaluation import (
    format_table,
    load_split_arrays,
    save_prediction_grid,
    score,
    summarize,
    write_report,
)
from matting.inference import MattingPipeline
from matting.models.unet import build_coarse_unet, build_fine_unet


def evaluate(cfg: DictConfig) -> dict:
    """Score the trained checkpoints (and the export and untrained weights, if asked); returns the
    summaries by pipeline name."""
    model = plain(cfg.model)
    sizes = {"coarse_size": model["coarse_size"], "fine_size": model["fine_size"]}
    checkpoints = {"coarse": cfg.coarse_checkpoint, "fine": cfg.fine_checkpoint, **sizes}
    pipelines = {"trained": MattingPipeline.load(cfg.model_format, cfg.model_path, **checkpoints)}
    for format, path in plain(cfg.exports).items():
        pipelines[f"trained, {format}"] = MattingPipeline.load(format, path)
    if cfg.compare_untrained:
        keras.utils.set_random_seed(0)
        untrained = build_coarse_unet(**model["coarse"]), build_fine_unet(**model["fine"])
        pipelines["untrained"] = MattingPipeline.from_models(*untrained, **sizes)

    samples = load_split_arrays(split_files(cfg.data.shards_dir, cfg.split), cfg.max_images)
    summaries, first_rows = {}, None
    for name, pipeline in pipelines.items():
        rows, preds = score(pipeline, samples, batch_size=cfg.batch_size, desc=name)
        summaries[name] = summarize(rows)
        if first_rows is None:
            first_rows = rows
            save_prediction_grid(str(Path(cfg.out_dir) / "predictions.png"), samples, preds, cfg.grid_rows)
    title = f"{cfg.split} split of {cfg.data.name}: {len(samples)} images"
    table = format_table(summaries, title=title)
    write_report(cfg.out_dir, first_rows, summaries, table)
    print(table)
    if "untrained" in summaries:
        ratio = summaries["untrained"]["mse"] / max(summaries["trained"]["mse"], 1e-12)
        print(f"\nuntrained / trained test MSE: {ratio:.1f}x")
    print(f"report: {cfg.out_dir}/summary.md, grid: {cfg.out_dir}/predictions.png")
    return summaries


@hydra.main(version_base="1.3", config_path="configs", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    run("evaluate", evaluate, cfg)


if __name__ == "__main__":
    main()

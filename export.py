"""Export the trained pipeline (the same ``matting.inference`` graph evaluation runs).

python export.py                       # SavedModel to outputs/<name>/export/saved_model
python export.py format=modelscope     # tf_graph.pb + configuration.json for ModelScope
python export.py format=tflite options.tflite.quantization=float16
python export.py format=onnx
python export.py experiment=demo overwrite=true
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from cli_common import checkpoints, pipeline_options, plain, run
from matting.export import export as export_module
from matting.inference.pipeline import MattingPipeline


def export(cfg: DictConfig) -> str:
    """Load the two checkpoints, export the pipeline in ``cfg.format``; returns the path."""
    pipeline = MattingPipeline.from_checkpoints(**checkpoints(cfg))
    metadata = {
        "name": cfg.name,
        **pipeline_options(cfg),
        "checkpoints": [cfg.coarse_checkpoint, cfg.fine_checkpoint],
    }
    format_options = plain(cfg.options).get(cfg.format) or {}
    path = export_module(
        pipeline.module,
        cfg.out_dir,
        format=cfg.format,
        overwrite=cfg.overwrite,
        metadata=metadata,
        **format_options,
    )
    print(f"exported {cfg.format}: {path}")
    return str(path)


@hydra.main(version_base="1.3", config_path="configs", config_name="export")
def main(cfg: DictConfig) -> None:
    run("export", export, cfg)


if __name__ == "__main__":
    main()

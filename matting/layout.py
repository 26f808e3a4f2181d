"""The names of what the project writes: a run folder and each export folder. Code that writes or
reads these files takes the names from here; ``configs/paths/default.yaml`` spells the same run
layout for Hydra (``paths.run_dir``, ``paths.coarse_dir`` ...), and a test holds the two together.

    outputs/<name>/                   a run (``paths.run_dir``)
      coarse/ fine/                   one folder a training stage (``StageFiles``)
        <stage>.keras                 the last model
        <stage>_best.keras            the lowest validation MSE
        <stage>_latest.keras          every ``train.fit.checkpoint_every`` steps
        config.yaml                   the resolved config of the run
        tensorboard/  backup/         logs; the resume state (removed when training completes)
      eval/<split>/                   an evaluation report (``EvalFiles``)
      export/<format>/  predict/
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STAGES = ("coarse", "fine")
CONFIG_FILE = "config.yaml"


@dataclass(frozen=True)
class StageFiles:
    """The files of one training stage in ``folder`` (``outputs/<name>/<stage>``)."""

    folder: Path
    stage: str

    @property
    def last(self) -> Path:
        return self.folder / f"{self.stage}.keras"

    @property
    def best(self) -> Path:
        return self.folder / f"{self.stage}_best.keras"

    @property
    def latest(self) -> Path:
        return self.folder / f"{self.stage}_latest.keras"

    @property
    def config(self) -> Path:
        return self.folder / CONFIG_FILE

    @property
    def tensorboard(self) -> Path:
        return self.folder / "tensorboard"

    @property
    def backup(self) -> Path:
        return self.folder / "backup"


def stage_files(run_dir: str | Path, stage: str) -> StageFiles:
    """The files of ``stage`` in the run folder ``run_dir``."""
    return StageFiles(Path(run_dir) / stage, stage)


@dataclass(frozen=True)
class EvalFiles:
    """The report ``evaluate.py`` writes to ``folder`` (``outputs/<name>/eval/<split>`` by default)."""

    folder: Path

    @property
    def per_image(self) -> Path:
        return self.folder / "per_image.csv"

    @property
    def summary_json(self) -> Path:
        return self.folder / "summary.json"

    @property
    def summary_md(self) -> Path:
        return self.folder / "summary.md"

    @property
    def predictions(self) -> Path:
        return self.folder / "predictions.png"

    @property
    def worst(self) -> Path:
        return self.folder / "worst.png"

    @property
    def tensorboard(self) -> Path:
        return self.folder / "tensorboard"


def eval_files(run_dir: str | Path, split: str) -> EvalFiles:
    """The evaluation report of ``split`` in the run folder ``run_dir``."""
    return EvalFiles(Path(run_dir) / "eval" / split)


# Each export format's files (beside METADATA_FILE, which every export folder holds).
METADATA_FILE = "matting.json"
EXPORT_FILES = {
    "saved_model": "saved_model.pb",
    "modelscope": "tf_graph.pb",
    "tflite": "model.tflite",
    "onnx": "model.onnx",
}
MODELSCOPE_CONFIG_FILE = "configuration.json"
MODELSCOPE_CARD_FILE = "README.md"  # the model card ModelScope shows

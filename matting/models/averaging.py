"""Checkpoint averaging: one net whose every weight is the mean of the same weight in several
checkpoints of one architecture (weight averaging along one training run, as in stochastic weight
averaging, Izmailov et al. 2018; a "uniform soup" of fine-tuned runs, Wortsman et al. 2022).

Checkpoints of one run's lineage (a run and the runs resumed from it) lie in one basin of the
loss: their mean is a net of its own, often better on unseen photos than each of them. Batch
norms' moving statistics are averaged like the weights.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from matting.errors import CheckpointError, ConfigError
from matting.io.files import atomic_folder
from matting.layout import CONFIG_FILE, StageFiles
from matting.models.loading import load_checkpoint
from matting.models.pretrained import sha256

AVERAGED_FILE = "averaged.json"  # beside the averaged checkpoint: what it is the mean of


def _layout(model: keras.Model) -> list[tuple[str, tuple, str]]:
    return [(v.path, tuple(v.shape), str(v.dtype)) for v in model.weights]


def average_models(models: Sequence[keras.Model], names: Sequence[str] | None = None) -> keras.Model:
    """The first of ``models`` with every float weight replaced by the mean over ``models``; the
    others must hold the same weights (names, shapes, dtypes), or a :class:`CheckpointError` names
    the first that differs (``names``: what to call each model, its file). Integer weights (counters,
    seeds) must be equal and are kept."""
    if len(models) < 2:
        raise CheckpointError(f"averaging needs at least two checkpoints, got {len(models)}")
    names = list(names or [f"model {i}" for i in range(len(models))])
    layout = _layout(models[0])
    for name, model in zip(names[1:], models[1:], strict=True):
        other = _layout(model)
        if other != layout:
            first = next((a, b) for a, b in zip(layout + [None], other + [None], strict=False) if a != b)
            raise CheckpointError(
                f"{name}: not the architecture of {names[0]} ({len(other)} weights against "
                f"{len(layout)}; first difference: {first[1]} where {names[0]} has {first[0]})"
            )
    weights = [m.get_weights() for m in models]
    averaged = []
    for index, (path, _, dtype) in enumerate(layout):
        values = [w[index] for w in weights]
        if np.issubdtype(np.dtype(dtype), np.floating):
            averaged.append(np.mean(np.stack(values).astype(np.float64), axis=0).astype(dtype))
        elif all(np.array_equal(values[0], v) for v in values[1:]):
            averaged.append(values[0])
        else:
            raise CheckpointError(f"{path}: an integer weight that differs between the checkpoints")
    models[0].set_weights(averaged)
    return models[0]


def average_checkpoints(paths: Sequence[str | Path]) -> keras.Model:
    """The mean of the ``.keras`` checkpoints ``paths`` (:func:`average_models`); each loaded
    through :func:`~matting.models.loading.load_checkpoint` (a missing or foreign file: its
    :class:`CheckpointError`)."""
    paths = [Path(p) for p in paths]
    if len(set(p.resolve() for p in paths)) != len(paths):
        raise CheckpointError(f"the same checkpoint given twice: {[str(p) for p in paths]}")
    return average_models([load_checkpoint(p) for p in paths], [str(p) for p in paths])


def write_averaged(
    paths: Sequence[str | Path], out_dir: str | Path, stage: str, *, overwrite: bool = False
) -> Path:
    """The mean of the checkpoints ``paths`` as the ``stage`` checkpoint of the stage folder
    ``out_dir`` (``<out_dir>/<stage>.keras``, what every script reads of a run), with the
    ``config.yaml`` of the first checkpoint's folder (its sizes and recipe) and ``averaged.json``
    (each checkpoint's path and SHA-256). The folder is written whole or not at all; an existing
    one is replaced only with ``overwrite``, and never when it holds one of ``paths``."""
    out = Path(out_dir)
    inside = [str(p) for p in paths if Path(p).resolve().parent == out.resolve()]
    if inside:
        raise ConfigError(f"{out}: holds {inside[0]}, one of the checkpoints to average: choose another name")
    if out.exists() and not overwrite:
        raise ConfigError(f"{out}: exists; pass overwrite=true to replace it")
    model = average_checkpoints(paths)
    files = StageFiles(out, stage)
    with atomic_folder(out) as tmp:
        model.save(StageFiles(tmp, stage).last)
        config = Path(paths[0]).parent / CONFIG_FILE
        if config.is_file():
            shutil.copyfile(config, tmp / CONFIG_FILE)
        record = {"stage": stage, "checkpoints": [{"path": str(p), "sha256": sha256(Path(p))} for p in paths]}
        (tmp / AVERAGED_FILE).write_text(json.dumps(record, indent=1) + "\n")
    return files.last

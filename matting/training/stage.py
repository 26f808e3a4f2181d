"""One training stage from its config: the data, the net, the fit."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import tensorflow as tf

from matting.data.pipeline import count_records, from_sources, source_shares, split_files
from matting.data.stages import make_stage
from matting.errors import ConfigError
from matting.layout import StageFiles
from matting.models.sizes import check_input_size
from matting.training.fit import distribution_strategy, fit_model, initialise
from matting.training.state import is_chief, saved_step


def train_stage(
    *,
    stage: str,
    shards_dir: str,
    out_dir: str,
    model: dict,
    input: dict,
    loss: dict,
    fit: dict,
    examples: dict | None = None,
    seed: int = 0,
    init_from: str | None = None,
    freeze_encoder: bool = False,
    freeze_encoder_bn: bool = False,
    mixed_precision: bool = False,
    strategy: str = "default",
    on_chief=None,
) -> dict:
    """Train ``stage`` ("coarse" or "fine") on the ``train`` split of ``shards_dir``, validating on
    ``val``; its files go to ``out_dir`` (see :class:`matting.layout.StageFiles`).

    ``model`` is the model config (``coarse_size``, ``fine_size`` and the ``coarse`` / ``fine``
    constructor arguments); ``loss`` and ``examples`` go to :func:`matting.data.stages.make_stage`;
    ``input`` and ``fit`` are the keyword arguments of :func:`matting.data.pipeline.make_dataset`
    and :func:`~matting.training.fit.fit_model`. ``init_from`` / ``freeze_encoder`` /
    ``freeze_encoder_bn``: fine-tune (see :func:`~matting.training.fit.initialise`);
    ``mixed_precision``: float16 compute with float32 weights and heads (GPUs); ``strategy``: see
    :func:`~matting.training.fit.distribution_strategy`.
    ``on_chief``: a function called before training by the worker that writes the checkpoints
    (the only one but with ``multi_worker``), such as saving the run's config beside them.
    """
    # One strategy for the whole stage, made first: a multi-worker one configures the collective ops
    # of the process, and a second one would number its collectives apart from the first's.
    strategy = distribution_strategy(strategy)
    stage = make_stage(stage, model=model, loss=loss, **(examples or {}))
    keras.utils.set_random_seed(seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")
    with strategy.scope():
        net = initialise(stage.build_net(), init_from, freeze_encoder, freeze_encoder_bn)
        check_input_size(net, stage.size, f"model.{stage.name}_size")
        if on_chief is not None and is_chief():
            on_chief()
    # A resumed run draws a new shuffle order rather than replaying the batches it already saw;
    # validation keeps its seed, so its degraded masks (and scores) stay comparable.
    train_seed = seed + saved_step(StageFiles(Path(out_dir), stage.name).backup)
    train_files, val_files = split_files(shards_dir, "train"), split_files(shards_dir, "val")
    if input.get("sources") is not None:
        _check_sources(train_files, input["sources"], shards_dir)
    if (examples or {}).get("coarse_predictions_sources"):
        _check_sources(
            train_files, examples["coarse_predictions_sources"], shards_dir,
            key="train.examples.coarse_predictions_sources",
        )  # fmt: skip
    train_ds = stage.dataset(train_files, training=True, seed=train_seed, **input)
    # Validation scores every record alike: no coarse-quality weights there.
    val_ds = stage.dataset(val_files, training=False, seed=seed, **{**input, "coarse_quality_weight": None})
    if fit.get("validation_steps") is None:
        # The whole val split each epoch; a known count spares Keras a pass to discover it.
        steps = math.ceil(count_records(val_files, input.get("sources")) / input["batch_size"])
        fit = {**fit, "validation_steps": steps}
    with strategy.scope():
        result = fit_model(net, train_ds, val_ds, loss=stage.loss, out_dir=out_dir, **fit)
    keras.mixed_precision.set_global_policy("float32")
    images = (fit["epochs"] * fit["steps_per_epoch"] - result["start_step"]) * input["batch_size"]
    result["images_per_second"] = round(images / max(result["seconds"], 1e-9), 1)
    return result


def _check_sources(files: list[str], sources, shards_dir: str, key: str = "train.input.sources") -> None:
    """Refuse ``sources`` (the setting ``key``) that keep no training record, or with shares, a
    source with a share and no record (training would wait forever)."""
    shares = source_shares(sources)
    groups = [[name] for name in shares] if shares else [list(sources)]
    for names in groups:
        if not any(True for _ in tf.data.TFRecordDataset(files).filter(from_sources(names)).take(1)):
            raise ConfigError(
                f"{key}={names if shares else list(sources)}: no training record of "
                f"{'this source' if shares else 'these sources'} in {shards_dir} "
                "(they are the names of the data.build.sources entries; see its manifest.json)"
            )

"""Compile / fit / checkpoint, shared by both stages."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from matting.data.pipeline import count_records, make_dataset, split_files
from matting.errors import ConfigError, MattingError
from matting.losses import make_loss
from matting.models.unet import build_coarse_unet, build_fine_unet, check_input_size


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop at the first NaN or inf loss and say so; the last good checkpoint stays on disk."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            self.model.stop_training = True
            raise MattingError(
                f"loss became {loss} at batch {batch}: training stopped; lower "
                "train.fit.learning_rate or check the data (the best checkpoint so far is kept)"
            )


def learning_rate_schedule(learning_rate: float, schedule: str, total_steps: int):
    """A constant rate or a cosine decay to zero over ``total_steps``."""
    if learning_rate <= 0:
        raise ConfigError(f"train.fit.learning_rate must be positive, got {learning_rate}")
    if schedule == "constant":
        return learning_rate
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
    raise ConfigError(f"train.fit.schedule must be 'constant' or 'cosine', got {schedule!r}")


def fit_model(
    model: keras.Model,
    train_ds: tf.data.Dataset,
    val_ds: tf.data.Dataset | None,
    *,
    loss,
    out_dir: str,
    epochs: int,
    steps_per_epoch: int,
    learning_rate: float = 1e-3,
    schedule: str = "constant",
    validation_steps: int | None = None,
    verbose: int = 2,
) -> dict:
    """Train ``model`` and save ``{name}.keras`` (last) and ``{name}_best.keras`` (lowest val loss).

    TensorBoard logs go to ``out_dir/tensorboard``. Returns the history and the checkpoint paths.
    """
    if epochs <= 0 or steps_per_epoch <= 0:
        raise ConfigError(
            f"train.fit.epochs and train.fit.steps_per_epoch must be positive: {epochs}, {steps_per_epoch}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = model.name.removesuffix("_unet")
    last, best = out / f"{stem}.keras", out / f"{stem}_best.keras"

    lr = learning_rate_schedule(learning_rate, schedule, epochs * steps_per_epoch)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, metrics=["mse"])
    callbacks = [
        StopOnNonFinite(),
        keras.callbacks.TensorBoard(log_dir=str(out / "tensorboard"), update_freq="epoch"),
    ]
    if val_ds is not None:
        callbacks.append(keras.callbacks.ModelCheckpoint(str(best), monitor="val_loss", save_best_only=True))
    started = time.perf_counter()
    history = model.fit(
        train_ds, validation_data=val_ds, epochs=epochs, steps_per_epoch=steps_per_epoch,
        validation_steps=validation_steps, callbacks=callbacks, verbose=verbose, shuffle=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    # Save beside the final name, then rename: a run killed while saving leaves no truncated file.
    tmp = last.with_name(f".{last.stem}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, last)
    return {
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "checkpoint": str(last),
        "best_checkpoint": str(best) if best.is_file() else None,
        "seconds": round(seconds, 1),
    }


def train_stage(
    *,
    stage: str,
    shards_dir: str,
    out_dir: str,
    model: dict,
    input: dict,
    loss: dict,
    fit: dict,
    seed: int = 0,
) -> dict:
    """Train one stage on the ``train`` split of ``shards_dir``, validating on ``val``.

    ``model`` is the model config (``coarse_size``, ``fine_size`` and the ``coarse`` / ``fine``
    constructor arguments); ``input``, ``loss`` and ``fit`` are the keyword arguments of
    :func:`matting.data.pipeline.make_dataset`, :func:`matting.losses.make_loss` and :func:`fit_model`.
    """
    if stage not in ("coarse", "fine"):
        raise ConfigError(f"train.stage must be 'coarse' or 'fine', got {stage!r}")
    keras.utils.set_random_seed(seed)
    size = model[f"{stage}_size"]
    builder = build_coarse_unet if stage == "coarse" else build_fine_unet
    net = builder(**model[stage])
    check_input_size(net, size, f"model.{stage}_size")
    common = {"stage": stage, "size": size, "coarse_size": model["coarse_size"], "seed": seed, **input}
    train_ds = make_dataset(split_files(shards_dir, "train"), training=True, **common)
    val_files = split_files(shards_dir, "val")
    val_ds = make_dataset(val_files, training=False, **common)
    if fit.get("validation_steps") is None:
        # The whole val split each epoch; a known count spares Keras a pass to discover it.
        steps = math.ceil(count_records(val_files) / input["batch_size"])
        fit = {**fit, "validation_steps": steps}
    result = fit_model(net, train_ds, val_ds, loss=make_loss(stage, **loss), out_dir=out_dir, **fit)
    images = fit["epochs"] * fit["steps_per_epoch"] * input["batch_size"]
    result["images_per_second"] = round(images / max(result["seconds"], 1e-9), 1)
    return result

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
from matting.errors import CheckpointError, ConfigError, MattingError
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


class SAD(keras.metrics.Mean):
    """Sum of absolute differences per image / 1000 (alpha in [0, 1]), averaged over images: the
    matting literature's SAD, as a Keras metric."""

    def __init__(self, name="sad", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        per_image = keras.ops.sum(keras.ops.abs(y_pred - y_true), axis=[1, 2, 3]) / 1000.0
        return super().update_state(per_image, sample_weight=sample_weight)


class EpochSummaries(keras.callbacks.Callback):
    """At each epoch end, to TensorBoard: training images per second, and image panels of a fixed
    validation batch (the input image, the coarse mask it was given in the refinement stage, the
    prediction and the ground truth)."""

    def __init__(self, batch, log_dir: str, images_per_epoch: int, max_images: int = 4):
        super().__init__()
        self.inputs, self.target = (t[:max_images] for t in batch)
        self.writer = tf.summary.create_file_writer(log_dir)
        self.images_per_epoch = images_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        rate = self.images_per_epoch / (time.perf_counter() - self.started)
        pred = self.model(self.inputs, training=False)
        with self.writer.as_default():
            tf.summary.scalar("images_per_second", rate, step=epoch)
            tf.summary.image("input", self.inputs[..., :3], step=epoch, max_outputs=len(pred))
            if self.inputs.shape[-1] == 4:
                tf.summary.image("coarse mask given", self.inputs[..., 3:], step=epoch, max_outputs=len(pred))
            tf.summary.image("prediction", tf.cast(pred, tf.float32), step=epoch, max_outputs=len(pred))
            tf.summary.image("ground truth", self.target, step=epoch, max_outputs=len(pred))
        self.writer.flush()


def learning_rate_schedule(learning_rate: float, schedule: str, total_steps: int):
    """A constant rate or a cosine decay to zero over ``total_steps``."""
    if learning_rate <= 0:
        raise ConfigError(f"train.fit.learning_rate must be positive, got {learning_rate}")
    if schedule == "constant":
        return learning_rate
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
    raise ConfigError(f"train.fit.schedule must be 'constant' or 'cosine', got {schedule!r}")


STRATEGIES = ("default", "mirrored", "multi_worker")


def distribution_strategy(name: str) -> tf.distribute.Strategy:
    """``default`` (one device), ``mirrored`` (all GPUs of this machine) or ``multi_worker``
    (machines listed in the ``TF_CONFIG`` environment variable). The batch size in the config is
    the global batch: Keras splits it across the replicas."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(f"train.strategy must be one of {STRATEGIES}, got {name!r}")


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
    checkpoint_every: int | None = None,
    jit_compile: bool = False,
    verbose: int = 2,
) -> dict:
    """Train ``model`` and save ``{name}.keras`` (last) and ``{name}_best.keras`` (lowest val MSE).

    At each epoch end the model and optimizer are backed up to ``out_dir/backup`` (two copies, so a
    kill during a write leaves the previous one usable): a run killed at any point (even ``kill -9``)
    and started again with the same ``out_dir`` resumes at the start of the epoch after the last
    backup, at exactly that step and optimizer state. The epoch is the unit of resumption, so keep
    ``steps_per_epoch`` moderate. The backup is removed when training completes. TensorBoard logs go
    to ``out_dir/tensorboard``.
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
    metrics = ["mse", SAD()]
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, metrics=metrics, jit_compile=jit_compile)
    callbacks = [
        StopOnNonFinite(),
        # Restores model, optimizer and position on start when a backup exists.
        keras.callbacks.BackupAndRestore(str(out / "backup"), save_freq="epoch", double_checkpoint=True),
        keras.callbacks.TensorBoard(log_dir=str(out / "tensorboard"), update_freq="epoch"),
    ]
    if checkpoint_every:  # a model file every N steps too, beside the epoch-end backups
        latest = out / f"{stem}_latest.keras"
        callbacks.append(keras.callbacks.ModelCheckpoint(str(latest), save_freq=checkpoint_every))
    if val_ds is not None:
        callbacks.append(keras.callbacks.ModelCheckpoint(str(best), monitor="val_mse", save_best_only=True))
        batch_size = int(tf.shape(next(iter(train_ds))[0])[0])
        callbacks.append(
            EpochSummaries(
                next(iter(val_ds)), str(out / "tensorboard" / "images"), steps_per_epoch * batch_size
            )
        )
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


def initialise(net: keras.Model, init_from: str | None, freeze_encoder: bool) -> None:
    """Fine-tuning: load the weights of ``init_from`` (a ``.keras`` checkpoint of the same
    architecture), and with ``freeze_encoder`` keep the encoder (the ``enc*`` layers) fixed."""
    if init_from:
        path = Path(init_from)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such checkpoint to fine-tune from (train.init_from)")
        source = keras.models.load_model(path, compile=False)
        if [w.shape for w in source.weights] != [w.shape for w in net.weights]:
            raise ConfigError(f"{path}: its architecture differs from model.{net.name.split('_')[0]}")
        net.set_weights(source.get_weights())
    if freeze_encoder:
        for layer in net.layers:
            if layer.name.startswith("enc"):
                layer.trainable = False


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
    init_from: str | None = None,
    freeze_encoder: bool = False,
    mixed_precision: bool = False,
    strategy: str = "default",
    coarse_predictions: str | None = None,
) -> dict:
    """Train one stage on the ``train`` split of ``shards_dir``, validating on ``val``.

    ``init_from`` / ``freeze_encoder``: fine-tune (see :func:`initialise`); ``mixed_precision``:
    float16 compute with float32 weights and heads (GPUs); ``strategy``: see
    :func:`distribution_strategy`; ``coarse_predictions`` (fine stage): a trained coarse net's
    ``.keras`` checkpoint whose masks replace the degraded alpha as the refinement's input.

    ``model`` is the model config (``coarse_size``, ``fine_size`` and the ``coarse`` / ``fine``
    constructor arguments); ``input``, ``loss`` and ``fit`` are the keyword arguments of
    :func:`matting.data.pipeline.make_dataset`, :func:`matting.losses.make_loss` and :func:`fit_model`.
    """
    if stage not in ("coarse", "fine"):
        raise ConfigError(f"train.stage must be 'coarse' or 'fine', got {stage!r}")
    keras.utils.set_random_seed(seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")
    size = model[f"{stage}_size"]
    builder = build_coarse_unet if stage == "coarse" else build_fine_unet
    with distribution_strategy(strategy).scope():
        net = builder(**model[stage])
        check_input_size(net, size, f"model.{stage}_size")
        initialise(net, init_from, freeze_encoder)
    common = {"stage": stage, "size": size, "coarse_size": model["coarse_size"], "seed": seed, **input}
    if coarse_predictions:
        path = Path(coarse_predictions)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such coarse checkpoint (train.coarse_predictions)")
        common["coarse_model"] = keras.models.load_model(path, compile=False)
    train_ds = make_dataset(split_files(shards_dir, "train"), training=True, **common)
    val_files = split_files(shards_dir, "val")
    # Validation scores every record alike: no coarse-quality weights there.
    val_ds = make_dataset(val_files, training=False, **{**common, "coarse_quality_weight": None})
    if fit.get("validation_steps") is None:
        # The whole val split each epoch; a known count spares Keras a pass to discover it.
        steps = math.ceil(count_records(val_files) / input["batch_size"])
        fit = {**fit, "validation_steps": steps}
    with distribution_strategy(strategy).scope():
        result = fit_model(net, train_ds, val_ds, loss=make_loss(stage, **loss), out_dir=out_dir, **fit)
    keras.mixed_precision.set_global_policy("float32")
    images = fit["epochs"] * fit["steps_per_epoch"] * input["batch_size"]
    result["images_per_second"] = round(images / max(result["seconds"], 1e-9), 1)
    return result

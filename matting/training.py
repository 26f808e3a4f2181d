"""Compile / fit / checkpoint, shared by both stages."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from matting.data.pipeline import count_records, make_dataset, split_files
from matting.errors import CheckpointError, ConfigError, MattingError
from matting.io.files import atomic_path, remove_stale_temporaries, write_atomic
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
        y_true = y_true[..., :1]  # the alpha, without the compositional loss's extra channels
        per_image = keras.ops.sum(keras.ops.abs(y_pred - y_true), axis=[1, 2, 3]) / 1000.0
        return super().update_state(per_image, sample_weight=sample_weight)


def alpha_mse(y_true, y_pred):
    """Mean squared error of the alpha (the target's first channel), per image."""
    return keras.ops.mean(keras.ops.square(y_pred - y_true[..., :1]), axis=[1, 2, 3])


def save_model(model: keras.Model, path: Path) -> None:
    """``model.save(path)`` under a temporary name, then renamed: never a truncated file."""
    with atomic_path(path, ending=".keras") as tmp:
        model.save(tmp)


def is_chief() -> bool:
    """Whether this process writes checkpoints: always, but for the non-chief workers of a
    ``MultiWorkerMirroredStrategy`` (they save to a scratch folder, which the strategy requires)."""
    return bool(getattr(tf.distribute.get_strategy().extended, "should_checkpoint", True))


STATE_FILE = "state.json"


def saved_step(folder: str | Path) -> int:
    """The step of the training state saved in ``folder`` (0: none)."""
    path = Path(folder) / STATE_FILE
    return int(json.loads(path.read_text())["step"]) if path.is_file() else 0


class TrainingState(keras.callbacks.Callback):
    """Exact resume: the model and optimizer weights and the position in training, written every
    ``every`` steps (``None``: at epoch ends only) and at each epoch end; with them, ``latest``
    (a ``.keras`` model every ``every`` steps) and ``best`` (whenever the validation MSE improves).

    Each state is a ``step-{N}.weights.h5`` file written under a temporary name and renamed, then
    ``state.json`` (step, steps per epoch, best validation MSE so far, the previous state) replaced
    the same way: a kill at any instant, ``kill -9`` included, leaves ``state.json`` naming a
    complete file, and no truncated model file. The two newest states are kept; :meth:`restore`
    falls back to the older one if the newer cannot be read. The best model is renamed into place
    only after ``state.json`` records its score, so a kill between the two keeps an older best,
    never a worse one.
    """

    def __init__(
        self,
        folder: Path,
        steps_per_epoch: int,
        every: int | None = None,
        *,
        best: Path | None = None,
        latest: Path | None = None,
    ):
        super().__init__()
        self.folder, self.steps_per_epoch, self.every = Path(folder), steps_per_epoch, every
        self.best_path, self.latest_path = best, latest
        self.step, self.best, self.saved = 0, None, None
        # Every worker restores from ``folder``; only the chief writes there (see is_chief).
        self.target = self.folder if is_chief() else Path(tempfile.mkdtemp(prefix="matting-worker-"))

    @property
    def _json(self) -> Path:
        return self.folder / STATE_FILE

    def restore(self, model: keras.Model) -> int:
        """Load the newest readable state into ``model`` (compiled); returns its step (0: none).
        A state saved with another number of steps per epoch is refused."""
        if self.folder.is_dir():
            remove_stale_temporaries(self.folder)  # a write cut short by a kill
        if not self._json.is_file():
            return 0
        state = json.loads(self._json.read_text())
        if state.get("steps_per_epoch", self.steps_per_epoch) != self.steps_per_epoch:
            raise CheckpointError(
                f"{self._json}: saved with train.fit.steps_per_epoch={state['steps_per_epoch']}, not "
                f"{self.steps_per_epoch}: resume with the same value, or delete {self.folder} to start over"
            )
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        for name, step in (
            (state["file"], state["step"]),
            (state.get("previous"), state.get("previous_step")),
        ):
            if not name:
                continue
            try:
                model.load_weights(self.folder / name)
            except (OSError, ValueError):
                continue
            self.step, self.best = int(step), state.get("best")
            self.saved = {"file": name, "step": self.step}  # the next save names the one loaded
            return self.step
        raise CheckpointError(f"{self.folder}: no readable training state; delete the folder to start over")

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.every and self.step % self.every == 0:
            if self.latest_path:
                save_model(self.model, self._where(self.latest_path))
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        val = (logs or {}).get("val_mse")
        improved = val is not None and np.isfinite(val) and (self.best is None or val < self.best)
        if improved:
            self.best = float(val)
        self._save()
        if improved and self.best_path:
            save_model(self.model, self._where(self.best_path))

    def _where(self, path: Path) -> Path:
        return path if self.target == self.folder else self.target / path.name

    def _save(self) -> None:
        self.target.mkdir(parents=True, exist_ok=True)
        name = f"step-{self.step}.weights.h5"
        before = self.saved or {}
        if before.get("file") != name:  # a step saved at a batch end needs no second copy at epoch end
            with atomic_path(self.target / name, ending=".weights.h5") as tmp:
                self.model.save_weights(tmp)
            before = {**before, "previous": before.get("file"), "previous_step": before.get("step")}
        state = {"step": self.step, "epoch": self.step // self.steps_per_epoch, "best": self.best,
                 "steps_per_epoch": self.steps_per_epoch, "file": name, "previous": before.get("previous"),
                 "previous_step": before.get("previous_step")}  # fmt: skip
        write_atomic(self.target / STATE_FILE, json.dumps(state, indent=1).encode())
        self.saved = state
        for old in self.target.glob("step-*.weights.h5"):  # keep the two that state.json names
            if old.name not in (name, state["previous"]):
                old.unlink(missing_ok=True)


class EpochSummaries(keras.callbacks.Callback):
    """At each epoch end, to TensorBoard: training images per second, and image panels of a fixed
    validation batch (the input image, the coarse mask it was given in the refinement stage, the
    prediction and the ground truth)."""

    def __init__(self, batch, log_dir: str, batch_size: int, max_images: int = 4):
        super().__init__()
        self.batch_size = batch_size
        self.inputs, self.target = batch[0][:max_images], batch[1][:max_images, ..., :1]
        self.writer = tf.summary.create_file_writer(log_dir)

    def on_epoch_begin(self, epoch, logs=None):
        self.started, self.images = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self.images += self.batch_size

    def on_epoch_end(self, epoch, logs=None):
        rate = self.images / (time.perf_counter() - self.started)
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

    Every ``checkpoint_every`` steps and at each epoch end, the model, the optimizer and the step
    are saved to ``out_dir/backup`` (see :class:`TrainingState`): a run killed at any point (even
    ``kill -9``) and started again with the same ``out_dir`` resumes at exactly the saved step,
    weights and optimizer state, inside an epoch too (it first finishes that epoch's remaining
    steps). The data stream is not part of the state: a resumed ``train_ds`` starts afresh
    (:func:`train_stage` reseeds its shuffle with the step). The best-so-far validation MSE is part
    of the state, so the best checkpoint is not replaced by a worse one after a resume. The backup
    is removed when training completes. TensorBoard logs go to ``out_dir/tensorboard``;
    ``checkpoint_every`` also writes ``{name}_latest.keras``.
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
    metrics = [keras.metrics.MeanMetricWrapper(alpha_mse, name="mse"), SAD()]
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, metrics=metrics, jit_compile=jit_compile)
    latest = out / f"{stem}_latest.keras" if checkpoint_every else None
    state = TrainingState(out / "backup", steps_per_epoch, checkpoint_every, best=best, latest=latest)
    start = state.restore(model)
    callbacks = [
        StopOnNonFinite(),  # first: a non-finite step stops before anything is saved
        state,
        keras.callbacks.TensorBoard(log_dir=str(out / "tensorboard"), update_freq="epoch"),
    ]
    if val_ds is not None:
        batch_size = int(tf.shape(next(iter(train_ds))[0])[0])
        callbacks.append(EpochSummaries(next(iter(val_ds)), str(out / "tensorboard" / "images"), batch_size))
    # A state saved inside an epoch: that epoch's remaining steps first, then the whole epochs.
    epoch, done = divmod(start, steps_per_epoch)
    phases = [(epoch, epoch + 1, steps_per_epoch - done)] if done and epoch < epochs else []
    epoch += bool(done)
    if epoch < epochs:
        phases.append((epoch, epochs, steps_per_epoch))
    history: dict[str, list[float]] = {}
    started = time.perf_counter()
    for first, end, steps in phases:
        run = model.fit(
            train_ds, validation_data=val_ds, initial_epoch=first, epochs=end, steps_per_epoch=steps,
            validation_steps=validation_steps, callbacks=callbacks, verbose=verbose, shuffle=False,
        )  # fmt: skip
        for key, values in run.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
    seconds = time.perf_counter() - started
    save_model(model, state._where(last))
    shutil.rmtree(state.target, ignore_errors=True)  # training complete: nothing to resume
    return {
        "history": history,
        "start_step": start,
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
    # The compositional loss needs each record's foreground and background layers.
    common["layers"] = stage == "fine" and bool(loss.get("composition_weight"))
    # A resumed run draws a new shuffle order rather than replaying the batches it already saw;
    # validation keeps its seed, so its degraded masks (and scores) stay comparable.
    train_seed = seed + saved_step(Path(out_dir) / "backup")
    train_ds = make_dataset(split_files(shards_dir, "train"), training=True, **{**common, "seed": train_seed})
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
    images = (fit["epochs"] * fit["steps_per_epoch"] - result["start_step"]) * input["batch_size"]
    result["images_per_second"] = round(images / max(result["seconds"], 1e-9), 1)
    return result

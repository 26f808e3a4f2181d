"""Compile and fit one net: the Keras metrics, the learning rate, the distribution strategy, the
checkpoints (see :mod:`matting.training.state`), fine-tuning's starting weights."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import keras
import tensorflow as tf

from matting.errors import CheckpointError, ConfigError
from matting.io.files import remove_stale_temporaries
from matting.layout import StageFiles
from matting.losses import per_image_mse, per_image_sad
from matting.models.loading import load_checkpoint
from matting.training.callbacks import EpochSummaries, MovingAverage, StopOnNonFinite
from matting.training.state import TrainingState, is_chief, save_model

# ---------------------------------------------------------------------------------------------------
# Metrics: of the alpha, the target's first channel (the compositional loss's extra channels aside)
# ---------------------------------------------------------------------------------------------------


class SAD(keras.metrics.Mean):
    """Sum of absolute differences per image / 1000 (alpha in [0, 1]), averaged over images: the
    matting literature's SAD, as a Keras metric."""

    def __init__(self, name="sad", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(per_image_sad(y_true[..., :1], y_pred), sample_weight=sample_weight)


def alpha_mse(y_true, y_pred):
    """Mean squared error of the alpha (the target's first channel), per image."""
    return per_image_mse(y_true[..., :1], y_pred)


def training_metrics() -> list[keras.metrics.Metric]:
    """The metrics of every fit: ``mse`` (its validation value picks the best checkpoint) and ``sad``."""
    return [keras.metrics.MeanMetricWrapper(alpha_mse, name="mse"), SAD()]


# ---------------------------------------------------------------------------------------------------
# Optimizer, learning rate, distribution
# ---------------------------------------------------------------------------------------------------


def learning_rate_schedule(learning_rate: float, schedule: str, total_steps: int, warmup_steps: int = 0):
    """A constant rate or a cosine decay to zero over ``total_steps``; with ``warmup_steps``, the
    first that many steps rise linearly from 0 to ``learning_rate`` (a pretrained encoder under a
    freshly initialised decoder: full-rate steps on the decoder's random gradients would wash out
    its features before the decoder has learned to use them)."""
    if learning_rate <= 0:
        raise ConfigError(f"train.fit.learning_rate must be positive, got {learning_rate}")
    if schedule not in ("constant", "cosine"):
        raise ConfigError(f"train.fit.schedule must be 'constant' or 'cosine', got {schedule!r}")
    if not 0 <= warmup_steps < total_steps:
        raise ConfigError(
            f"train.fit.warmup_steps must be at least 0 and below the run's {total_steps} steps, "
            f"got {warmup_steps}"
        )
    if not warmup_steps:
        return (
            learning_rate
            if schedule == "constant"
            else keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
        )
    # alpha: the floor as a fraction of the rate; 1 holds it constant after the warm-up.
    return keras.optimizers.schedules.CosineDecay(
        0.0, total_steps - warmup_steps, alpha=1.0 if schedule == "constant" else 0.0,
        warmup_target=learning_rate, warmup_steps=warmup_steps,
    )  # fmt: skip


@keras.saving.register_keras_serializable(package="matting")
class FusedAdam(keras.optimizers.Adam):
    """Keras' Adam, each variable's update one ``ResourceApplyAdam`` op (TensorFlow's fused kernel)
    instead of Keras' dozen elementwise ops and three assigns: the same maths (equal to float
    rounding), a graph a fraction of the size, so the first training step traces about 12 s sooner
    on a 2-core CPU (23 s against 34-36 s for the fast coarse net at the demo's size).

    Keras' own update where the fused op does not apply: sparse gradients, ``amsgrad``, and under a
    distribution strategy (whose variables Keras updates replica by replica).

    ``scaled`` (variable paths) and ``scale``: those variables step at ``scale`` times the rate (a
    pretrained encoder kept close to its features while the decoder learns at the full rate)."""

    def __init__(self, *args, scaled=(), scale: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.scaled, self.scale = frozenset(scaled), float(scale)

    def finalize_variable_values(self, var_list):
        """Nothing: with ``use_ema``, :func:`fit_model` gives the model the moving average once
        training is complete. Keras would at the end of every ``model.fit`` call, and a run resumed
        inside an epoch calls it twice: its second call would go on from the average."""

    def get_config(self):
        return super().get_config() | {"scaled": sorted(self.scaled), "scale": self.scale}

    def build(self, var_list):
        super().build(var_list)
        # By index: update_step gets the backend's variable, which has no Keras path.
        self._scaled_indices = {i for i, v in enumerate(var_list) if v.path in self.scaled}

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        if index in self._scaled_indices:
            learning_rate = learning_rate * self.scale
        if isinstance(gradient, tf.IndexedSlices) or self.amsgrad or tf.distribute.has_strategy():
            return super().update_step(gradient, variable, learning_rate)
        var, m, v = (x.value if isinstance(x, keras.Variable) else x
                     for x in (variable, self._momentums[index], self._velocities[index]))  # fmt: skip
        dtype = var.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=var.handle, m=m.handle, v=v.handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype),
        )  # fmt: skip


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
        return _MultiWorkerStrategy()
    raise ConfigError(f"train.strategy must be one of {STRATEGIES}, got {name!r}")


class _MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """``MultiWorkerMirroredStrategy`` with the ``reduce`` Keras 3's ``fit`` expects of it (as of
    Keras 3.15, TensorFlow 2.21; tensorflow/tensorflow#72388): Keras passes a whole batch, a nested
    structure, to build the model, and its per-step logs, scalars, with ``axis=0``; TensorFlow's
    collective reduce takes one value and reads the axis inside each replica's tensor."""

    def reduce(self, reduce_op, value, axis):
        def one(v):
            scalar = self.experimental_local_results(v)[0].shape.rank == 0
            return super(_MultiWorkerStrategy, self).reduce(reduce_op, v, None if scalar else axis)

        return tf.nest.map_structure(one, value)


def synchronise_batch_norm(model: keras.Model) -> None:
    """With more than one replica, batch norm takes its statistics over the global batch: Keras 3
    updates its moving statistics in each replica alone (their variables do not aggregate), so
    with per-replica statistics each worker would keep moving statistics of its own, and the
    checkpoint the chief's. Synchronised, every replica holds the same, and the training maths is
    that of one device with the global batch."""
    if tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return
    layers = list(model.layers)
    while layers:
        layer = layers.pop()
        layers.extend(getattr(layer, "layers", []))
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True


def same_on_every_worker(step: int, out: Path) -> int:
    """``step``, checked to be the step every worker of a multi-worker strategy restored: they
    must all read the chief's state, ``out`` being one folder shared by every machine (workers at
    different steps would hang, or diverge)."""
    strategy = tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return step
    # Summed over the replicas: n * step and n * step**2 on every one only when all steps are equal.
    total, squares = strategy.reduce("SUM", tf.constant([step, step**2], tf.float64), axis=None).numpy()
    n = strategy.num_replicas_in_sync
    if (total, squares) != (n * step, n * step**2):
        raise CheckpointError(
            f"{out}: the workers resumed at different steps (this one at {step}): train.out_dir must be "
            "one folder shared by every machine, the same path on each"
        )
    return step


# ---------------------------------------------------------------------------------------------------
# Fit
# ---------------------------------------------------------------------------------------------------


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
    warmup_steps: int = 0,
    encoder_lr_scale: float = 1.0,
    ema_momentum: float | None = None,
    verbose: int = 2,
) -> dict:
    """Train ``model`` and save, in ``out_dir``, the files of :class:`matting.layout.StageFiles`
    named after it (``coarse_unet``: ``coarse``): ``last`` and ``best`` (lowest val MSE).

    Every ``checkpoint_every`` steps and at each epoch end, the model, the optimizer and the step
    are saved to ``backup`` (see :class:`TrainingState`): a run killed at any point (even
    ``kill -9``) and started again with the same ``out_dir`` resumes at exactly the saved step,
    weights and optimizer state, inside an epoch too (it first finishes that epoch's remaining
    steps). The data stream is not part of the state: a resumed ``train_ds`` starts afresh
    (:func:`~matting.training.stage.train_stage` reseeds its shuffle with the step). The best-so-far
    validation MSE is part of the state, so the best checkpoint is not replaced by a worse one after
    a resume. The backup is removed when training completes. TensorBoard logs go to ``tensorboard``;
    ``checkpoint_every`` also writes ``latest``.

    ``warmup_steps``: the rate rises linearly over these first steps; ``encoder_lr_scale``: the
    encoder's (``enc*`` layers') variables learn at this fraction of the rate.

    ``ema_momentum`` (e.g. 0.99): validation, ``best``, ``latest`` and ``last`` are of the weights'
    exponential moving average, ``average = m * average + (1 - m) * weights`` after each step
    (:class:`~matting.training.callbacks.MovingAverage`); the steps themselves, and the resume
    state, go on from the raw weights, and the returned model holds the average.
    """
    if epochs <= 0 or steps_per_epoch <= 0:
        raise ConfigError(
            f"train.fit.epochs and train.fit.steps_per_epoch must be positive: {epochs}, {steps_per_epoch}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = StageFiles(out, model.name.removesuffix("_unet"))

    synchronise_batch_norm(model)
    lr = learning_rate_schedule(learning_rate, schedule, epochs * steps_per_epoch, warmup_steps)
    if not 0 < encoder_lr_scale <= 1:
        raise ConfigError(f"train.fit.encoder_lr_scale must be in (0, 1], got {encoder_lr_scale}")
    encoder = [v.path for layer in model.layers if layer.name.startswith("enc") for v in layer.weights]
    if ema_momentum is not None and not 0 < ema_momentum < 1:
        raise ConfigError(f"train.fit.ema_momentum must be null or in (0, 1), got {ema_momentum}")
    averaged = MovingAverage() if ema_momentum is not None else None
    optimizer = FusedAdam(
        lr, scaled=encoder if encoder_lr_scale != 1 else (), scale=encoder_lr_scale,
        use_ema=averaged is not None, ema_momentum=ema_momentum or 0.99,
    )  # fmt: skip
    model.compile(optimizer=optimizer, loss=loss, metrics=training_metrics(), jit_compile=jit_compile)
    latest = files.latest if checkpoint_every else None
    state = TrainingState(
        files.backup, steps_per_epoch, checkpoint_every, best=files.best, latest=latest,
        published=averaged.applied if averaged else contextlib.nullcontext,
    )  # fmt: skip
    chief = is_chief()
    if chief:
        remove_stale_temporaries(out)  # a model save cut short by a kill (last, best, latest)
    start = same_on_every_worker(state.restore(model), out)
    # First: a non-finite step stops before anything is saved; the average, before validation reads it.
    callbacks = [StopOnNonFinite(), *([averaged] if averaged else []), state]
    if chief:  # TensorBoard: one writer, the chief (the other workers' logs would only repeat it)
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(files.tensorboard), update_freq="epoch"))
        if val_ds is not None:
            batch_size = int(tf.shape(next(iter(train_ds))[0])[0])
            images = str(files.tensorboard / "images")
            callbacks.append(EpochSummaries(next(iter(val_ds)), images, batch_size))
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
    if averaged:  # the model keeps the average from here on
        optimizer._overwrite_model_variables_with_average_value(optimizer._trainable_variables)
    save_model(model, state.where(files.last))
    state.clear()  # training complete: nothing to resume
    return {
        "history": history,
        "start_step": start,
        "checkpoint": str(files.last),
        "best_checkpoint": str(files.best) if files.best.is_file() else None,
        "seconds": round(seconds, 1),
    }


def initialise(
    net: keras.Model, init_from: str | None, freeze_encoder: bool, freeze_encoder_bn: bool = False
) -> keras.Model:
    """The net to train. Fine-tuning: with ``init_from`` (a ``.keras`` checkpoint of the same kind
    of net, coarse or refinement), its weights; where its widths differ from ``net``'s (the model
    config's), the checkpoint's own net, so that a config need not repeat the widths of the net it
    starts from. With ``freeze_encoder`` the encoder (the ``enc*`` layers) stays fixed; with
    ``freeze_encoder_bn`` only its batch norms, which then normalise by their stored statistics (a
    pretrained encoder's, estimated over far more images than a batch of 16 holds) and keep their
    scales and offsets."""
    if init_from:
        path = Path(init_from)
        source = load_checkpoint(path, missing="the checkpoint to fine-tune from, train.init_from")
        if source.name != net.name or source.input_shape[-1] != net.input_shape[-1]:
            raise ConfigError(f"{path}: a {source.name!r} net, not the {net.name!r} net this stage trains")
        if [w.shape for w in source.weights] == [w.shape for w in net.weights]:
            net.set_weights(source.get_weights())
        else:
            net = source
    for layer in net.layers:
        if not layer.name.startswith("enc"):
            continue
        if freeze_encoder:
            layer.trainable = False
        elif freeze_encoder_bn:
            for inner in getattr(layer, "layers", [layer]):
                if isinstance(inner, keras.layers.BatchNormalization):
                    inner.trainable = False
    return net

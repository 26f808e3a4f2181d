"""Keras callbacks of a training run: stop on a non-finite loss, validate the weights' moving
average, TensorBoard epoch summaries."""

from __future__ import annotations

import contextlib
import time

import keras
import numpy as np
import tensorflow as tf

from matting.errors import MattingError


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


class MovingAverage(keras.callbacks.Callback):
    """With an optimizer built with ``use_ema`` (``train.fit.ema_momentum``): validation scores the
    exponential moving average of the weights (Polyak averaging), and :meth:`applied` lends it to
    the model for a save; the training steps, and the resume state, keep the raw weights.

    Keras' own ``SwapEMAWeights`` swaps by adding and subtracting, which rounds the raw weights
    each time: here they are copied aside and put back as they were, so a run validated every epoch
    trains exactly as one that is not."""

    @contextlib.contextmanager
    def applied(self):
        """The model holds the moving average inside the block, its raw weights again after it."""
        optimizer = self.model.optimizer
        variables = optimizer._trainable_variables  # the order of the averages (Keras' own swap reads both)
        raw = [v.numpy() for v in variables]
        for variable, average in zip(variables, optimizer._model_variables_moving_average, strict=True):
            variable.assign(average)
        try:
            yield
        finally:
            for variable, value in zip(variables, raw, strict=True):
                variable.assign(value)

    def on_test_begin(self, logs=None):
        self._validating = self.applied()
        self._validating.__enter__()

    def on_test_end(self, logs=None):
        self._validating.__exit__(None, None, None)


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

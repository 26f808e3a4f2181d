"""Keras callbacks of a training run: stop on a non-finite loss, TensorBoard epoch summaries."""

from __future__ import annotations

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

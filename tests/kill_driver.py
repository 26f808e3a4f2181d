"""The fit that ``tests/test_kill_training.py`` kills: a tiny net, 5 epochs of 6 steps, a state
every 3 steps. Usage: ``kill_driver.py OUT_DIR LOG``.

To LOG (each line flushed and synced): ``step N`` (the optimizer's step) after each batch, before
the state is saved, and ``save NAME`` / ``saved NAME`` around each atomic write, whose rename is
delayed so that kills can land inside saves.
"""

import contextlib
import os
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import matting.io.files
import matting.training.state
from matting.losses import bce_dice_loss
from matting.models import build_coarse_unet
from matting.training.fit import fit_model

out, log = sys.argv[1:3]


def write(line: str) -> None:
    with open(log, "a") as file:
        file.write(line + "\n")
        file.flush()
        os.fsync(file.fileno())


atomic_path = matting.io.files.atomic_path


@contextlib.contextmanager
def slow_atomic_path(path, **options):
    """``atomic_path``, with a pause between the complete temporary file and its rename."""
    with atomic_path(path, **options) as tmp:
        write(f"save {Path(path).name}")
        yield tmp
        time.sleep(0.15)
    write(f"saved {Path(path).name}")


matting.io.files.atomic_path = matting.training.state.atomic_path = slow_atomic_path


class Steps(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        write(f"step {int(self.model.optimizer.iterations.numpy())}")
        time.sleep(0.05)


def batch(seed: int) -> tuple[np.ndarray, np.ndarray]:
    image = np.random.default_rng(seed).random((2, 32, 32, 3), dtype=np.float32)
    return image, (image[..., :1] > 0.5).astype(np.float32)


fit = keras.Model.fit
keras.Model.fit = lambda self, *a, callbacks=(), **k: fit(self, *a, callbacks=[Steps(), *callbacks], **k)
keras.utils.set_random_seed(0)
fit_model(
    build_coarse_unet(filters=[4, 8]), tf.data.Dataset.from_tensors(batch(0)).repeat(),
    tf.data.Dataset.from_tensors(batch(1)), loss=bce_dice_loss, out_dir=out, epochs=5, steps_per_epoch=6,
    learning_rate=1e-2, checkpoint_every=3, verbose=0,
)  # fmt: skip

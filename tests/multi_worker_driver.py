"""One worker of the two-worker test (``tests/test_multi_worker.py``): the tiny coarse stage, 2
epochs of 3 steps, a state every 2, under ``train.strategy=multi_worker`` (the cluster and this
worker's place in it come from ``TF_CONFIG``). Usage: ``multi_worker_driver.py DATA_ROOT OUT_DIR
LOG [KILL_AT]``.

To LOG (flushed and synced): ``begin STEP DIGEST`` as each fit starts and ``step STEP DIGEST``
after each batch, DIGEST a sha256 of every weight, trainable or not. With KILL_AT, the worker
kills itself (SIGKILL) after that step.
"""

import hashlib
import os
import signal
import sys

import keras
import numpy as np
from conftest import compose_config, tiny_model_overrides, tiny_overrides, tiny_train_overrides

from cli_common import train

root, out_dir, log = sys.argv[1:4]
kill_at = int(sys.argv[4]) if len(sys.argv) > 4 else None


class Digest(keras.callbacks.Callback):
    def write(self, kind: str) -> None:
        weights = b"".join(np.asarray(w, np.float32).tobytes() for w in self.model.weights)
        step = int(self.model.optimizer.iterations.numpy())
        with open(log, "a") as file:
            file.write(f"{kind} {step} {hashlib.sha256(weights).hexdigest()}\n")
            file.flush()
            os.fsync(file.fileno())
        if kind == "step" and step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def on_train_begin(self, logs=None):
        self.write("begin")

    def on_train_batch_end(self, batch, logs=None):
        self.write("step")


fit = keras.Model.fit
keras.Model.fit = lambda self, *a, callbacks=(), **k: fit(self, *a, callbacks=[*callbacks, Digest()], **k)
overrides = tiny_overrides(root) + tiny_model_overrides() + tiny_train_overrides()
extra = [f"train.out_dir={out_dir}", "train.strategy=multi_worker", "train.fit.checkpoint_every=2"]
train(compose_config("train_coarse", overrides + extra))

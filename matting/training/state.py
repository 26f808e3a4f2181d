"""The exact-resume training state, and the atomic model saves beside it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from matting.errors import CheckpointError
from matting.io.files import atomic_path, remove_stale_temporaries, write_atomic

STATE_FILE = "state.json"


def save_model(model: keras.Model, path: Path) -> None:
    """``model.save(path)`` under a temporary name, then renamed: never a truncated file."""
    with atomic_path(path, ending=".keras") as tmp:
        model.save(tmp)


def is_chief() -> bool:
    """Whether this process writes checkpoints: always, but for the non-chief workers of a
    ``MultiWorkerMirroredStrategy`` (they save to a scratch folder, which the strategy requires)."""
    return bool(getattr(tf.distribute.get_strategy().extended, "should_checkpoint", True))


def scratch_folder(folder: Path) -> Path:
    """Where a non-chief worker writes what the chief writes to ``folder``: a folder outside the
    run, the same for the same worker and run (a killed worker's is reused, then removed)."""
    resolver = tf.distribute.get_strategy().cluster_resolver
    key = hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"matting-{resolver.task_type}{resolver.task_id}-{key}"


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

    ``published``: a context manager in which the model holds the weights that ``best`` and
    ``latest`` save (:meth:`MovingAverage.applied`); the state always saves the raw weights.
    """

    def __init__(
        self,
        folder: Path,
        steps_per_epoch: int,
        every: int | None = None,
        *,
        best: Path | None = None,
        latest: Path | None = None,
        published=contextlib.nullcontext,
    ):
        super().__init__()
        self.published = published
        self.folder, self.steps_per_epoch, self.every = Path(folder), steps_per_epoch, every
        self.best_path, self.latest_path = best, latest
        self.step, self.best, self.saved = 0, None, None
        # Every worker restores from ``folder``; only the chief writes there (see is_chief).
        self.target = self.folder if is_chief() else scratch_folder(self.folder)

    @property
    def _json(self) -> Path:
        return self.folder / STATE_FILE

    def restore(self, model: keras.Model) -> int:
        """Load the newest readable state into ``model`` (compiled); returns its step (0: none).
        A state saved with another number of steps per epoch is refused."""
        if self.folder.is_dir() and self.target == self.folder:
            remove_stale_temporaries(self.folder)  # a write cut short by a kill (the chief's own)
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
                with self.published():
                    save_model(self.model, self.where(self.latest_path))
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        val = (logs or {}).get("val_mse")
        improved = val is not None and np.isfinite(val) and (self.best is None or val < self.best)
        if improved:
            self.best = float(val)
        self._save()
        if improved and self.best_path:
            with self.published():
                save_model(self.model, self.where(self.best_path))

    def clear(self) -> None:
        """Training complete: remove the state, ``state.json`` first, so that a kill while the
        folder is being removed leaves either the whole state or none, never a ``state.json``
        naming a deleted file."""
        (self.target / STATE_FILE).unlink(missing_ok=True)
        shutil.rmtree(self.target, ignore_errors=True)

    def where(self, path: Path) -> Path:
        """Where this process writes ``path``: there (the chief), or in its scratch folder."""
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

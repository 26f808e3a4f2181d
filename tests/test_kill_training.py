"""Kill-anywhere training: a short fit killed with SIGKILL at random moments (some inside saves)
and resumed each time trains every step once in the states it keeps, leaves loadable checkpoints,
a best checkpoint that never gets worse, and no temporary file."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from matting.losses import bce_dice_loss
from matting.models import build_coarse_unet

ROOT = Path(__file__).resolve().parents[1]
TOTAL = 5 * 6  # the driver's epochs * steps per epoch


def lines(log: Path, kind: str) -> list[str]:
    return [line.split(" ", 1)[1] for line in log.read_text().splitlines() if line.startswith(kind + " ")]


def open_saves(log: Path) -> list[str]:
    """The saves begun and not finished, in log order (a name is saved many times in one run)."""
    begun: list[str] = []
    for line in log.read_text().splitlines():
        kind, _, name = line.partition(" ")
        if kind == "save":
            begun.append(name)
        elif kind == "saved":
            begun.remove(name)
    return begun


def wait_for(condition, proc, timeout: float = 120) -> bool:
    """Poll ``condition`` until true (True), the process exits or ``timeout`` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if condition():
            return True
        time.sleep(0.01)
    return False


def val_mse(path: Path) -> float:
    """The validation MSE of a saved model on the driver's validation batch."""
    image = np.random.default_rng(1).random((2, 32, 32, 3), dtype=np.float32)
    pred = keras.models.load_model(path, compile=False, safe_mode=True)(image, training=False)
    return float(np.mean((np.asarray(pred) - (image[..., :1] > 0.5)) ** 2))


def check_on_disk(out: Path) -> dict:
    """Every checkpoint loads; returns the state (``{}``: none) and the best model's score."""
    for path in out.glob("[!.]*.keras"):  # not the temporary files of a save cut short
        keras.models.load_model(path, compile=False, safe_mode=True)
    state_file = out / "backup" / "state.json"
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    for name in filter(None, (state.get("file"), state.get("previous"))):
        net = build_coarse_unet(filters=[4, 8])
        net.compile(optimizer=keras.optimizers.Adam(), loss=bce_dice_loss)
        net.optimizer.build(net.trainable_variables)
        net.load_weights(out / "backup" / name)
    best = out / "coarse_best.keras"
    return {**state, "best_file": val_mse(best) if best.is_file() else None}


@pytest.mark.slow
def test_a_fit_killed_anywhere_and_resumed_trains_each_kept_step_once(tmp_path):
    out, rng = tmp_path / "run", np.random.default_rng(7)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
    kept, saved, best, best_file, mid_save, done = [], 0, None, None, 0, False
    for run in range(6):  # five runs killed (odd ones inside a save), then one to the end
        log = tmp_path / f"run{run}.log"
        log.touch()
        proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "kill_driver.py"), str(out), str(log)],
                                env=env, cwd=ROOT)  # fmt: skip
        try:
            if run < 5 and wait_for(lambda log=log: lines(log, "step"), proc):
                time.sleep(rng.uniform(0.3, 4))
                saves = len(lines(log, "save"))
                if run % 2 == 0 or wait_for(lambda log=log, n=saves: len(lines(log, "save")) > n, proc):
                    proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=180)
        finally:
            proc.kill()
        steps = [int(s) for s in lines(log, "step")]
        # The run trains on from the saved step, without a gap or a repeat of a kept step.
        assert steps == list(range(saved + 1, saved + 1 + len(steps))), (run, saved, steps)
        state = check_on_disk(out)
        if run < 5 and proc.returncode == -signal.SIGKILL and run % 2:
            mid_save += bool(open_saves(log))
        now = state.get("step", TOTAL if not (out / "backup").exists() else 0)
        assert saved <= now <= (steps[-1] if steps else saved), (run, saved, now, steps)
        kept += [s for s in steps if s <= now]  # the tail past the saved state is done again
        saved = now
        for score, before in ((state.get("best", best), best), (state["best_file"], best_file)):
            assert before is None or (score is not None and score <= before + 1e-6), (run, score, before)
        best, best_file = state.get("best", best), state["best_file"]
        if proc.returncode == 0 or not (out / "backup").exists():
            done = (out / "coarse.keras").is_file()
            break
    assert done and kept == list(range(1, TOTAL + 1))
    assert mid_save >= 1  # some kill did land inside a save
    assert not list(out.rglob(".*.tmp*")) and not (out / "backup").exists()

"""benchmarks/model_speed.py times closed-form matting and the pipelines in alternating rounds, so
that their ratio compares the two over the same minutes of a shared machine."""

import sys
from pathlib import Path

import numpy as np
import pymatting

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import model_speed  # noqa: E402  (benchmarks/ is a folder of scripts, each importing its neighbours)


class Recorder:
    """A stand-in pipeline that notes each call in ``calls``."""

    def __init__(self, name: str, calls: list):
        self.name, self.calls = name, calls

    def predict(self, image):
        assert image.shape == (768, 640, 3) and image.dtype == np.uint8
        self.calls.append(self.name)


def test_closed_form_and_pipelines_take_turns(monkeypatch):
    calls = []
    monkeypatch.setattr(pymatting, "estimate_alpha_cf", lambda image, trimap: calls.append("cf"))
    pipelines = {"tf": Recorder("tf", calls), "onnx": Recorder("onnx", calls)}
    images = [(np.zeros((8, 8, 3)), np.zeros((8, 8)))] * 3

    times, seconds = model_speed.interleaved_times(pipelines, repeats=5, closed_form=images)

    assert set(times) == {"tf", "onnx"} and all(t >= 0 for t in times.values())
    assert seconds is not None and seconds >= 0
    # Warm-ups (each pipeline once, closed form's compile once), then 3 rounds of one closed-form
    # image and, for each pipeline, an untimed call and ceil(5 / 3) = 2 timed ones: at least 5 timed
    # calls each.
    assert calls[:3] == ["tf", "onnx", "cf"]
    assert calls[3:] == ["cf", "tf", "tf", "tf", "onnx", "onnx", "onnx"] * 3


def test_without_closed_form_the_pipelines_still_get_their_repeats(monkeypatch):
    calls = []
    monkeypatch.setattr(pymatting, "estimate_alpha_cf", lambda image, trimap: calls.append("cf"))
    times, seconds = model_speed.interleaved_times({"tf": Recorder("tf", calls)}, repeats=4, closed_form=[])
    assert seconds is None and set(times) == {"tf"}
    assert calls == ["tf"] * 6  # a warm-up, an untimed call and 4 timed ones, no closed form at all

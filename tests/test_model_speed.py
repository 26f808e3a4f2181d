"""benchmarks/model_speed.py times closed-form matting and the pipelines in alternating rounds, so
that their ratio compares the two over the same minutes of a shared machine."""

from pathlib import Path

import keras
import numpy as np
import pymatting
import pytest

from matting.evaluation import timing
from matting.evaluation.timing import interleaved_times, with_trained_statistics

ROOT = Path(__file__).resolve().parents[1]
SCRIPT, RELEASED = ROOT / "benchmarks" / "model_speed.py", ROOT / "pretrained" / "portrait"


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

    times, seconds = interleaved_times(pipelines, block=2, closed_form=images)

    assert set(times) == {"tf", "onnx"}
    assert all(set(t) == {"per_image", "first"} and min(t.values()) >= 0 for t in times.values())
    assert seconds is not None and seconds >= 0
    # Warm-ups (each pipeline once, closed form's compile once), then 3 rounds of one closed-form
    # image and, for each pipeline, a block of 2 consecutive timed calls.
    assert calls[:3] == ["tf", "onnx", "cf"]
    assert calls[3:] == ["cf", "tf", "tf", "onnx", "onnx"] * 3


def test_per_image_is_the_median_of_every_call_and_first_the_blocks_first(monkeypatch):
    durations = iter([3.0, 1.0, 1.0, 5.0, 1.0])  # one block of five calls, slow at first
    monkeypatch.setattr(timing, "timed", lambda fn, *args: (fn(*args), next(durations)))
    times, _ = interleaved_times({"tf": Recorder("tf", [])}, block=5, closed_form=[])
    assert times["tf"] == {"per_image": 1000.0, "first": 3000.0}


def test_trained_statistics_give_the_folded_convolutions_biases():
    from matting.models import build_fine
    from matting.models.folding import fold_batch_norms

    def biases(model):
        folded = fold_batch_norms(model)
        return [w for layer in folded._flatten_layers() if getattr(layer, "use_bias", False)
                for w in [layer.bias.numpy()]]  # fmt: skip

    model = build_fine(arch="fast", filters=[8, 8], blocks=[0, 1])
    norms = sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model._flatten_layers())
    untrained = sum(bool(np.any(b)) for b in biases(model))
    trained = sum(bool(np.any(b)) for b in biases(with_trained_statistics(model, seed=0)))
    assert norms > 0 and trained == untrained + norms  # each folded batch norm now leaves a bias


def test_without_closed_form_the_pipelines_still_get_their_block(monkeypatch):
    calls = []
    monkeypatch.setattr(pymatting, "estimate_alpha_cf", lambda image, trimap: calls.append("cf"))
    times, seconds = interleaved_times({"tf": Recorder("tf", calls)}, block=4, closed_form=[])
    assert seconds is None and set(times) == {"tf"}
    assert calls == ["tf"] * 5  # a warm-up and a block of 4 timed calls, no closed form at all
    with pytest.raises(ValueError, match="block"):
        interleaved_times({"tf": Recorder("tf", calls)}, block=0, closed_form=[])


@pytest.mark.skipif(not (RELEASED / "coarse" / "coarse.keras").is_file(), reason="no released model")
def test_the_released_arch_times_the_released_checkpoints_themselves():
    import runpy

    from matting.models.loading import load_checkpoint

    model_speed = runpy.run_path(str(SCRIPT))  # the script's functions, as `python` would load them
    coarse, fine = model_speed["nets"]("released")
    saved = load_checkpoint(RELEASED / "coarse" / "coarse.keras")
    for got, want in zip(coarse.weights, saved.weights, strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert fine.input_shape[-1] == 4
    built, _ = model_speed["nets"]("fast")  # a config's nets: built afresh
    assert not np.array_equal(built.weights[0].numpy(), coarse.weights[0].numpy())

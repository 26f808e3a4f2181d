"""ModelScope's own pipeline loads our ``format=modelscope`` export and agrees with us.

Needs the optional extra: ``make test-interop`` (``pip install -e ".[modelscope]"``, which brings the
CPU build of torch that modelscope imports at start). Skipped where modelscope is not installed.
"""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import compose_config
from test_fast_models import fast_pipeline  # noqa: F401 (a fixture: the tiny fast pair)

from matting.export import export
from matting.inference.pipeline import MattingPipeline
from matting.io.images import write_png

modelscope = pytest.importorskip(
    "modelscope", reason='modelscope is not installed: `make test-interop` installs ".[modelscope]"'
)

pytestmark = pytest.mark.interop
RELEASED = Path(__file__).resolve().parents[1] / "pretrained" / "portrait"


def check_modelscope_runs(ours: MattingPipeline, tmp_path) -> None:
    """ModelScope's portrait-matting pipeline on our export of ``ours`` gives our RGBA."""
    from modelscope.outputs import OutputKeys
    from modelscope.pipelines import pipeline
    from modelscope.utils.constant import Tasks

    folder = export(ours.module, str(tmp_path / "modelscope"), format="modelscope")
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, shape, np.uint8) for shape in [(120, 96, 3), (77, 131, 3)]]
    expected = [ours.predict_rgba(image)[..., 3].astype(int) for image in images]
    # ModelScope imports the frozen graph into TF1's default graph: a second export loaded in the
    # same process would find the first one's node names there. Each call gets its own graph.
    with tf.Graph().as_default():
        matting = pipeline(Tasks.portrait_matting, model=str(folder))
        for image, alpha in zip(images, expected, strict=True):
            path = tmp_path / f"{image.shape[0]}x{image.shape[1]}.png"
            write_png(path, image)
            bgra = matting(str(path))[OutputKeys.OUTPUT_IMG]
            assert bgra.shape == (*image.shape[:2], 4)
            rgba = bgra[..., [2, 1, 0, 3]]
            np.testing.assert_array_equal(rgba[..., :3], image)
            assert np.abs(rgba[..., 3].astype(int) - alpha).max() <= 1  # 8-bit rounding at most


def test_modelscope_pipeline_runs_our_export(trained, tmp_path):
    overrides, _ = trained
    cfg = compose_config("export", overrides)
    ours = MattingPipeline.from_checkpoints(
        cfg.coarse_checkpoint, cfg.fine_checkpoint, coarse_size=(32, 32), fine_size=(64, 64)
    )
    check_modelscope_runs(ours, tmp_path)


def test_modelscope_pipeline_runs_the_fast_pair(fast_pipeline, tmp_path):  # noqa: F811
    check_modelscope_runs(fast_pipeline, tmp_path)


@pytest.mark.skipif(not (RELEASED / "coarse" / "coarse.keras").is_file(), reason="no released model")
def test_modelscope_pipeline_runs_the_released_model(tmp_path):
    cfg = compose_config("export", [])  # name=pretrained: the released checkpoints
    ours = MattingPipeline.from_checkpoints(cfg.coarse_checkpoint, cfg.fine_checkpoint)
    check_modelscope_runs(ours, tmp_path)

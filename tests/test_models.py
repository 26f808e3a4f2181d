import keras
import numpy as np
import pytest

from matting.errors import ConfigError
from matting.models.unet import build_coarse_unet, build_fine_unet


@pytest.mark.parametrize(("builder", "channels"), [(build_coarse_unet, 3), (build_fine_unet, 4)])
@pytest.mark.parametrize("separable", [False, True])
def test_output_shape_and_range(builder, channels, separable):
    model = builder(filters=[4, 8, 16], separable=separable)
    x = np.random.default_rng(0).random((2, 64, 64, channels), dtype=np.float32)
    y = model(x, training=False).numpy()
    assert y.shape == (2, 64, 64, 1)
    assert y.min() >= 0.0 and y.max() <= 1.0


def test_one_set_of_weights_serves_other_sizes():
    model = build_coarse_unet(filters=[4, 8])
    assert model(np.zeros((1, 96, 80, 3), np.float32)).shape == (1, 96, 80, 1)
    assert model(np.zeros((1, 32, 48, 3), np.float32)).shape == (1, 32, 48, 1)


def test_get_config_round_trip_rebuilds_the_same_architecture():
    model = build_fine_unet(filters=[4, 8, 16], separable=True, bn_momentum=0.8)
    clone = keras.Model.from_config(model.get_config())
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    assert clone.count_params() == model.count_params()


def test_keras_save_load_round_trip_gives_equal_outputs(tmp_path):
    model = build_fine_unet(filters=[4, 8])
    x = np.random.default_rng(1).random((2, 64, 64, 4), dtype=np.float32)
    model.save(tmp_path / "fine.keras")
    loaded = keras.models.load_model(tmp_path / "fine.keras", compile=False)
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), atol=1e-6)


@pytest.mark.parametrize("filters", [[16], [8, 0], [8, -4]])
def test_bad_widths_are_a_config_error(filters):
    with pytest.raises(ConfigError, match="filters"):
        build_coarse_unet(filters=filters)


def test_untrained_residual_refinement_passes_the_coarse_mask_through():
    model = build_fine_unet(filters=[4, 8])
    x = np.random.default_rng(2).random((1, 32, 32, 4), dtype=np.float32)
    np.testing.assert_allclose(model(x)[..., 0], np.clip(x[..., 3], 0.01, 0.99), atol=1e-5)


@pytest.mark.slow  # a fresh Python process importing TensorFlow: about 10 s
def test_a_fresh_process_loads_checkpoints_through_the_inference_module(tmp_path):
    import subprocess
    import sys

    build_coarse_unet(filters=[4, 8]).save(tmp_path / "coarse.keras")
    build_fine_unet(filters=[4, 8]).save(tmp_path / "fine.keras")
    code = (
        "from matting.inference.pipeline import MattingPipeline; import numpy as np; "
        f"p = MattingPipeline.from_checkpoints('{tmp_path}/coarse.keras', '{tmp_path}/fine.keras', "
        "coarse_size=(16, 16), fine_size=(32, 32)); print(p.predict(np.zeros((20, 30, 3), np.uint8)).shape)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("(20, 30)")

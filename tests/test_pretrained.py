"""``backbone_weights=imagenet`` without a network: Keras' cache seeded from a local folder of
verified files, and a clear error at start where neither the cache nor a download can serve it."""

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import compose_config
from omegaconf import OmegaConf

from matting.errors import ConfigError
from matting.models import pretrained
from matting.models.fast import build_coarse_fast, mobilenet_v2_features
from matting.models.pretrained import IMAGENET_SHA256, imagenet_file_name, seed_cache

WEIGHTS = Path(__file__).resolve().parents[2] / "shared" / "weights"
OFFICIAL = WEIGHTS / imagenet_file_name(0.35)
needs_weights = pytest.mark.skipif(
    not OFFICIAL.is_file(), reason=f"{OFFICIAL} absent (the official file, kept beside the repository)"
)


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras home, and no way to download: the only source is what a test puts there."""
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setattr("keras.src.backend.config._KERAS_DIR", str(home))
    monkeypatch.setattr(pretrained, "DOWNLOAD_HOST", ("127.0.0.1", 9))  # refused at once
    return home


def test_without_a_cached_file_or_a_network_imagenet_is_an_error_at_start(keras_home):
    started = time.perf_counter()
    with pytest.raises(
        ConfigError, match=r"backbone_weights=imagenet: mobilenet_v2_weights_.*0\.5_224.*cannot be reached"
    ):
        build_coarse_fast(backbone_weights="imagenet")
    assert time.perf_counter() - started < 10  # no hang on a download


def test_a_file_that_is_not_the_published_one_is_never_cached(keras_home, tmp_path):
    folder = tmp_path / "weights"
    folder.mkdir()
    fake = folder / imagenet_file_name(0.5)
    fake.write_bytes(b"not weights")
    with pytest.raises(ConfigError, match=rf"{fake}: not the published ImageNet weights"):
        seed_cache(folder)
    assert not (keras_home / "models" / fake.name).exists()
    # A broken file already in the cache (a download cut short) is named, with the way out.
    (keras_home / "models").mkdir()
    shutil.copy(fake, keras_home / "models" / fake.name)
    with pytest.raises(ConfigError, match="truncated download perhaps: delete it"):
        build_coarse_fast(backbone_weights="imagenet")


@needs_weights
def test_a_seeded_cache_serves_imagenet_offline_with_the_files_weights(keras_home, tmp_path):
    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copy(OFFICIAL, folder)
    cached = seed_cache(folder)
    assert cached == [keras_home / "models" / OFFICIAL.name]
    assert pretrained.sha256(cached[0]) == IMAGENET_SHA256[0.35]
    assert seed_cache(folder) == cached  # again: nothing to do, nothing broken
    by_name = mobilenet_v2_features(alpha=0.35, weights="imagenet")
    by_path = mobilenet_v2_features(alpha=0.35, weights=str(OFFICIAL))
    for a, b in zip(by_name.get_weights(), by_path.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    untrained = mobilenet_v2_features(alpha=0.35)
    assert not np.array_equal(untrained.get_weights()[0], by_name.get_weights()[0])


@needs_weights
def test_training_seeds_the_cache_from_paths_weights_dir(keras_home, tmp_path, capsys):
    from cli_common import seed_imagenet

    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copy(OFFICIAL, folder)
    overrides = [f"paths.weights_dir={folder}", "model.coarse.backbone_alpha=0.35"]
    seed_imagenet(compose_config("train_coarse", overrides))  # backbone_weights: null
    assert not (keras_home / "models").exists()
    seed_imagenet(compose_config("train_coarse", [*overrides, "model.coarse.backbone_weights=imagenet"]))
    assert (keras_home / "models" / OFFICIAL.name).is_file()
    assert f"imagenet weights: {keras_home / 'models' / OFFICIAL.name}" in capsys.readouterr().out


def test_the_untrained_baseline_of_evaluate_has_no_pretrained_encoder(keras_home):
    from evaluate import untrained_nets  # no cache, no network: an ImageNet encoder would fail here

    model = OmegaConf.to_container(compose_config("evaluate", ["experiment=real"]).model, resolve=True)
    assert model["coarse"]["backbone_weights"] == "imagenet"
    coarse, fine = untrained_nets(model)
    again, _ = untrained_nets(model)
    np.testing.assert_array_equal(coarse.get_weights()[0], again.get_weights()[0])  # seeded
    assert fine.input_shape[-1] == 4

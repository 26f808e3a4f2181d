"""Every primary config composes with every experiment preset, and config values reach the code."""

from pathlib import Path

import pytest
from conftest import CONFIG_DIR, PRIMARY_CONFIGS, compose_config
from omegaconf import OmegaConf

EXPERIMENTS = sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))


def test_there_is_a_demo_preset():
    assert "demo" in EXPERIMENTS


@pytest.mark.parametrize("experiment", [None, *EXPERIMENTS])
@pytest.mark.parametrize("config_name", PRIMARY_CONFIGS)
def test_preset_composes_and_resolves(config_name, experiment):
    overrides = [f"experiment={experiment}"] if experiment else []
    cfg = compose_config(config_name, overrides)
    resolved = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert resolved["paths"]["run_dir"].endswith(resolved["name"])


def test_demo_shrinks_the_card_settings():
    card = compose_config("train_fine")
    demo = compose_config("train_fine", ["experiment=demo"])
    assert list(card.model.coarse_size) == [192, 160] and list(card.model.fine_size) == [768, 640]
    assert card.train.fit.learning_rate == 1e-3
    assert demo.model.fine_size[0] < card.model.fine_size[0]


def test_config_keys_are_the_keyword_arguments_they_feed():
    import inspect

    from matting.data.build import build_dataset
    from matting.data.pipeline import make_dataset
    from matting.data.synthetic import write_synthetic_dataset
    from matting.models.unet import build_unet
    from matting.training import fit_model, train_stage

    def params(fn):
        return set(inspect.signature(fn).parameters)

    from matting.data.pipeline import degrade_alpha
    from matting.losses import alpha_loss, bce_dice_loss

    for experiment in [None, *EXPERIMENTS]:
        extra = [f"experiment={experiment}"] if experiment else []
        coarse, fine = compose_config("train_coarse", extra), compose_config("train_fine", extra)
        for cfg, loss in ((coarse, bce_dice_loss), (fine, alpha_loss)):
            assert set(cfg.train) <= params(train_stage)
            assert set(cfg.train.input) <= params(make_dataset)
            assert set(cfg.train.fit) <= params(fit_model)
            assert set(cfg.train.loss) <= params(loss)
            assert set(cfg.model.coarse) <= params(build_unet)
            assert set(cfg.model.fine) <= params(build_unet)
        assert set(fine.train.input.degrade) <= params(degrade_alpha)
    build_cfg = compose_config("build_dataset")
    assert set(build_cfg.data.build) <= params(build_dataset)
    assert set(build_cfg.data.synthetic) <= params(write_synthetic_dataset)

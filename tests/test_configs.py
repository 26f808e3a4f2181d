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
    if config_name == "predict":
        overrides.append("input=photo.jpg")  # the one value a command must give
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

    from matting.data.augment import build_augmentation
    from matting.data.build import build_dataset
    from matting.data.pipeline import make_dataset
    from matting.data.stages import CoarseStage, FineStage, degrade_alpha, make_stage
    from matting.data.synthetic import write_synthetic_dataset
    from matting.losses import alpha_loss, bce_dice_loss
    from matting.models.fast import build_coarse_fast, build_fine_fast
    from matting.models.unet import build_unet
    from matting.training.fit import fit_model
    from matting.training.stage import train_stage

    def params(fn):
        return set(inspect.signature(fn).parameters)

    for experiment in [None, *EXPERIMENTS]:
        extra = [f"experiment={experiment}"] if experiment else []
        coarse, fine = compose_config("train_coarse", extra), compose_config("train_fine", extra)
        for cfg, stage, loss in ((coarse, CoarseStage, bce_dice_loss), (fine, FineStage, alpha_loss)):
            # train.onednn is read by cli_common.train, before TensorFlow loads; the rest by train_stage.
            assert "onednn" in cfg.train and set(cfg.train) - {"onednn"} <= params(train_stage)
            assert set(cfg.train.input) <= params(make_dataset)
            # Every augmentation setting is written out in the config (seed: tests only).
            assert set(cfg.train.input.augment) == params(build_augmentation) - {"seed"}
            assert build_augmentation(**OmegaConf.to_container(cfg.train.input.augment)).recomposites
            filled = {"size", "net", "loss_weights", "coarse_size"}  # by make_stage, from model and loss
            examples = {key for key, value in (cfg.train.get("examples") or {}).items() if value is not None}
            assert examples <= params(stage) - filled  # null: a preset's setting for the other stage
            assert set(cfg.train.fit) <= params(fit_model)
            assert set(cfg.train.loss) <= params(loss)
            builders = {"unet": (build_unet, build_unet), "fast": (build_coarse_fast, build_fine_fast)}
            coarse_builder, fine_builder = builders[cfg.model.coarse.arch]
            assert set(cfg.model.coarse) <= params(coarse_builder) | {"arch"}
            assert set(cfg.model.fine) <= params(fine_builder) | {"arch"}
            # The stage the config names is the one its examples and loss were checked against.
            model = OmegaConf.to_container(cfg.model, resolve=True)
            assert isinstance(make_stage(cfg.train.stage, model=model, loss={}), stage)
        assert set(fine.train.examples.degrade) <= params(degrade_alpha)
    fast = compose_config("train_fine", ["model=fast"]).model
    assert set(fast.coarse) <= params(build_coarse_fast) | {"arch"} and fast.coarse.arch == "fast"
    assert set(fast.fine) <= params(build_fine_fast) | {"arch"} and fast.fine.arch == "fast"
    build_cfg = compose_config("build_dataset")
    assert set(build_cfg.data.build) <= params(build_dataset)
    assert set(build_cfg.data.synthetic) <= params(write_synthetic_dataset)


def test_the_configs_paths_are_the_layout_the_code_reads():
    from matting.layout import eval_files, stage_files

    for stage in ("coarse", "fine"):
        cfg = compose_config(f"train_{stage}", ["experiment=demo"])
        files = stage_files(cfg.paths.run_dir, stage)
        assert Path(cfg.train.out_dir) == files.folder
        assert Path(cfg.paths[f"{stage}_checkpoint"]) == files.last
    evaluate = compose_config("evaluate", ["split=val"])
    assert Path(evaluate.out_dir) == eval_files(evaluate.paths.run_dir, "val").folder


def test_predict_and_export_read_the_released_model_unless_told_a_run():
    from matting.layout import stage_files

    for script, extra in (("predict", ["input=photo.jpg"]), ("export", [])):
        released = compose_config(script, extra)
        folder = released.paths.released.pretrained
        assert Path(folder).parts[-2:] == ("pretrained", "portrait")
        assert Path(released.coarse_checkpoint) == stage_files(folder, "coarse").last
        assert Path(released.fine_checkpoint) == stage_files(folder, "fine").last
        assert Path(released.paths.predict_dir).parts[-3:] == ("outputs", "pretrained", "predict")
        for override in ("name=mine", "experiment=demo"):
            run = compose_config(script, [*extra, override])
            assert Path(run.coarse_checkpoint) == stage_files(run.paths.run_dir, "coarse").last
    finetune = compose_config("train_coarse", ["experiment=finetune"])
    assert Path(finetune.train.init_from) == stage_files(folder, "coarse").last
    mine = compose_config("train_fine", ["experiment=finetune", "pretrained=mine"])
    assert Path(mine.train.init_from) == stage_files(Path(mine.paths.output_dir) / "mine", "fine").last

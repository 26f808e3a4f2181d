"""Shared fixtures: composing the Hydra configs, and a tiny dataset built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = str(ROOT / "configs")
PRIMARY_CONFIGS = (
    "build_dataset",
    "train_coarse",
    "train_fine",
    "evaluate",
    "export",
    "predict",
    "release",
    "app",
    "average",
)


def compose_config(name: str, overrides: list[str] | None = None):
    """The composed config of script ``name`` with ``overrides``, as the script would see it."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name=name, overrides=overrides or [])


def tiny_overrides(root: Path) -> list[str]:
    """Overrides that shrink every stage to seconds: 96x80 composites, 2-level U-Nets."""
    return [
        f"paths.root_dir={root}",
        "name=tiny",
        "data.name=tiny",
        "data.synthetic.num_foregrounds=12",
        "data.synthetic.num_backgrounds=6",
        "data.synthetic.fg_size=[96,80]",
        "data.synthetic.bg_size=[96,80]",
        "data.build.size=[96,80]",
        "data.build.counts={train: 24, val: 4, test: 6}",
        "data.build.holdout={val: 0.2, test: 0.2}",
        "data.build.samples_per_shard=8",
    ]


def tiny_model_overrides() -> list[str]:
    return [
        "model=unet",  # the lightest nets at 32x32 (the fast coarse net reaches 1/32)
        "model.coarse_size=[32,32]",
        "model.fine_size=[64,64]",
        "model.coarse.filters=[4,8]",
        "model.fine.filters=[4,8]",
    ]


def tiny_train_overrides() -> list[str]:
    return [
        "train.input.batch_size=2",
        "train.input.shuffle_buffer=8",
        "train.fit.epochs=2",
        "train.fit.steps_per_epoch=3",
        "train.fit.validation_steps=1",
    ]


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    """A folder with the tiny synthetic dataset built into shards (train 3 shards, val, test)."""
    from build_dataset import build

    root = tmp_path_factory.mktemp("tiny")
    build(compose_config("build_dataset", tiny_overrides(root)))
    return root


@pytest.fixture(scope="session")
def trained(tiny_root):
    """The tiny dataset with both stages trained; returns the overrides that reach it."""
    from cli_common import train

    overrides = tiny_overrides(tiny_root) + tiny_model_overrides()
    results = {
        stage: train(compose_config(f"train_{stage}", overrides + tiny_train_overrides()))
        for stage in ("coarse", "fine")
    }
    return overrides, results

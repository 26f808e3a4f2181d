"""What the thin Hydra scripts share: config to plain dicts, one-line errors, stage timing, and
``train(cfg)``, which both training scripts run.

This file lives beside the scripts, not in ``matting/``: the library never imports Hydra or
OmegaConf.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from matting.errors import ConfigError, MattingError
from matting.io.images import skipped_line, write_skipped
from matting.layout import StageFiles


def plain(cfg: DictConfig) -> dict:
    """The resolved config as plain Python containers; a missing ``???`` value raises."""
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


def pipeline_options(cfg: DictConfig) -> dict:
    """The keyword arguments of ``MattingPipeline.from_models`` / ``from_checkpoints`` in ``cfg.model``."""
    model = plain(cfg.model)
    return {key: model[key] for key in ("coarse_size", "fine_size", "upsample", "fine_frame")}


def check_trained_sizes(cfg: DictConfig) -> None:
    """Refuse to run checkpoints at other sizes than they were trained at (read from the config
    each training stage saves beside its checkpoint, ``StageFiles.config``)."""
    for stage, checkpoint in (("coarse", cfg.coarse_checkpoint), ("fine", cfg.fine_checkpoint)):
        saved = StageFiles(Path(checkpoint).parent, stage).config
        if not saved.is_file():
            continue  # a checkpoint from elsewhere: nothing to compare with
        trained = OmegaConf.load(saved).model
        for key in ("coarse_size", "fine_size") if stage == "fine" else ("coarse_size",):
            if list(trained[key]) != list(cfg.model[key]):
                raise ConfigError(
                    f"{checkpoint} was trained with model.{key}={list(trained[key])} but the config says "
                    f"{list(cfg.model[key])}: pass the run's settings (e.g. its experiment=...)"
                )


def checkpoints(cfg: DictConfig) -> dict:
    """The keyword arguments of ``matting.export.load_pipeline`` for ``model_format=keras``, after checking
    that the config's sizes are those the checkpoints were trained at."""
    check_trained_sizes(cfg)
    return {"coarse": cfg.coarse_checkpoint, "fine": cfg.fine_checkpoint, **pipeline_options(cfg)}


def save_config(cfg: DictConfig, path: Path) -> None:
    """Save the resolved config to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, path, resolve=True)


ONEDNN = "TF_ENABLE_ONEDNN_OPTS"


def use_onednn(enabled: bool | None) -> None:
    """TensorFlow's oneDNN CPU kernels on or off (``train.onednn``; None: TensorFlow's default,
    on for x86). TensorFlow reads the switch once, when it loads: in a process that has already
    imported it, a different setting is reported and has no effect."""
    if enabled is None:
        return
    value = "1" if enabled else "0"
    if "tensorflow" not in sys.modules:
        os.environ[ONEDNN] = value
    elif os.environ.get(ONEDNN, "1") != value:
        print(f"train.onednn={enabled} ignored: TensorFlow is already loaded in this process "
              f"(set {ONEDNN}={value} before it starts)", file=sys.stderr)  # fmt: skip


def train(cfg: DictConfig) -> dict:
    """Train the stage named by ``cfg.train.stage``; the resolved config is saved beside it (by the
    chief alone in a multi-worker run)."""
    options = plain(cfg.train)
    use_onednn(options.pop("onednn", None))  # before TensorFlow loads
    from matting.training.stage import train_stage  # here: the other scripts need no training code

    seed_imagenet(cfg)
    path = StageFiles(Path(cfg.train.out_dir), cfg.train.stage).config
    on_chief = lambda: save_config(cfg, path)  # noqa: E731
    result = train_stage(**options, shards_dir=cfg.data.shards_dir, model=plain(cfg.model), on_chief=on_chief)
    print(f"checkpoint: {result['checkpoint']} ({result['images_per_second']} images/s)")
    return result


def seed_imagenet(cfg: DictConfig) -> None:
    """Training the coarse stage with ``model.coarse.backbone_weights=imagenet`` and a
    ``paths.weights_dir`` folder: Keras' cache gets that folder's verified ImageNet files first, so
    no download is needed (none is possible here)."""
    if cfg.train.stage != "coarse" or OmegaConf.select(cfg, "model.coarse.backbone_weights") != "imagenet":
        return
    folder = OmegaConf.select(cfg, "paths.weights_dir", default=None)
    if folder and Path(folder).is_dir():
        from matting.models.pretrained import seed_cache

        for path in seed_cache(folder, alphas=[cfg.model.coarse.backbone_alpha]):
            print(f"imagenet weights: {path} (from {folder})")


def run(stage: str, fn, cfg: DictConfig):
    """Run ``fn(cfg)``, print how long it took; a user error becomes one line and exit code 2."""
    started = time.perf_counter()
    try:
        result = fn(cfg)
    except (MattingError, OmegaConfBaseException) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"error: {stage}: {message}", file=sys.stderr)
        sys.exit(2)
    print(f"[{stage}] finished in {time.perf_counter() - started:.1f} s", flush=True)
    return result


def report_skipped(out_dir: str, done: int, verb: str, skipped: list[dict]) -> str:
    """A folder run's skips: each printed, all listed in ``out_dir/skipped.csv``; returns the
    run's last line (``N written, K skipped (see ...)``)."""
    for skip in skipped:
        print(f"skipped: {skip['reason']}")
    return skipped_line(done, verb, skipped, write_skipped(out_dir, skipped))


def exit_after_folder_run(result: dict) -> None:
    """Print a folder run's last line and exit: 0 when nothing was skipped, 1 when something was."""
    print(result["summary"])
    sys.exit(1 if result["skipped"] else 0)

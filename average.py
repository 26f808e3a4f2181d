"""Average checkpoints of one architecture into one net (weight averaging along a run's lineage).

python average.py name=soup 'checkpoints=[outputs/r4/coarse/coarse.keras,outputs/r5/coarse/coarse.keras]'
python average.py name=soup stage=fine 'checkpoints=[...]' overwrite=true
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from cli_common import plain, run
from matting.errors import ConfigError
from matting.layout import STAGES
from matting.models.averaging import write_averaged


def average(cfg: DictConfig) -> str:
    if cfg.stage not in STAGES:
        raise ConfigError(f"stage must be one of {list(STAGES)}, got {cfg.stage!r}")
    paths = plain(cfg).get("checkpoints")
    if not isinstance(paths, list):
        raise ConfigError(f"checkpoints must be a list of .keras files, got {paths!r}")
    path = write_averaged(paths, cfg.out_dir, cfg.stage, overwrite=cfg.overwrite)
    print(f"averaged {len(paths)} checkpoints: {path}")
    return str(path)


@hydra.main(version_base="1.3", config_path="configs", config_name="average")
def main(cfg: DictConfig) -> None:
    run("average", average, cfg)


if __name__ == "__main__":
    main()

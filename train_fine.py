"""Train the refinement net (model=fast or model=unet): image + coarse mask at 768x640 -> alpha matte.

The coarse mask input is the true alpha degraded at random (threshold, dilation or erosion, a
down-up resample through the coarse size), standing in for coarse predictions of every quality.

    python train_fine.py                       # card settings on the built dataset
    python train_fine.py experiment=demo       # the small run `make demo` uses
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from cli_common import run, train


@hydra.main(version_base="1.3", config_path="configs", config_name="train_fine")
def main(cfg: DictConfig) -> None:
    run(f"train {cfg.train.stage}", train, cfg)


if __name__ == "__main__":
    main()

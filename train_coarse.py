"""Train the coarse net (model=fast: MobileNetV2 and a light decoder; model=unet: the card's U-Net):
image resized to 192x160 -> person mask.

python train_coarse.py                     # card settings on the built dataset
python train_coarse.py experiment=demo     # the small run `make demo` uses
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from cli_common import run, train


@hydra.main(version_base="1.3", config_path="configs", config_name="train_coarse")
def main(cfg: DictConfig) -> None:
    run(f"train {cfg.train.stage}", train, cfg)


if __name__ == "__main__":
    main()

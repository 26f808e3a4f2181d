"""Release a trained run as the repository's model (``pretrained/portrait``, what ``predict.py``
and ``export.py`` use by default): its checkpoints without optimizer state, its configs, its
held-out figures and a model card made from them.

    python benchmarks/peers.py --coarse outputs/real/coarse/coarse.keras \\
        --fine outputs/real/fine/fine.keras --coarse-size 192 160 --fine-size 768 640 \\
        --splits data/shards/real/splits.json --out outputs/real/peers
    python release.py experiment=real      # outputs/real -> pretrained/portrait
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from cli_common import run
from matting.release import release


def make_release(cfg: DictConfig) -> Path:
    card = Path(cfg.card_template).read_text()
    out = release(cfg.run_dir, cfg.peers, cfg.out_dir, card)
    print(f"released: {cfg.run_dir} -> {out}")
    return out


@hydra.main(version_base="1.3", config_path="configs", config_name="release")
def main(cfg: DictConfig) -> None:
    run("release", make_release, cfg)


if __name__ == "__main__":
    main()

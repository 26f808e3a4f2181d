"""Build TFRecord shards of composites: foreground sources x backgrounds -> train / val / test.

python build_dataset.py                    # the embedded synthetic dataset, card-sized composites
python build_dataset.py experiment=demo    # the small one `make demo` uses
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from cli_common import plain, run
from matting.data.build import build_dataset
from matting.data.synthetic import write_synthetic_dataset


def build(cfg: DictConfig) -> dict:
    """Write the synthetic raw data if the config asks for it, then the shards; returns the manifest."""
    data = plain(cfg.data)
    if data.get("synthetic"):
        write_synthetic_dataset(**data["synthetic"])
    manifest = build_dataset(**data["build"])
    for split, info in manifest["splits"].items():
        photos = f", {info['photos']} photo records of {info['photo_items']} photos" if info["photos"] else ""
        print(f"{split:>5}: {info['count'] - info['photos']} composites{photos} in {len(info['shards'])} "
              f"shards ({info['foregrounds']} foregrounds, {info['backgrounds']} backgrounds)")  # fmt: skip
    if manifest["skipped"]:
        print(f"skipped {len(manifest['skipped'])} files: see {data['build']['out_dir']}/manifest.json")
    return manifest


@hydra.main(version_base="1.3", config_path="configs", config_name="build_dataset")
def main(cfg: DictConfig) -> None:
    run("build dataset", build, cfg)


if __name__ == "__main__":
    main()

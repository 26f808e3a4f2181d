"""A released model: a run's two checkpoints as inference weights (no optimizer state), the configs
they were trained with, the held-out figures of ``benchmarks/peers.py`` and a model card made from
them, in the layout of a run folder (``<out>/coarse/coarse.keras`` ...), so every script reads it as
it reads a run (``paths.released`` in the config).

The card's figures come from the JSON, never typed: a release is made again, not edited.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path

from matting.errors import ConfigError
from matting.evaluation.results import peers_tables, summarise_peers
from matting.io.files import atomic_folder
from matting.layout import CONFIG_FILE, STAGES, stage_files
from matting.models.averaging import AVERAGED_FILE
from matting.models.loading import load_checkpoint

FIGURES_FILE = "figures.json"
CARD_FILE = "README.md"


def save_reproducibly(model, path: Path) -> None:
    """``model`` as a ``.keras`` file (uncompiled: the weights, no optimizer state) that is the same
    byte for byte for the same weights: Keras stamps its zip entries with the time and its
    ``metadata.json`` with the date, so a release made again would change every committed byte."""
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / path.name
        model.save(saved)
        with zipfile.ZipFile(saved) as source, zipfile.ZipFile(path, "w") as target:
            for info in source.infolist():
                data = source.read(info.filename)
                if info.filename == "metadata.json":
                    metadata = json.loads(data)
                    metadata.pop("date_saved", None)
                    data = json.dumps(metadata, sort_keys=True).encode()
                entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
                entry.compress_type, entry.external_attr = info.compress_type, info.external_attr
                target.writestr(entry, data)


# The card beside each net's weights: what the file is; the pair's card holds data and figures.
STAGE_CARD = """# The {what} of the released portrait-matting pair

`{stage}.keras`: {contract}; weights only, no optimizer state. `config.yaml`: the resolved config
of the run that trained it (`outputs/{run}`).

    python predict.py input=photo.jpg     # the pair, through the repository's one inference path
    from matting.models.loading import load_checkpoint; net = load_checkpoint("{stage}/{stage}.keras")

Training data, command, held-out figures beside MediaPipe's and closed form's: the pair's card,
[`../README.md`](../README.md) (and `../figures.json`).

Licences: {licences}
"""
STAGE_CARDS = {
    "coarse": {
        "what": "coarse person net",
        "contract": "RGB image at 192x160, float32 in [0, 1] -> person mask [B, H, W, 1] (MobileNetV2 "
        "alpha 0.5 encoder, ImageNet-initialised, and a light decoder)",
        "licences": "the ImageNet weights it started from, Apache-2.0 (tensorflow/models, converted "
        "by the Keras team); trained on photos for research use only, so released for research use.",
    },
    "fine": {
        "what": "refinement net",
        "contract": "RGB image + coarse mask at 768x640, float32 in [0, 1], [B, H, W, 4] -> alpha "
        "[B, H, W, 1] (inverted residuals at 1/4 and below, a learned guided filter to full size)",
        "licences": "trained from scratch on photos for research use only, so released for research use.",
    },
}


def release(run_dir: str | Path, peers_json: str | Path, out_dir: str | Path, card_template: str) -> Path:
    """Write the release of the run in ``run_dir`` (both stages trained) to ``out_dir``, replacing
    it whole: each stage's ``<stage>.keras`` loaded and saved again uncompiled (the weights alone,
    no optimizer state) with its ``config.yaml`` (and ``averaged.json``, for a mean of
    checkpoints); ``figures.json`` (:func:`~matting.evaluation.results.summarise_peers` of
    ``peers_json``, which must be on held-out photos); ``README.md``, ``card_template`` with
    ``{figures}`` replaced by the tables, and beside each net's weights a card of its own."""
    peers = json.loads(Path(peers_json).read_text())
    if not peers.get("held_out"):
        raise ConfigError(f"{peers_json}: not on held-out photos (peers.py without --splits): not a release")
    for stage, scored in peers.get("checkpoints", {}).items():  # what peers.py scored: this run's
        if Path(scored).resolve() != stage_files(run_dir, stage).last.resolve():
            raise ConfigError(f"{peers_json} scored {scored}, not the {stage} checkpoint of {run_dir}")
    figures = summarise_peers(peers)
    with atomic_folder(out_dir) as tmp:
        for stage in STAGES:
            source, target = stage_files(run_dir, stage), stage_files(tmp, stage)
            target.folder.mkdir(parents=True)
            save_reproducibly(load_checkpoint(source.last), target.last)
            shutil.copyfile(source.folder / CONFIG_FILE, target.folder / CONFIG_FILE)
            if (source.folder / AVERAGED_FILE).is_file():  # a mean of checkpoints: which ones
                shutil.copyfile(source.folder / AVERAGED_FILE, target.folder / AVERAGED_FILE)
            card = STAGE_CARD.format(
                stage=stage, run=source.folder.resolve().parent.name, **STAGE_CARDS[stage]
            )
            (target.folder / CARD_FILE).write_text(card)
        (tmp / FIGURES_FILE).write_text(json.dumps(figures, indent=1) + "\n")
        (tmp / CARD_FILE).write_text(card_template.replace("{figures}", peers_tables(figures)))
    return Path(out_dir)

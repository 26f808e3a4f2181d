"""Score the trained pipeline on a built split through ``matting.inference`` and print a table.

    python evaluate.py                          # test split, trained vs untrained
    python evaluate.py split=val max_images=50
    python evaluate.py model_format=onnx model_path=outputs/default/export/onnx   # score an export
    python evaluate.py +exports.tflite=outputs/default/export/tflite    # add a row for one

    python evaluate.py 'experiment=[shared_real,shared_eval]'  # a shared_real run on ../shared/data,
                                                     # held-out photos only (its splits.json)
    python evaluate.py folder.images=PPM-100/image folder.alphas=PPM-100/matte out_dir=eval/ppm
    python evaluate.py refine_from=gt_mask           # score the refinement alone

Writes per_image.csv, summary.json, summary.md, predictions.png, worst.png (the worst by MSE) and
TensorBoard scalars to ``out_dir``.

Folder runs (``folder``, ``coarse_folder``, ``coarse_folders``) score, with ``holdout.splits_file``
(the run's ``splits.json``), only the photos the run never trained on: each folder entry names its
``source`` as the run's data config does (null: the run never trained on that folder), see
:mod:`matting.evaluation.holdout`. The output says which photos were scored, and says loudly when
they are not restricted to held-out ones.

A folder run skips the files it cannot use (unreadable, no alpha, an alpha of another size) and goes
on; they are printed, listed in ``<out_dir>/skipped.csv`` and in ``summary.json``. The last line is
``N scored, K skipped``; the exit status is 0 when nothing was skipped, 1 when some file was, and 2
for a mistake in the command (``cli_common.run``), as for ``predict.py``.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from cli_common import checkpoints, exit_after_folder_run, pipeline_options, plain, report_skipped, run
from matting.data.pipeline import split_files
from matting.errors import ConfigError
from matting.evaluation.holdout import Selection, SplitRecord, select_photos
from matting.evaluation.report import (
    coarse_note,
    save_prediction_grid,
    summary_table,
    write_report,
    write_tensorboard,
)
from matting.evaluation.samples import load_folder_arrays, load_split_arrays
from matting.evaluation.scoring import score, score_coarse, summarize, worst
from matting.export import load_pipeline
from matting.inference.pipeline import MattingPipeline
from matting.layout import EvalFiles
from matting.models import build_coarse, build_fine


def _select(entry: dict, key: str, record: SplitRecord | None) -> tuple[dict, Selection]:
    """A folder entry (``key`` in the config) without its ``source``, and the photos of it to score:
    with a splits file, only those the run never trained on."""
    entry = dict(entry)
    named = "source" in entry
    source = entry.pop("source", None)
    if record is not None and not named:
        raise ConfigError(
            f"{key}.source is not set: with holdout.splits_file, give the run's name of the source of "
            f"{entry['images']} (data.build.sources[].name), or null if the run never trained on it"
        )
    return entry, select_photos(entry["images"], source, record, option=f"{key}.source")


def _folders(cfg: DictConfig, record: SplitRecord | None) -> dict:
    """Every folder to score: ``{name: (key, entry, selection)}``, the alpha folder first (name
    ``"folder"``), then the mask folders of the coarse stage (named as their summaries)."""
    entries = {}
    if cfg.folder:
        entries["folder"] = ("folder", plain(cfg.folder))
    if cfg.coarse_folder:
        entries["coarse stage"] = ("coarse_folder", plain(cfg.coarse_folder))
    for name, entry in plain(cfg.coarse_folders).items():
        entries[f"coarse stage, {name}"] = (f"coarse_folders.{name}", entry)
    return {name: (key, *_select(entry, key, record)) for name, (key, entry) in entries.items()}


def _samples(cfg: DictConfig, folder: tuple | None) -> tuple[list[dict], list[dict], str]:
    """The images to score (a built split, or the folder of ``cfg.folder``), the skipped files and a title."""
    if folder:
        _, entry, selection = folder
        samples, skipped = load_folder_arrays(**entry, max_images=cfg.max_images, stems=selection.stems)
        return samples, skipped, f"{cfg.folder.images}: {len(samples)} images ({len(skipped)} skipped)"
    samples = load_split_arrays(split_files(cfg.data.shards_dir, cfg.split), cfg.max_images)
    return samples, [], f"{cfg.split} split of {cfg.data.name}: {len(samples)} images"


def evaluate(cfg: DictConfig) -> dict:
    """Score the trained pipeline (and exports and untrained weights, if asked) on a split or a
    folder, and the coarse stage on a mask folder if given; returns the summaries by pipeline."""
    return evaluate_run(cfg)["summaries"]


def untrained_nets(model: dict) -> tuple:
    """The config's two nets with fresh, seeded weights throughout: no pretrained encoder either
    (a baseline, and no download for it)."""
    import keras

    keras.utils.set_random_seed(0)
    coarse = {**model["coarse"]}
    if "backbone_weights" in coarse:
        coarse["backbone_weights"] = None
    return build_coarse(**coarse), build_fine(**model["fine"])


def evaluate_run(cfg: DictConfig) -> dict:
    """:func:`evaluate`, returning ``summaries``, the ``skipped`` files and the run's last line
    (``summary``)."""
    model = plain(cfg.model)
    holdout = cfg.holdout
    record = SplitRecord.read(holdout.splits_file, holdout.splits) if holdout.splits_file else None
    folders = _folders(cfg, record)  # every folder checked (a wrong source name refused) before the nets load
    pipelines = {"trained": load_pipeline(cfg.model_format, cfg.model_path, **checkpoints(cfg))}
    for format, path in plain(cfg.exports).items():
        pipelines[f"trained, {format}"] = load_pipeline(format, path)
    if cfg.compare_untrained:
        untrained = untrained_nets(model)
        pipelines["untrained"] = MattingPipeline.from_models(*untrained, **pipeline_options(cfg))

    samples, skipped, title = _samples(cfg, folders.get("folder"))
    scored = len(samples)
    photos = {"folder": len(samples)} if "folder" in folders else {}  # name -> photos scored
    if cfg.refine_from != "coarse":
        title += f", refinement fed {cfg.refine_from}"
    files = EvalFiles(Path(cfg.out_dir))
    summaries, main_rows = {}, None
    for name, pipeline in pipelines.items():
        rows, preds = score(
            pipeline, samples, batch_size=cfg.batch_size, refine_from=cfg.refine_from, desc=name
        )
        summaries[name] = summarize(rows)
        if main_rows is None:
            main_rows = rows
            first = list(range(min(cfg.grid_rows, len(samples))))
            save_prediction_grid(str(files.predictions), samples, preds, first)
            save_prediction_grid(str(files.worst), samples, preds, worst(rows, cfg.worst_rows))
    table = summary_table(summaries, title=title)
    for name, (_, entry, selection) in folders.items():
        if name == "folder":
            continue
        masks, more = load_folder_arrays(
            entry["images"], entry["masks"], max_images=cfg.max_images, stems=selection.stems
        )
        skipped += more
        scored += len(masks)
        photos[name] = len(masks)
        coarse = summarize(score_coarse(pipelines["trained"], masks))
        summaries[name] = coarse
        table += "\n\n" + coarse_note(coarse, entry["images"])
    if folders:
        lines = [f"- {folders[name][2].describe(count)}" for name, count in photos.items()]
        table += "\n\nPhotos scored:\n" + "\n".join(lines)
    selections = [folders[name][2].summary(count) for name, count in photos.items()]
    write_report(cfg.out_dir, main_rows, summaries, table, skipped, photos=selections)
    write_tensorboard(str(files.tensorboard), summaries)
    print(table)
    if "untrained" in summaries:
        ratio = summaries["untrained"]["mse"] / max(summaries["trained"]["mse"], 1e-12)
        print(f"\nuntrained / trained MSE: {ratio:.1f}x")
    print(f"report: {files.summary_md}, grids: {files.predictions}, {files.worst}")
    return {
        "summaries": summaries,
        "skipped": skipped,
        "summary": report_skipped(cfg.out_dir, scored, "scored", skipped),
    }


@hydra.main(version_base="1.3", config_path="configs", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    exit_after_folder_run(run("evaluate", evaluate_run, cfg))


if __name__ == "__main__":
    main()

"""Which photos of a folder a run never trained on, from the run's own split record.

The dataset builder writes ``splits.json`` beside the shards (:func:`matting.data.build.build_dataset`):
for each split, the sorted ids ``"{source}:{key}"`` of its foregrounds (and of its photos used as
they are, where the builder lists them) (``source``: the ``name`` of the source's config entry;
``key``: the file stem for the folder sources) and its background paths. A photo of a folder is
*held out* when its id is in one of the held-out splits (``test`` by default) or in no split at all
(the run never saw it); a photo in any other split (``train``, and ``val`` unless it is named held
out), or used as a background of one, is left out of the scoring: a figure on training photos
proves nothing.

Source ``None`` says the run never trained on the folder at all (e.g. ``people`` for a run built
from portraits only): every photo is held out, and the record must list none of them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from matting.data.build import MANIFEST_FILE
from matting.data.splits import SPLITS
from matting.errors import ConfigError, DataError
from matting.io.images import list_images

HELD_OUT = ("test",)


@dataclass(frozen=True)
class SplitRecord:
    """A run's ``splits.json``: the split of every foreground id, and which splits count as held out."""

    path: str
    split_of: dict[str, str]  # foreground (or photo) id -> split
    held_out: tuple[str, ...] = HELD_OUT
    background_split: dict[str, str] = field(default_factory=dict)  # resolved path -> split
    skipped: frozenset[str] = frozenset()  # resolved paths the builder skipped (manifest.json beside)

    @classmethod
    def read(cls, path: str | Path, held_out=HELD_OUT) -> SplitRecord:
        """Read ``path``; a missing or malformed file is a :class:`DataError`, a held-out split it
        does not have a :class:`ConfigError`."""
        path = Path(path)
        if not path.is_file():
            raise DataError(
                f"{path}: no such splits file (the dataset builder writes splits.json beside the run's "
                "shards: build the run's dataset, or point to its shards folder)"
            )
        try:
            listing = json.loads(path.read_text())
            split_of = {
                item: split
                for split, entry in listing.items()
                for item in [*entry["foregrounds"], *entry.get("photos", [])]
            }
            backgrounds = {
                str(Path(bg).resolve()): split
                for split, entry in listing.items()
                for bg in entry.get("backgrounds", [])
            }
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise DataError(f"{path}: not a splits.json of the dataset builder ({error})") from error
        held_out = tuple(held_out)
        unknown = [s for s in held_out if s not in listing]
        if not held_out or unknown:
            raise ConfigError(
                f"held-out splits {list(held_out)}: {path} has the splits {sorted(listing)} "
                f"(the builder's are {list(SPLITS)})"
            )
        # A photo the builder refused (an empty or broken mask: its manifest says why) is not a
        # photo the run never saw: its truth cannot be scored either.
        manifest = path.parent / MANIFEST_FILE
        skipped = json.loads(manifest.read_text()).get("skipped", []) if manifest.is_file() else []
        skipped = frozenset(str(Path(entry["path"]).resolve()) for entry in skipped if "path" in entry)
        return cls(str(path), split_of, held_out, backgrounds, skipped)

    def sources(self) -> list[str]:
        """The source names the record lists, sorted."""
        return sorted({fg.split(":", 1)[0] for fg in self.split_of})


@dataclass(frozen=True)
class Selection:
    """The photos of one folder to score, and why the others are left out."""

    folder: str
    source: str | None  # the run's name for the folder's source; None: the run never trained on it
    stems: tuple[str, ...]  # the photos to score, sorted
    record: str | None = None  # the splits file; None: no restriction (training photos included)
    held_out_splits: tuple[str, ...] = ()
    in_held_out: int = 0  # of ``stems``: listed in a held-out split
    unlisted: int = 0  # of ``stems``: listed in no split (the run never saw them)
    left_out: dict[str, int] = field(default_factory=dict)  # split -> photos not scored

    @property
    def held_out(self) -> bool:
        return self.record is not None

    def describe(self, scored: int | None = None) -> str:
        """One line: which photos were scored (``scored`` of them, where fewer were, e.g. max_images)."""
        total = len(self.stems)
        count = f"{total}" if scored is None or scored == total else f"{scored} of the {total}"
        if not self.held_out:
            return (
                f"{self.folder}: {count} photos scored, NOT HELD OUT: no splits file was given, so the "
                "figures include every photo the run trained on, if it trained on this folder"
            )
        splits = "/".join(self.held_out_splits)
        left = ", ".join(f"{split} {n}" for split, n in sorted(self.left_out.items())) or "none"
        if self.source is None:
            return (
                f"{self.folder}: {count} held-out photos scored, source None: the run never trained on "
                f"this folder ({self.record} lists none of its photos); left out (backgrounds the run "
                f"used): {left}"
            )
        return (
            f"{self.folder}: {count} held-out photos scored, source {self.source!r}: {self.in_held_out} "
            f"in split {splits} of {self.record}, {self.unlisted} listed in no split (never seen by "
            f"the run); left out (trained or validated on): {left}"
        )

    def summary(self, scored: int) -> dict:
        """The selection as plain data, for ``summary.json``."""
        return {
            "folder": self.folder,
            "source": self.source,
            "splits_file": self.record,
            "held_out_splits": list(self.held_out_splits),
            "held_out_photos": len(self.stems),
            "scored": scored,
            "in_held_out_split": self.in_held_out,
            "listed_in_no_split": self.unlisted,
            "left_out": dict(self.left_out),
        }


def select_photos(
    images: str | Path, source: str | None, record: SplitRecord | None, *, option: str = "the source name"
) -> Selection:
    """The photos of the folder ``images`` that the run of ``record`` never trained on, its source
    being named ``source`` in the run's config (``None``: the run never trained on this folder).
    Without a ``record``, every photo (the selection says so: training photos included).

    ``option`` names the setting that gives ``source``, for the messages. A record that lists none of
    the folder's photos as ``source`` (a wrong source name) is a :class:`ConfigError` naming both
    and the sources it does list; so is source ``None`` for a folder of which the record lists half
    the photos or more (by name) under one source.
    A photo that served as a background of a split not held out is left out too (the record's
    relative background paths are taken from the current folder, as the builder wrote them), and so
    is one the builder skipped (listed in the ``manifest.json`` beside the record). A
    folder of which every photo was trained on is a :class:`DataError`.
    """
    files = list_images(images)
    stems = sorted({p.stem for p in files})
    if record is None:
        return Selection(str(images), source, tuple(stems))
    names = set(stems)
    # source name -> how many photos of this folder's names it lists under that source
    listed_as = Counter(fg.split(":", 1)[0] for fg in record.split_of if fg.split(":", 1)[-1] in names)
    others = ", ".join(f"{name!r} ({n})" for name, n in listed_as.most_common() if name != source)
    # Half of the folder's names under one source is no coincidence: that is this folder's source.
    claimed = ", ".join(f"{name!r} ({n})" for name, n in listed_as.most_common() if 2 * n >= len(stems))
    if source is None and claimed:
        raise ConfigError(
            f"{option} is None (the run never trained on {images}), but {record.path} lists photos of "
            f"those names as {claimed}: give {option} that source name"
        )
    splits = {stem: record.split_of.get(f"{source}:{stem}") if source else None for stem in stems}
    if source is not None and not any(splits.values()):
        hint = f"it lists photos of these names as {others}" if others else (
            f"it lists the sources {record.sources()}; if the run never trained on this folder, "
            f"set {option} to none / null"
        )  # fmt: skip
        raise ConfigError(
            f"{record.path} lists none of the {len(stems)} photos of {images} as source {source!r} "
            f"({option}): a wrong source name? {hint}"
        )
    backgrounds = {p.stem: record.background_split.get(str(p.resolve())) for p in files}
    refused = {p.stem for p in files if str(p.resolve()) in record.skipped}
    keep, left_out = [], Counter()
    for stem, split in splits.items():
        if stem in refused:
            left_out["skipped by the build"] += 1
        elif split is not None and split not in record.held_out:
            left_out[split] += 1
        elif backgrounds.get(stem) is not None and backgrounds[stem] not in record.held_out:
            left_out[f"{backgrounds[stem]} (as a background)"] += 1
        else:
            keep.append(stem)
    if not keep:
        raise DataError(
            f"{images}: every photo is in split(s) {sorted(left_out)} of {record.path}, none in "
            f"{list(record.held_out)} or unlisted: nothing held out to score"
        )
    in_held_out = sum(1 for stem in keep if splits[stem] is not None)
    return Selection(
        str(images), source, tuple(keep), record.path, record.held_out, in_held_out,
        len(keep) - in_held_out, dict(left_out),
    )  # fmt: skip

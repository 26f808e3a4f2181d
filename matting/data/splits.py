"""The split policy: which foregrounds, photos and backgrounds go to train, val and test.

The pools are disjoint (no foreground, photo or background is shared between splits), the persons
of one photo stay in one split, and each source is held out in proportion. The split is made per
item, before the items are told apart by use, so an item used both as a composite foreground and
as a photo is in one split. They depend only on the inputs, the held-out fractions and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matting.data.sources import COMPOSITE, PHOTO
from matting.errors import DataError

SPLITS = ("train", "val", "test")


def split_pool(
    items: list, holdout: dict, rng: np.random.Generator, group=None, stratum=None
) -> dict[str, list]:
    """Shuffle ``items`` and cut them into disjoint train / val / test pools; items with the same
    ``group(item)`` (the persons of one photo) always land in the same pool. With ``stratum``
    (the source) the fractions apply to each stratum on its own, so that every source, even a
    small one, is in val and test in proportion. A nonzero fraction holds out at least one item
    of each stratum, but one is always left for train (so a source of two is in train and test
    only, and a source of one in train only)."""
    keys = [group(item) if group else i for i, item in enumerate(items)]
    strata: dict = {}
    for key, item in zip(keys, items, strict=True):
        strata.setdefault(stratum(item) if stratum else "", set()).add(key)
    assigned = {}
    for name in sorted(strata):
        members = sorted(strata[name])
        order = [members[i] for i in rng.permutation(len(members))]
        start = 0
        for split in ("test", "val"):
            fraction = holdout.get(split, 0.0)
            take = max(round(fraction * len(members)), 1) if fraction else 0
            take = max(0, min(take, len(members) - start - 1))  # one is always left for train
            assigned.update({key: split for key in order[start : start + take]})
            start += take
    pools: dict[str, list] = {}
    for key, item in zip(keys, items, strict=True):
        pools.setdefault(assigned.get(key, "train"), []).append(item)
    return {split: pools.get(split, []) for split in SPLITS}


@dataclass(frozen=True)
class Splits:
    """The composite foregrounds, the background paths and the photos (used as they are) of each
    split; an item used both ways is in the foregrounds and the photos of one split."""

    foregrounds: dict[str, list]
    backgrounds: dict[str, list]
    photos: dict[str, list]

    def listing(self) -> dict:
        """Which foreground, background and photo went to which split: the fixed, documented
        held-out subsets (``splits.json``)."""
        return {
            split: {
                "foregrounds": sorted(item.id for item in self.foregrounds[split]),
                "backgrounds": sorted(str(p) for p in self.backgrounds[split]),
                "photos": sorted(item.id for item in self.photos[split]),
            }
            for split in SPLITS
        }


def assign_splits(
    items: list, backgrounds: list, holdout: dict, counts: dict, seed: int, photos: dict | None = None
) -> Splits:
    """Split the items (by photo, per source) and the backgrounds with ``holdout``; each item then
    serves its split as a composite foreground, a photo, or both, as its ``uses`` says. ``photos``:
    how many of each split's ``counts`` records are photos (none where not given). A split with
    composites to make but no foreground or no background, or with photos to make but no photo, is
    a :class:`DataError`."""
    rng = np.random.default_rng(seed)
    pools = split_pool(items, holdout, rng, group=lambda item: item.group, stratum=lambda item: item.source)
    bg_pools = split_pool(backgrounds, holdout, rng)
    splits = Splits(
        {split: [item for item in pool if COMPOSITE in item.uses] for split, pool in pools.items()},
        bg_pools,
        {split: [item for item in pool if PHOTO in item.uses] for split, pool in pools.items()},
    )
    for split in SPLITS:
        photo_count = (photos or {}).get(split, 0)
        fgs, bgs = splits.foregrounds[split], bg_pools[split]
        if int(counts.get(split, 0)) - photo_count and not (fgs and bgs):
            raise DataError(
                f"split {split!r} got {len(fgs)} foregrounds and {len(bgs)} backgrounds: add data, lower "
                f"data.build.holdout or set data.build.counts.{split}=0 (one foreground and one "
                "background of each source always stay in train; foregrounds are the items of sources "
                "whose uses include composite)"
            )
        if photo_count and not splits.photos[split]:
            raise DataError(
                f"split {split!r} needs {photo_count} photo records but got no photo: add photos (a "
                "source whose uses include photo), lower data.build.holdout or data.build.photo_share, "
                f"or set data.build.counts.{split}=0 (one item of each source always stays in train)"
            )
    return splits

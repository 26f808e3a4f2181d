"""The split policy: disjoint pools, groups kept together, per-source strata."""

from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest

from matting.data.splits import assign_splits, split_pool
from matting.errors import DataError


def test_held_out_fractions_apply_to_each_source():
    items = [SimpleNamespace(source="big", group=f"big:{i // 2}") for i in range(200)]  # 2 persons a photo
    items += [SimpleNamespace(source="small", group=f"small:{i}") for i in range(10)]
    items += [SimpleNamespace(source="single", group="single:0")]
    items += [SimpleNamespace(source="pair", group=f"pair:{i}") for i in range(2)]
    pools = split_pool(items, {"val": 0.1, "test": 0.2}, np.random.default_rng(0), group=lambda i: i.group,
                        stratum=lambda i: i.source)  # fmt: skip
    count = {split: Counter(i.source for i in pool) for split, pool in pools.items()}
    assert count["val"] == {"big": 20, "small": 1} and count["test"] == {"big": 40, "small": 2, "pair": 1}
    # One of each source is always left for training.
    assert count["train"] == {"big": 140, "small": 7, "single": 1, "pair": 1}
    groups = {split: {i.group for i in pool} for split, pool in pools.items()}
    assert not groups["train"] & groups["val"] and not groups["train"] & groups["test"]
    again = split_pool(items, {"val": 0.1, "test": 0.2}, np.random.default_rng(0), group=lambda i: i.group,
                        stratum=lambda i: i.source)  # fmt: skip
    assert again == pools


def test_a_split_with_composites_to_make_needs_a_foreground_and_a_background():
    items = [SimpleNamespace(source="s", group=f"s:{i}", id=f"s:{i}", uses=("composite",)) for i in range(5)]
    splits = assign_splits(items, ["b0", "b1", "b2"], {"val": 0.2, "test": 0.2}, {"train": 1, "val": 1}, 0)
    listing = splits.listing()
    assert (
        sum(len(listing[s]["foregrounds"]) for s in listing) == 5 and len(listing["val"]["backgrounds"]) == 1
    )
    with pytest.raises(DataError, match="split 'val' got 1 foregrounds and 0 backgrounds"):
        assign_splits(items, ["b0"], {"val": 0.2, "test": 0.2}, {"train": 1, "val": 1}, 0)

"""The generic sharded TFRecord writer, with a trivial record function."""

import hashlib
import subprocess
import sys

import pytest
import tensorflow as tf

from matting.data.shards import Shard, usable, write_shard, write_shards


def _read(path):
    return [r.numpy() for r in tf.data.TFRecordDataset(str(path))]


def test_shards_round_trip_and_a_second_run_writes_only_the_missing_ones(tmp_path):
    shards = [Shard("a-0.tfrecord", ["x", "y", "z"]), Shard("a-1.tfrecord", ["w"])]
    written = write_shards(None, str.encode, tmp_path, shards, desc="test")
    assert [_read(tmp_path / s.name) for s in shards] == [[b"x", b"y", b"z"], [b"w"]]
    digests = [hashlib.sha256((tmp_path / s.name).read_bytes()).hexdigest() for s in shards]
    assert written == [
        {"file": "a-0.tfrecord", "count": 3, "sha256": digests[0]},
        {"file": "a-1.tfrecord", "count": 1, "sha256": digests[1]},
    ]

    dead = int(subprocess.run([sys.executable, "-c", "print(__import__('os').getpid())"],
                              capture_output=True, check=True).stdout)  # fmt: skip
    stale = tmp_path / f".a-1.tfrecord.{dead}.tmp"
    stale.write_bytes(b"partial")  # a killed run's
    (tmp_path / "a-1.tfrecord").unlink()
    kept = (tmp_path / "a-0.tfrecord").stat().st_mtime_ns
    made = []
    again = write_shards(None, lambda x: made.append(x) or x.encode(), tmp_path, shards, desc="test")
    assert again == written and made == ["w"]
    assert (tmp_path / "a-0.tfrecord").stat().st_mtime_ns == kept
    assert not stale.exists()


def test_a_failing_record_function_leaves_no_shard_and_no_temporary(tmp_path):
    def make_record(x):
        if x == "bad":
            raise ValueError("bad input")
        return x.encode()

    with pytest.raises(ValueError, match="bad input"):
        write_shard(tmp_path / "s.tfrecord", map(make_record, ["ok", "bad"]))
    assert not list(tmp_path.iterdir())


def test_usable_keeps_the_inputs_without_a_problem_and_lists_the_others():
    skipped = [{"path": "earlier", "reason": "kept"}]
    kept = usable(
        None, 1, lambda x: None if x > 0 else "not positive", [3, -1, 2, 0], list("abcd"), skipped, "t"
    )
    assert kept == [3, 2]
    assert skipped == [
        {"path": "earlier", "reason": "kept"},
        {"path": "b", "reason": "not positive"},
        {"path": "d", "reason": "not positive"},
    ]

"""The generic tf.data pipeline: reading, shuffling, repeating, batching what it is given."""

import numpy as np
import pytest
import tensorflow as tf

from matting.data.features import IMAGE, SAMPLE_ID
from matting.data.pipeline import count_records, make_dataset, read_records, split_files
from matting.errors import ConfigError, DataError


def image_and_id(index, record):
    return tf.image.resize(record[IMAGE], (16, 16)), record[SAMPLE_ID], index


def test_training_batches_repeat_forever_at_one_shape(tiny_root):
    files = split_files(tiny_root / "data/shards/tiny", "val")
    count = count_records(files)
    ds = make_dataset(files, image_and_id, batch_size=3, shuffle_buffer=4, seed=0)
    batches = list(ds.take(count + 2))  # more batches than the split holds records
    assert all(images.shape == (3, 16, 16, 3) for images, _, _ in batches)


def test_evaluation_reads_every_record_once_in_the_same_order(tiny_root):
    files = split_files(tiny_root / "data/shards/tiny", "test")
    ds = make_dataset(files, image_and_id, batch_size=4, training=False)
    passes = [[(ids.numpy().tolist(), index.numpy().tolist()) for _, ids, index in ds] for _ in range(2)]
    assert passes[0] == passes[1]
    ids = [i for batch, _ in passes[0] for i in batch]
    assert len(ids) == count_records(files) == len(set(ids))  # a short last batch is kept
    assert [i for _, batch in passes[0] for i in batch] == list(range(len(ids)))


def test_only_training_streams_are_autotuned(tiny_root):
    # Keras deletes the evaluation iterator every epoch; deleting an autotuned one can block for
    # seconds, so evaluation streams run without the autotuner (training ones keep it).
    files = split_files(tiny_root / "data/shards/tiny", "test")
    assert make_dataset(files, image_and_id, batch_size=4, seed=0).options().autotune.enabled is True
    evaluation = make_dataset(files, image_and_id, batch_size=4, training=False)
    assert evaluation.options().autotune.enabled is False


def test_coarse_quality_records_get_their_weight(tmp_path):
    from matting.data.features import encode_example

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 32, 3), np.uint8)
    alpha = np.zeros((32, 32), np.uint8)
    alpha[8:, 8:24] = 255
    path = tmp_path / "train-00000-of-00001.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for i, coarse_quality in enumerate([True, False]):
            writer.write(encode_example(image, alpha, alpha, source="s", sample_id=str(i),
                                        coarse_quality=coarse_quality))  # fmt: skip
    ds = make_dataset([str(path)], image_and_id, batch_size=2, training=False, coarse_quality_weight=0.25)
    *_, weight = next(iter(ds))
    np.testing.assert_allclose(weight.numpy(), [0.25, 1.0])


def test_only_the_records_of_the_given_sources_are_read(tmp_path):
    from matting.data.features import SOURCE, encode_example
    from matting.training.stage import _check_sources

    image = np.zeros((16, 16, 3), np.uint8)
    alpha = np.full((16, 16), 255, np.uint8)
    path = tmp_path / "train-00000-of-00001.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for i, source in enumerate(["people", "toys", "people", "hair", "toys"]):
            writer.write(encode_example(image, alpha, alpha, source=source, sample_id=str(i)))
    source_of = lambda index, record: (record[SOURCE],)  # noqa: E731
    read = lambda sources: [
        s.decode()
        for (batch,) in make_dataset(  # noqa: E731
            [str(path)], source_of, batch_size=8, training=False, sources=sources
        )
        for s in batch.numpy()
    ]
    assert read(["people"]) == ["people", "people"]
    assert read(["toys", "hair"]) == ["toys", "hair", "toys"]
    assert read(None) == ["people", "toys", "people", "hair", "toys"]
    assert count_records([str(path)], ["toys"]) == 2 and count_records([str(path)]) == 5
    with pytest.raises(ConfigError, match="train.input.sources"):
        read("people")  # a string, not a list
    with pytest.raises(ConfigError, match=r"train.input.sources=\['statues'\]: no training record"):
        _check_sources([str(path)], ["statues"], str(tmp_path))  # training would wait forever


def test_sources_with_shares_set_each_sources_part_of_training(tmp_path):
    from matting.data.features import SOURCE, encode_example
    from matting.training.stage import _check_sources

    image = np.zeros((16, 16, 3), np.uint8)
    alpha = np.full((16, 16), 255, np.uint8)
    path = tmp_path / "train-00000-of-00001.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:  # people 9 records in 10, toys 1, hair 2
        for i, source in enumerate(["people"] * 18 + ["toys"] * 2 + ["hair"] * 4):
            writer.write(encode_example(image, alpha, alpha, source=source, sample_id=str(i)))
    source_of = lambda index, record: (record[SOURCE],)  # noqa: E731
    shares = {"people": 1.0, "toys": 3.0, "hair": 0}  # 1 : 3, hair left out
    ds = make_dataset([str(path)], source_of, batch_size=100, shuffle_buffer=8, sources=shares, seed=0)
    drawn = [s.decode() for (batch,) in ds.take(20) for s in batch.numpy()]
    assert set(drawn) == {"people", "toys"}
    assert drawn.count("toys") / len(drawn) == pytest.approx(0.75, abs=0.03)
    # Evaluation reads every record of the sources with a share, once.
    evaluation = make_dataset([str(path)], source_of, batch_size=100, training=False, sources=shares)
    read = sorted(s.decode() for (batch,) in evaluation for s in batch.numpy())
    assert read == ["people"] * 18 + ["toys"] * 2
    assert count_records([str(path)], shares) == 20
    _check_sources([str(path)], shares, str(tmp_path))
    with pytest.raises(ConfigError, match=r"train.input.sources=\['statues'\]: no training record of this"):
        _check_sources([str(path)], {"people": 1, "statues": 1}, str(tmp_path))  # it would wait forever
    for bad in ({"people": -1}, {"people": 0}, {"people": "half"}):
        with pytest.raises(ConfigError, match="share"):
            make_dataset([str(path)], source_of, sources=bad)


def test_records_can_be_resized_before_augmentation(tiny_root):
    from matting.data.features import ALPHA, COARSE, FOREGROUND

    files = split_files(tiny_root / "data/shards/tiny", "val")
    shapes = lambda index, record: tuple(tf.shape(record[k]) for k in (IMAGE, ALPHA, COARSE, FOREGROUND))  # noqa: E731
    ds = make_dataset(files, shapes, batch_size=1, training=False, augment_size=(24, 20), with_layers=True)
    image, alpha, coarse, foreground = (s.numpy()[0].tolist() for s in next(iter(ds)))
    assert image == foreground == [24, 20, 3] and alpha == coarse == [24, 20, 1]


def test_records_are_read_with_their_layers_when_asked(tiny_root):
    files = split_files(tiny_root / "data/shards/tiny", "val")
    record = next(iter(read_records(files, with_layers=True)))
    assert record["foreground"].shape == record[IMAGE].shape == record["background"].shape
    assert "foreground" not in next(iter(read_records(files)))


def test_bad_arguments(tmp_path):
    with pytest.raises(DataError, match="no such dataset folder"):
        split_files(tmp_path / "missing", "train")
    with pytest.raises(DataError, match="no 'train' shards"):
        split_files(tmp_path, "train")
    with pytest.raises(DataError, match="no shard files"):
        make_dataset([], image_and_id)
    with pytest.raises(ConfigError, match="batch_size"):
        make_dataset(["x"], image_and_id, batch_size=0)

"""Training mechanics: a tiny model overfits one batch, an interrupted fit resumes where its last
backup left it, fine-tuning loads weights and freezes the encoder, bad settings are clear errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import compose_config, tiny_model_overrides, tiny_overrides, tiny_train_overrides

from matting.errors import CheckpointError, ConfigError
from matting.losses import make_loss
from matting.models import build_coarse_unet
from matting.training import distribution_strategy, fit_model, initialise


def one_batch():
    rng = np.random.default_rng(0)
    image = rng.random((2, 32, 32, 3), dtype=np.float32)
    target = (image[..., :1] > 0.5).astype(np.float32)  # learnable from the pixels themselves
    return tf.data.Dataset.from_tensors((image, target)).repeat()


def test_a_tiny_model_overfits_one_batch(tmp_path):
    keras.utils.set_random_seed(0)
    net = build_coarse_unet(filters=[8, 16])
    result = fit_model(
        net, one_batch(), None, loss=make_loss("coarse"), out_dir=str(tmp_path), epochs=6,
        steps_per_epoch=25, learning_rate=1e-2, checkpoint_every=50, verbose=0,
    )  # fmt: skip
    losses = result["history"]["loss"]
    assert losses[-1] < losses[0] / 10, losses
    assert (tmp_path / "coarse_latest.keras").is_file()  # the every-N-steps checkpoint


class Interrupt(keras.callbacks.Callback):
    """Stops the process the hard way at a given global step (as a kill would)."""

    def __init__(self, at_step):
        super().__init__()
        self.at_step = at_step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.at_step:
            raise KeyboardInterrupt


class StartStep(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.step = int(self.model.optimizer.iterations.numpy())
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def test_an_interrupted_fit_resumes_at_its_last_backup_exactly(tmp_path, monkeypatch):
    settings = {"loss": make_loss("coarse"), "out_dir": str(tmp_path), "epochs": 3, "steps_per_epoch": 6,
                "verbose": 0}  # fmt: skip
    original_fit = keras.Model.fit

    def fit_with(callback):
        def fit(self, *args, callbacks=(), **kwargs):
            return original_fit(self, *args, callbacks=[*callbacks, callback], **kwargs)

        return fit

    keras.utils.set_random_seed(0)
    monkeypatch.setattr(keras.Model, "fit", fit_with(Interrupt(at_step=10)))
    with pytest.raises(KeyboardInterrupt):
        fit_model(build_coarse_unet(filters=[4, 8]), one_batch(), None, **settings)
    assert (tmp_path / "backup").is_dir()

    start = StartStep()
    monkeypatch.setattr(keras.Model, "fit", fit_with(start))
    net = build_coarse_unet(filters=[4, 8])
    fit_model(net, one_batch(), None, **settings)
    assert start.step == 6  # the backup at the end of epoch 1: model, optimizer and step restored
    assert start.batches == 18 - 6
    assert int(net.optimizer.iterations.numpy()) == 18
    assert not (tmp_path / "backup").exists()  # removed once training completed


def test_fine_tuning_loads_weights_and_freezes_the_encoder(tmp_path):
    source = build_coarse_unet(filters=[4, 8])
    source.save(tmp_path / "coarse.keras")
    net = build_coarse_unet(filters=[4, 8])
    initialise(net, str(tmp_path / "coarse.keras"), freeze_encoder=True)
    for a, b in zip(net.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    frozen = [layer for layer in net.layers if layer.name.startswith("enc") and layer.weights]
    assert frozen and not any(layer.trainable for layer in frozen)
    before = [
        w.numpy().copy() for layer in frozen for w in layer.trainable_weights + layer.non_trainable_weights
    ]
    fit_model(net, one_batch(), None, loss=make_loss("coarse"), out_dir=str(tmp_path / "ft"), epochs=1,
              steps_per_epoch=3, verbose=0)  # fmt: skip
    after = [w.numpy() for layer in frozen for w in layer.trainable_weights + layer.non_trainable_weights]
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)

    with pytest.raises(CheckpointError, match="no such checkpoint"):
        initialise(net, str(tmp_path / "missing.keras"), freeze_encoder=False)
    with pytest.raises(ConfigError, match="architecture differs"):
        initialise(
            build_coarse_unet(filters=[4, 8, 16]), str(tmp_path / "coarse.keras"), freeze_encoder=False
        )


def test_finetune_preset_starts_from_the_pretrained_run(trained, tiny_root):
    from train_coarse import train

    overrides = tiny_overrides(tiny_root) + tiny_model_overrides() + tiny_train_overrides()
    extra = ["experiment=finetune", "pretrained=tiny", "name=tiny_ft", "train.fit.epochs=1"]
    cfg = compose_config("train_coarse", overrides + extra)
    assert cfg.train.init_from.endswith("outputs/tiny/coarse/coarse.keras")
    result = train(cfg)
    assert result["checkpoint"].endswith("outputs/tiny_ft/coarse/coarse.keras")


def test_bad_training_settings():
    with pytest.raises(ConfigError, match="train.strategy"):
        distribution_strategy("tpu_pod")
    assert distribution_strategy("default").num_replicas_in_sync == 1


def test_a_nan_loss_stops_with_a_clear_message_and_keeps_the_last_backup(tmp_path):
    from matting.errors import MattingError

    rng = np.random.default_rng(0)
    images = rng.random((8, 2, 32, 32, 3), dtype=np.float32)
    targets = (images[..., :1] > 0.5).astype(np.float32)
    targets[5] = np.nan  # the sixth batch: epoch 3 of 2 steps each
    ds = tf.data.Dataset.from_tensor_slices((images, targets))
    with pytest.raises(MattingError, match="loss became nan"):
        net = build_coarse_unet(filters=[4, 8])
        fit_model(net, ds, None, loss=make_loss("coarse"), out_dir=str(tmp_path), epochs=4, steps_per_epoch=2)
    assert list((tmp_path / "backup").iterdir())  # the state after epoch 2 is still there to resume


def test_refinement_trains_on_a_coarse_nets_masks_with_weights(trained, tiny_root):
    from train_coarse import train

    overrides = tiny_overrides(tiny_root) + tiny_model_overrides() + tiny_train_overrides()
    coarse = tiny_root / "outputs" / "tiny" / "coarse" / "coarse.keras"
    extra = [f"train.coarse_predictions={coarse}", "train.input.coarse_quality_weight=0.5", "name=tiny_cp",
             "train.fit.epochs=1"]  # fmt: skip
    result = train(compose_config("train_fine", overrides + extra))
    assert np.isfinite(result["history"]["loss"]).all()
    with pytest.raises(CheckpointError, match="no such coarse checkpoint"):
        train(compose_config("train_fine", overrides + ["train.coarse_predictions=/nope.keras", "name=x"]))

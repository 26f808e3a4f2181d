"""Training mechanics: a tiny model overfits one batch, a killed fit resumes at its last saved
state exactly, fine-tuning loads weights and freezes the encoder, bad settings are clear errors."""

import json
import os
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import compose_config, tiny_model_overrides, tiny_overrides, tiny_train_overrides

from matting.errors import CheckpointError, ConfigError
from matting.losses import bce_dice_loss
from matting.models import build_coarse_unet, build_fine_unet
from matting.training.fit import FusedAdam, distribution_strategy, fit_model, initialise
from matting.training.state import TrainingState


def one_batch():
    rng = np.random.default_rng(0)
    image = rng.random((2, 32, 32, 3), dtype=np.float32)
    target = (image[..., :1] > 0.5).astype(np.float32)  # learnable from the pixels themselves
    return tf.data.Dataset.from_tensors((image, target)).repeat()


def test_a_tiny_model_overfits_one_batch(tmp_path):
    keras.utils.set_random_seed(0)
    net = build_coarse_unet(filters=[8, 16])
    result = fit_model(
        net, one_batch(), None, loss=bce_dice_loss, out_dir=str(tmp_path), epochs=6,
        steps_per_epoch=25, learning_rate=1e-2, checkpoint_every=50, verbose=0,
    )  # fmt: skip
    losses = result["history"]["loss"]
    assert losses[-1] < losses[0] / 10, losses
    assert (tmp_path / "coarse_latest.keras").is_file()  # the every-N-steps checkpoint


# A training run killed with SIGKILL at step 10 of 18 (epochs of 6 steps, a state every 4 steps).
# Beside each state it writes the optimizer's variables, to compare with what a resumed run loads.
KILLED_RUN = """
import os, signal, sys
import keras, numpy as np, tensorflow as tf
from matting.losses import bce_dice_loss
from matting.models import build_coarse_unet, build_fine_unet
from matting.training.fit import fit_model

out = sys.argv[1]
rng = np.random.default_rng(0)
image = rng.random((2, 32, 32, 3), dtype=np.float32)
data = tf.data.Dataset.from_tensors((image, (image[..., :1] > 0.5).astype(np.float32))).repeat()

class Kill(keras.callbacks.Callback):
    step = 0
    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % 4 == 0:
            np.savez(f"{out}/optimizer-{self.step}.npz", *[v.numpy() for v in self.model.optimizer.variables])
            np.savez(f"{out}/weights-{self.step}.npz", *self.model.get_weights())
        if self.step == 10:
            os.kill(os.getpid(), signal.SIGKILL)

fit = keras.Model.fit
keras.Model.fit = lambda self, *a, callbacks=(), **k: fit(self, *a, callbacks=[*callbacks, Kill()], **k)
keras.utils.set_random_seed(0)
fit_model(build_coarse_unet(filters=[4, 8]), data, None, loss=bce_dice_loss, out_dir=out,
          epochs=3, steps_per_epoch=6, checkpoint_every=4, verbose=0)
"""


class Start(keras.callbacks.Callback):
    """Records the model's weights and the optimizer's variables as a resumed fit starts, and the
    batches it runs."""

    def __init__(self):
        super().__init__()
        self.variables, self.weights, self.batches = None, None, 0

    def on_train_begin(self, logs=None):
        if self.variables is None:
            self.variables = [v.numpy().copy() for v in self.model.optimizer.variables]
            self.weights = [w.copy() for w in self.model.get_weights()]

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def test_a_run_killed_inside_an_epoch_resumes_at_its_last_state_exactly(tmp_path, monkeypatch):
    import signal
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "3"}
    killed = subprocess.run([sys.executable, "-c", KILLED_RUN, str(tmp_path)], env=env, cwd=root, check=False)
    assert killed.returncode == -signal.SIGKILL
    state = json.loads((tmp_path / "backup" / "state.json").read_text())
    assert state["step"] == 8 and state["epoch"] == 1  # inside the second epoch

    start = Start()
    fit = keras.Model.fit
    monkeypatch.setattr(
        keras.Model,
        "fit",
        lambda self, *a, callbacks=(), **k: fit(self, *a, callbacks=[*callbacks, start], **k),
    )
    net = build_coarse_unet(filters=[4, 8])
    result = fit_model(net, one_batch(), None, loss=bce_dice_loss, out_dir=str(tmp_path), epochs=3,
                       steps_per_epoch=6, checkpoint_every=4, verbose=0)  # fmt: skip
    assert result["start_step"] == 8 and start.batches == 18 - 8
    for restored, file in ((start.variables, "optimizer-8.npz"), (start.weights, "weights-8.npz")):
        saved = np.load(tmp_path / file)
        assert len(restored) == len(saved.files)
        for value, expected in zip(
            restored, (saved[f"arr_{i}"] for i in range(len(saved.files))), strict=True
        ):
            np.testing.assert_array_equal(value, expected)  # the weights; Adam's moments and step counter
    assert int(net.optimizer.iterations.numpy()) == 18
    assert len(result["history"]["loss"]) == 2  # the rest of epoch 2, then epoch 3
    assert not (tmp_path / "backup").exists()  # removed once training completed


def compiled_net():
    net = build_coarse_unet(filters=[4, 8])
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss=bce_dice_loss)
    return net


def test_an_unreadable_newest_state_falls_back_to_the_previous_one(tmp_path):
    net = compiled_net()
    state = TrainingState(tmp_path, steps_per_epoch=3, every=3)  # saves at steps 3 and 6, twice each
    net.fit(one_batch(), epochs=2, steps_per_epoch=3, callbacks=[state], verbose=0, shuffle=False)
    names = json.loads((tmp_path / "state.json").read_text())
    assert (names["file"], names["previous"], names["previous_step"]) == (
        "step-6.weights.h5",
        "step-3.weights.h5",
        3,
    )
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-3.weights.h5", "step-6.weights.h5"]
    (tmp_path / names["file"]).write_bytes(b"truncated")
    cut_short = tmp_path / f".step-9.weights.h5.{os.getpid()}.tmp.weights.h5"  # a write cut short by a kill
    cut_short.write_bytes(b"truncated")
    again = compiled_net()
    assert TrainingState(tmp_path, steps_per_epoch=3).restore(again) == 3
    assert int(again.optimizer.iterations.numpy()) == 3  # the step and the optimizer agree
    assert not cut_short.exists()
    with pytest.raises(CheckpointError, match="steps_per_epoch=3, not 4"):
        TrainingState(tmp_path, steps_per_epoch=4).restore(again)
    (tmp_path / names["previous"]).write_bytes(b"")
    with pytest.raises(CheckpointError, match="no readable training state"):
        TrainingState(tmp_path, steps_per_epoch=3).restore(again)


def test_a_run_killed_after_its_last_step_only_writes_its_checkpoint(tmp_path):
    net = compiled_net()
    state = TrainingState(tmp_path / "backup", steps_per_epoch=3)
    net.fit(one_batch(), epochs=2, steps_per_epoch=3, callbacks=[state], verbose=0, shuffle=False)
    # Killed before the final model was saved: the state holds all 6 steps, and a save cut short left
    # its temporary file beside the checkpoints.
    cut_short = tmp_path / f".coarse_best.keras.{os.getpid()}.tmp.keras"
    cut_short.write_bytes(b"truncated")
    resumed = build_coarse_unet(filters=[4, 8])
    result = fit_model(resumed, one_batch(), None, loss=bce_dice_loss, out_dir=str(tmp_path), epochs=2,
                       steps_per_epoch=3, verbose=0)  # fmt: skip
    assert result["start_step"] == 6 and result["history"] == {}
    assert int(resumed.optimizer.iterations.numpy()) == 6
    assert (tmp_path / "coarse.keras").is_file() and not (tmp_path / "backup").exists()
    assert not cut_short.exists()


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
    fit_model(net, one_batch(), None, loss=bce_dice_loss, out_dir=str(tmp_path / "ft"), epochs=1,
              steps_per_epoch=3, verbose=0)  # fmt: skip
    after = [w.numpy() for layer in frozen for w in layer.trainable_weights + layer.non_trainable_weights]
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)

    with pytest.raises(CheckpointError, match="no such checkpoint"):
        initialise(net, str(tmp_path / "missing.keras"), freeze_encoder=False)
    # Other widths than the config's: the checkpoint's own net, its weights.
    wider = initialise(
        build_coarse_unet(filters=[4, 8, 16]), str(tmp_path / "coarse.keras"), freeze_encoder=False
    )
    assert [w.shape for w in wider.weights] == [w.shape for w in source.weights]
    for a, b in zip(wider.get_weights(), source.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match="a 'coarse_unet' net, not the 'fine_unet' net"):
        initialise(build_fine_unet(filters=[4, 8]), str(tmp_path / "coarse.keras"), freeze_encoder=False)


def test_finetune_preset_starts_from_the_pretrained_run(trained, tiny_root):
    from cli_common import train

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
        fit_model(net, ds, None, loss=bce_dice_loss, out_dir=str(tmp_path), epochs=4, steps_per_epoch=2)
    assert list((tmp_path / "backup").iterdir())  # the state after epoch 2 is still there to resume


def test_refinement_trains_on_a_coarse_nets_masks_with_weights(trained, tiny_root):
    from cli_common import train

    overrides = tiny_overrides(tiny_root) + tiny_model_overrides() + tiny_train_overrides()
    coarse = tiny_root / "outputs" / "tiny" / "coarse" / "coarse.keras"
    extra = [f"train.examples.coarse_predictions={coarse}", "train.input.coarse_quality_weight=0.5",
             "name=tiny_cp", "train.fit.epochs=1"]  # fmt: skip
    result = train(compose_config("train_fine", overrides + extra))
    assert np.isfinite(result["history"]["loss"]).all()
    with pytest.raises(CheckpointError, match="no such coarse checkpoint"):
        train(
            compose_config(
                "train_fine", overrides + ["train.examples.coarse_predictions=/nope.keras", "name=x"]
            )
        )
    typo = [
        f"train.examples.coarse_predictions={coarse}",
        "train.examples.coarse_predictions_sources=[pepole]",
    ]
    with pytest.raises(ConfigError, match=r"coarse_predictions_sources=\['pepole'\]: no training record"):
        train(compose_config("train_fine", overrides + typo + ["name=x"]))


def test_the_best_checkpoint_is_replaced_only_by_a_better_one_across_a_resume(tmp_path):
    net = compiled_net()
    net.optimizer.build(net.trainable_variables)  # as after a first step
    best = tmp_path / "coarse_best.keras"

    def epoch_end(state, val_mse):
        state.set_model(net)
        state.on_epoch_end(0, {"val_mse": val_mse})
        return best.stat().st_ino if best.is_file() else None  # a new file at each write (renamed)

    first = TrainingState(tmp_path / "backup", steps_per_epoch=3, best=best)
    written = epoch_end(first, 0.5)
    assert written and epoch_end(first, 0.7) == written  # worse: kept
    resumed = TrainingState(tmp_path / "backup", steps_per_epoch=3, best=best)
    resumed.restore(net)
    assert resumed.best == 0.5
    assert epoch_end(resumed, 0.6) == written  # still worse than before the restart
    assert epoch_end(resumed, 0.4) != written
    assert not list(tmp_path.glob(".*tmp*"))


def _adam_run(make_optimizer):
    """Five updates by ``make_optimizer()`` of two variables: their values, and the ops of one
    traced update. (Under a distribution strategy FusedAdam is Keras' Adam: test_multi_worker.py.)"""
    rng = np.random.default_rng(0)
    starts = [rng.normal(size=(5, 3)).astype("float32"), rng.normal(size=(4,)).astype("float32")]
    scales = (1, 0.1, 3, 1e-4, 2)
    grads = [[tf.constant(rng.normal(size=s.shape).astype("float32") * k) for s in starts] for k in scales]
    optimizer = make_optimizer()
    variables = [keras.Variable(s) for s in starts]
    optimizer.build(variables)
    apply = tf.function(lambda g: optimizer.apply(g, variables))
    for g in grads:
        apply(g)
    ops = len(apply.get_concrete_function(grads[0]).graph.get_operations())
    return [v.numpy() for v in variables], ops


def test_fused_adam_is_keras_adam_in_a_smaller_graph():
    expected, keras_ops = _adam_run(lambda: keras.optimizers.Adam(1e-2))
    got, fused_ops = _adam_run(lambda: FusedAdam(1e-2))
    unmoved, _ = _adam_run(lambda: keras.optimizers.SGD(0.0))
    for e, g, start in zip(expected, got, unmoved, strict=True):
        assert np.abs(e - start).max() > 0.01  # the updates moved the variables ...
        np.testing.assert_allclose(g, e, atol=1e-6)  # ... the fused ones alike
    assert fused_ops < keras_ops / 2


ONEDNN_PROBE = """
import sys
from cli_common import use_onednn
use_onednn(sys.argv[1] == "on")
from tensorflow.python.util import _pywrap_util_port
print(_pywrap_util_port.IsMklEnabled())
"""


@pytest.mark.parametrize(("setting", "enabled"), [("on", "True"), ("off", "False")])
def test_train_onednn_switches_tensorflows_kernels_before_it_loads(setting, enabled, capsys):
    import subprocess
    import sys

    from cli_common import ONEDNN, use_onednn

    env = {k: v for k, v in os.environ.items() if k != ONEDNN}
    root = Path(__file__).resolve().parents[1]
    probe = subprocess.run([sys.executable, "-c", ONEDNN_PROBE, setting], env=env, cwd=root,
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert probe.stdout.split()[-1] == enabled
    # Here TensorFlow is loaded: a setting other than the one it loaded with is reported, not applied.
    before = os.environ.get(ONEDNN)
    use_onednn(os.environ.get(ONEDNN, "1") != "1")
    assert "ignored: TensorFlow is already loaded" in capsys.readouterr().err
    assert os.environ.get(ONEDNN) == before


def test_warmup_rises_linearly_then_follows_the_schedule():
    from matting.training.fit import learning_rate_schedule

    cosine = learning_rate_schedule(1e-3, "cosine", 100, warmup_steps=10)
    rates = [float(cosine(step)) for step in (0, 5, 10, 55, 100)]
    np.testing.assert_allclose(rates, [0.0, 5e-4, 1e-3, 5e-4, 0.0], atol=1e-9)
    constant = learning_rate_schedule(1e-3, "constant", 100, warmup_steps=10)
    np.testing.assert_allclose([float(constant(s)) for s in (5, 10, 99)], [5e-4, 1e-3, 1e-3], atol=1e-9)
    assert learning_rate_schedule(1e-3, "constant", 100) == 1e-3
    with pytest.raises(ConfigError, match="warmup_steps"):
        learning_rate_schedule(1e-3, "cosine", 100, warmup_steps=100)


def test_fused_adam_steps_the_scaled_variables_at_their_fraction_of_the_rate():
    def run(optimizer):
        rng = np.random.default_rng(0)
        variables = [keras.Variable(np.zeros(3, "float32"), name=n) for n in ("encoder", "decoder")]
        optimizer.build(variables)
        for _ in range(4):
            optimizer.apply([tf.constant(rng.normal(size=3).astype("float32")) for _ in variables], variables)
        return [v.numpy() for v in variables]

    (encoder, decoder) = run(FusedAdam(1e-2, scaled=["encoder"], scale=0.1))
    (slow, _), (_, full) = run(FusedAdam(1e-3)), run(FusedAdam(1e-2))
    assert np.abs(decoder).max() > 0.01
    np.testing.assert_allclose(encoder, slow, atol=1e-7)  # Adam at a tenth of the rate
    np.testing.assert_allclose(decoder, full, atol=1e-7)


def test_the_encoders_rate_and_batch_norms_as_configured(tmp_path):
    from matting.models import build_coarse_fast

    def encoder_change(**options):
        keras.utils.set_random_seed(0)
        net = build_coarse_fast(filters=[8, 8, 8, 8], backbone_alpha=0.35)
        net = initialise(net, None, False, freeze_encoder_bn=options.pop("freeze_encoder_bn", False))
        backbone = net.get_layer("enc_backbone")
        norm = backbone.get_layer("bn_Conv1")
        before = [w.numpy().copy() for w in (backbone.get_layer("Conv1").kernel, *norm.weights)]
        fit_model(net, one_batch(), None, loss=bce_dice_loss, out_dir=str(tmp_path / str(options)),
                  epochs=1, steps_per_epoch=3, learning_rate=1e-2, verbose=0, **options)  # fmt: skip
        after = [w.numpy() for w in (backbone.get_layer("Conv1").kernel, *norm.weights)]
        return [np.abs(a - b).max() for a, b in zip(after, before, strict=True)]

    conv, gamma, beta, mean, variance = encoder_change()
    assert min(conv, gamma, mean) > 0  # all of it trains, the batch norms' statistics move
    slow_conv, *_ = encoder_change(encoder_lr_scale=0.01)
    assert 0 < slow_conv < conv / 10
    frozen = encoder_change(freeze_encoder_bn=True)
    assert frozen[0] > 0 and frozen[1:] == [0, 0, 0, 0]  # convolutions train, batch norms stay
    with pytest.raises(ConfigError, match="encoder_lr_scale"):
        encoder_change(encoder_lr_scale=0)


class Steps(keras.callbacks.Callback):
    """The trainable weights after each training step; with ``stop_at``, the run stops there with
    an exception, as a killed one would (its state saved at that step)."""

    def __init__(self, stop_at: int | None = None):
        super().__init__()
        self.weights, self.stop_at = [], stop_at

    def on_train_batch_end(self, batch, logs=None):
        self.weights.append([v.numpy().copy() for v in self.model.trainable_variables])
        if len(self.weights) == self.stop_at:
            raise KeyboardInterrupt


FIT = keras.Model.fit


def _ema_run(out: Path, monkeypatch, *, momentum, stop_at=None):
    steps = Steps(stop_at)

    def fit(self, *args, callbacks=(), **kwargs):
        return FIT(self, *args, callbacks=[*callbacks, steps], **kwargs)

    monkeypatch.setattr(keras.Model, "fit", fit)
    keras.utils.set_random_seed(0)
    net = build_coarse_unet(filters=[4, 8])
    result = fit_model(net, one_batch(), one_batch().take(1), loss=bce_dice_loss, out_dir=str(out), epochs=3,
                       steps_per_epoch=4, learning_rate=1e-2, checkpoint_every=2, ema_momentum=momentum,
                       verbose=0)  # fmt: skip
    return net, result, steps.weights


def test_the_moving_average_is_validated_and_saved_while_the_steps_go_on_from_the_raw_weights(
    tmp_path, monkeypatch
):
    from matting.models.loading import load_checkpoint

    momentum = 0.8
    net, result, raw = _ema_run(tmp_path / "ema", monkeypatch, momentum=momentum)
    _, _, plain = _ema_run(tmp_path / "plain", monkeypatch, momentum=None)
    for ours, theirs in zip(raw, plain, strict=True):  # validating the average did not touch the steps
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b)
    expected = raw[0]  # Keras' average: the weights after the first step, then m * average + (1 - m) * w
    for weights in raw[1:]:
        expected = [momentum * e + (1 - momentum) * w for e, w in zip(expected, weights, strict=True)]
    assert max(np.abs(e - w).max() for e, w in zip(expected, raw[-1], strict=True)) > 1e-3
    saved = load_checkpoint(tmp_path / "ema" / "coarse.keras")
    for model in (saved, net):  # the last checkpoint, and the model fit_model returns
        for variable, e in zip(model.trainable_variables, expected, strict=True):
            np.testing.assert_allclose(variable.numpy(), e, rtol=1e-5, atol=1e-6)
    image, target = next(iter(one_batch()))

    def mse(model):
        return float(np.mean((model(image).numpy() - target.numpy()) ** 2))

    # Validation read the average, and the best checkpoint holds it.
    assert result["history"]["val_mse"][-1] == pytest.approx(mse(saved), rel=1e-4)
    best = load_checkpoint(tmp_path / "ema" / "coarse_best.keras")
    assert min(result["history"]["val_mse"]) == pytest.approx(mse(best), rel=1e-4)

    # Stopped at step 6, inside the second epoch (its state saved), and started again: the rest of
    # that epoch, then the third, as two fits; the same average as the whole run.
    with pytest.raises(KeyboardInterrupt):
        _ema_run(tmp_path / "resumed", monkeypatch, momentum=momentum, stop_at=6)
    _, resumed, _ = _ema_run(tmp_path / "resumed", monkeypatch, momentum=momentum)
    assert resumed["start_step"] == 6
    again = load_checkpoint(tmp_path / "resumed" / "coarse.keras")
    for a, b in zip(again.get_weights(), saved.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    with pytest.raises(ConfigError, match="ema_momentum"):
        _ema_run(tmp_path / "bad", monkeypatch, momentum=1.0)

"""Tests for the gan_denoise objective: D's schedule and losses, noise negatives, checkpoints, tf.distribute, a smoke run."""
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from advaudio import config as C
from advaudio.models import build_generator
from advaudio.objectives import build_trainer
from advaudio.objectives.gan_denoise import GanDenoiseTrainer, check_adversarial_config
from advaudio.stitching import stitch

ROOT = Path(__file__).resolve().parents[1]
FRAME, STEPS, BATCH = 32, 4, 2
TINY_DISCRIMINATORS = {
    "frame_mlp": dict(hidden_units=(8,)),
    "waveform": dict(scales=2, channels=4, max_channels=8, downsample_factors=(2, 2)),
    "multi_period": dict(periods=(2, 3), channels=(4,)),
    "spectrogram": dict(resolutions=((16, 4, 16),), channels=(4, 4)),
}


def tiny_experiment(**adversarial_fields) -> C.Experiment:
    cfg = C.Experiment()
    cfg.data.frame_length, cfg.data.sequence_length, cfg.data.batch_size = FRAME, STEPS, BATCH
    cfg.model.units = 8
    cfg.generate.crossfade_length = 4
    cfg.objective.name = "gan_denoise"
    cfg.objective.loss_weights = {"rec/mse": 1.0, "adv/gen": 1.0, "adv/feat": 2.0}
    adv = cfg.objective.adversarial
    adv.discriminator_params = dict(TINY_DISCRIMINATORS["waveform"])
    adv.stitched_frames = 2
    adv.d_start_step = 0
    for key, value in adversarial_fields.items():
        setattr(adv, key, value)
    return cfg


def make_trainer(cfg) -> GanDenoiseTrainer:
    keras.utils.set_random_seed(0)
    return build_trainer(cfg, build_generator(cfg.model, cfg.data))


def batch(seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange((STEPS + 1) * FRAME) / 8000.0
    audio = np.sin(2 * np.pi * rng.uniform(200, 800, (BATCH, 1)) * t) + 0.05 * rng.normal(size=(BATCH, t.size))
    frames = audio.reshape(BATCH, STEPS + 1, FRAME).astype("float32")
    return tf.constant(frames[:, :-1]), tf.constant(frames[:, 1:])


def finite_scalars(logs: dict) -> dict:
    values = {k: float(v) for k, v in logs.items()}
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    assert not bad, bad
    return values


GENERATOR_KEYS = {"loss", "rec/mse", "adv/gen", "adv/feat", "grad_norm/gen"}
D_KEYS = {"d/loss", "d/acc_real", "d/acc_fake", "d/acc_noisy", "d/acc_noise", "d/win", "grad_norm/disc"}


@pytest.fixture(scope="module")
def trainer():
    return make_trainer(tiny_experiment())


@pytest.mark.slow
def test_train_step_returns_every_key_finite(trainer):
    logs = finite_scalars(tf.function(trainer.train_step)(batch()))
    assert set(logs) == GENERATOR_KEYS | D_KEYS
    weights = trainer.experiment.objective.loss_weights
    assert logs["loss"] == pytest.approx(sum(weights[k] * logs[k] for k in ("rec/mse", "adv/gen", "adv/feat")), rel=1e-5)
    assert logs["adv/gen"] > 0 and logs["adv/feat"] > 0 and logs["d/loss"] > 0
    assert 0.0 <= logs["d/win"] <= 1.0
    validation = finite_scalars(trainer.test_step(batch(1)))
    assert set(validation) == {"loss", "rec/mse", "adv/gen", "adv/feat", "d/acc_real", "d/acc_fake"}
    assert validation["loss"] == pytest.approx(validation["rec/mse"])  # reconstruction only


@pytest.mark.slow
def test_spectral_reconstruction_judges_the_step_s_random_segments():
    from advaudio import losses

    cfg = tiny_experiment()
    cfg.objective.loss_weights = {"spec/sc": 1.0, "adv/gen": 1.0, "adv/feat": 2.0}
    cfg.objective.stft = {"fft_sizes": (32, 16), "hop_lengths": (8, 4), "win_lengths": (24, 16), "segment_frames": 2}
    trainer = make_trainer(cfg)
    inputs, targets = batch()
    segment = trainer.training_context(trainer.generator(inputs), targets).segment_audio(2)  # step 0's draw
    assert segment[1].shape == (BATCH, 2 * FRAME)
    options = losses.stft_options(cfg)
    expected = float(losses.multi_resolution_stft_components(*segment, components=("sc",), **options)["sc"])
    logs = finite_scalars(trainer.train_step((inputs, targets)))
    assert logs["spec/sc"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    "family, loss",
    [("frame_mlp", "hinge"), ("multi_period", "non_saturating"), ("spectrogram", "wasserstein_gp"), ("waveform", "least_squares")],
)
@pytest.mark.slow
def test_every_family_and_loss_trains(family, loss):
    params = dict(TINY_DISCRIMINATORS[family], norm="spectral" if family != "waveform" else "weight")
    trainer = make_trainer(tiny_experiment(discriminator=family, discriminator_params=params, loss=loss, input="frames" if family == "frame_mlp" else "stitched"))
    before = [w.copy() for w in trainer.discriminator.get_weights()]
    logs = finite_scalars(trainer.train_step(batch()))
    assert ("d/gp" in logs) == (loss == "wasserstein_gp")
    assert any(not np.allclose(a, b) for a, b in zip(before, trainer.discriminator.get_weights()))


@pytest.mark.slow
def test_discriminator_waits_for_d_start_step_then_counts_from_its_first_step():
    trainer = make_trainer(tiny_experiment(d_start_step=2, d_steps=2))
    optimizer = trainer.discriminator_optimizer
    d_before = [w.copy() for w in trainer.discriminator.get_weights()]
    g_before = [w.copy() for w in trainer.generator.get_weights()]
    step = tf.function(trainer.train_step)
    for _ in range(2):
        logs = finite_scalars(step(batch()))
        assert all(logs[k] == 0.0 for k in D_KEYS | {"adv/gen", "adv/feat"}), logs
    for a, b in zip(d_before, trainer.discriminator.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(optimizer.iterations) == 0
    assert not trainer.counts_for_best()  # the warm-up generator is not the GAN's: never the run's "best"
    moments = [v for v in optimizer.variables if "momentum" in v.name or "velocity" in v.name]
    assert len(moments) == 2 * len(trainer.discriminator.trainable_variables)
    assert all(not np.any(v.numpy()) for v in moments)
    assert any(not np.allclose(a, b) for a, b in zip(g_before, trainer.generator.get_weights()))
    logs = finite_scalars(step(batch()))
    assert logs["d/loss"] > 0 and logs["adv/gen"] > 0
    assert int(optimizer.iterations) == 2  # d_steps = 2 updates in the first active step
    assert int(trainer.step_counter) == 3
    assert trainer.counts_for_best()


class _IdentityCritic(keras.Model):
    """Logits = the audio itself, one sub-discriminator with one feature map: D's loss is computable by hand."""

    def call(self, audio, training=False):
        return [[audio, audio]]


def test_discriminator_loss_weights_sources_by_share_hand_computed():
    cfg = tiny_experiment(discriminator=lambda input_length: _IdentityCritic(), discriminator_params={}, real_share=2.0)
    trainer = GanDenoiseTrainer(build_generator(cfg.model, cfg.data), cfg)
    trainer.noise_negatives = lambda real, d_step: {"noisy": 0.5 * tf.ones_like(real), "noise": -tf.ones_like(real)}
    real, fake = 2.0 * tf.ones((3, trainer.input_length, 1)), tf.zeros((3, trainer.input_length, 1))
    loss, stats = trainer.discriminator_loss(real, fake, d_step=0)
    # least squares: real (2 - 1)^2 = 1 with share 2; fake 0^2, noisy 0.5^2, noise (-1)^2 with shares 1, .5, .5
    assert float(loss) == pytest.approx(2.0 * 1.0 + (1.0 * 0.0 + 0.5 * 0.25 + 0.5 * 1.0) / 2.0)
    # p(real) = clip(logit, 0, 1): real 1, fake 0, noisy 0.5 (not < 0.5: wrong), noise 0
    assert {k: float(v) for k, v in stats.items()} == {
        "d/acc_real": 1.0, "d/acc_fake": 1.0, "d/acc_noisy": 0.0, "d/acc_noise": 1.0, "d/win": 1.0,
    }


def test_generator_terms_training_and_validation_share_one_path_hand_computed():
    cfg = tiny_experiment(discriminator=lambda input_length: _IdentityCritic(), discriminator_params={})
    trainer = GanDenoiseTrainer(build_generator(cfg.model, cfg.data), cfg)
    real, fake = 2.0 * tf.ones((3, trainer.input_length, 1)), tf.zeros((3, trainer.input_length, 1))
    # least squares generator side: mean((0 - 1)^2) = 1; feature matching on the one feature map: mean |2 - 0| = 2.
    on = {k: float(v) for k, v in trainer.adversarial_losses(real, fake, tf.constant(True)).items()}
    assert on == {"adv/gen": 1.0, "adv/feat": 2.0}
    off = {k: float(v) for k, v in trainer.adversarial_losses(real, fake, tf.constant(False)).items()}
    assert off == {"adv/gen": 0.0, "adv/feat": 0.0}
    inputs, targets = batch()
    logs = trainer.test_step((inputs, targets))
    real_examples = trainer.discriminator_examples(targets).numpy().astype(np.float64)
    fake_examples = trainer.discriminator_examples(trainer.generator(inputs)).numpy().astype(np.float64)
    assert float(logs["adv/gen"]) == pytest.approx(np.mean((fake_examples - 1.0) ** 2), rel=1e-5)
    assert float(logs["adv/feat"]) == pytest.approx(np.mean(np.abs(real_examples - fake_examples)), rel=1e-5)


@pytest.mark.slow
def test_plain_gan_has_no_noise_sources():
    trainer = make_trainer(tiny_experiment(noisy_share=0.0, noise_share=0.0))
    logs = finite_scalars(trainer.train_step(batch()))
    assert "d/acc_noisy" not in logs and "d/acc_noise" not in logs and "d/acc_fake" in logs
    assert trainer.noise_negatives(tf.ones((2, trainer.input_length, 1)), 0) == {}


def test_noise_negatives_hit_the_configured_snr_and_loudness(trainer):
    rng = np.random.default_rng(3)
    real = tf.constant(rng.normal(size=(64, 2048, 1)) * rng.uniform(0.1, 3.0, (64, 1, 1)), tf.float32)
    negatives = trainer.noise_negatives(real, d_step=0)
    power = np.mean(real.numpy() ** 2, axis=(1, 2))
    added = negatives["noisy"].numpy() - real.numpy()
    snr = 10 * np.log10(power / np.mean(added**2, axis=(1, 2)))
    low, high = trainer.experiment.objective.adversarial.snr_db
    assert np.all(snr > low - 0.5) and np.all(snr < high + 0.5)
    assert snr.std() > 3  # drawn per example, not one SNR for the batch
    np.testing.assert_allclose(np.mean(negatives["noise"].numpy() ** 2, axis=(1, 2)) / power, 1.0, atol=0.15)
    again = trainer.noise_negatives(real, d_step=0)["noise"]
    np.testing.assert_array_equal(again, negatives["noise"])  # stateless: same step, same noise
    assert not np.allclose(trainer.noise_negatives(real, d_step=1)["noise"], negatives["noise"])


def test_discriminator_examples_frames_and_stitched(trainer):
    inputs, targets = batch()
    stitched = trainer.discriminator_examples(targets)
    cfg = trainer.experiment
    assert stitched.shape == (BATCH * STEPS // 2, trainer.input_length, 1)
    first_pair = stitch(targets[:1, :2], cfg.generate.stitch, FRAME, window=cfg.generate.window, crossfade_length=cfg.generate.crossfade_length)
    np.testing.assert_allclose(stitched[0, :, 0], first_pair[0], rtol=1e-6)
    frames = make_trainer(tiny_experiment(input="frames", discriminator="frame_mlp", discriminator_params={"hidden_units": (4,)}))
    np.testing.assert_array_equal(frames.discriminator_examples(targets)[:, :, 0], tf.reshape(targets, (-1, FRAME)))


@pytest.mark.slow
def test_d_examples_picks_the_same_examples_of_real_and_fake():
    trainer = make_trainer(tiny_experiment(d_examples=3, input="frames", discriminator="frame_mlp", discriminator_params={"hidden_units": (4,)}))
    real = tf.reshape(tf.range(8 * FRAME, dtype=tf.float32), (8, FRAME, 1))
    picked_real, picked_fake = trainer.select_examples(real, 2.0 * real)
    assert picked_real.shape == (3, FRAME, 1)
    np.testing.assert_array_equal(picked_fake, 2.0 * picked_real)
    assert len(set(picked_real[:, 0, 0].numpy().tolist())) == 3
    logs = finite_scalars(trainer.train_step(batch()))
    assert logs["d/loss"] > 0


def test_bad_adversarial_configs_say_how_to_fix():
    with pytest.raises(ValueError, match="stitched_frames"):
        check_adversarial_config(tiny_experiment(stitched_frames=STEPS + 1))
    with pytest.raises(ValueError, match="negative source"):
        check_adversarial_config(tiny_experiment(fake_share=0.0, noisy_share=0.0, noise_share=0.0))
    with pytest.raises(ValueError, match="input"):
        check_adversarial_config(tiny_experiment(input="pairs"))
    cfg = tiny_experiment()
    cfg.objective.loss_weights = {"rec/mse": 1.0}
    with pytest.raises(ValueError, match="adv/gen"):
        check_adversarial_config(cfg)
    with pytest.raises(KeyError, match="waveform"):
        make_trainer(tiny_experiment(discriminator="wave"))


@pytest.mark.slow
def test_checkpoint_restores_both_networks_and_optimizers_exactly(tmp_path):
    cfg = tiny_experiment()
    trained = make_trainer(cfg)
    for seed in range(2):
        trained.train_step(batch(seed))

    def checkpoint(t):
        return tf.train.Checkpoint(
            **{f"net_{k}": v for k, v in t.networks().items()}, **{f"opt_{k}": v for k, v in t.optimizers().items()}
        )

    path = checkpoint(trained).save(str(tmp_path / "state"))
    fresh = make_trainer(cfg)
    fresh.train_step(batch(5))  # different state, to be overwritten
    checkpoint(fresh).restore(path).assert_existing_objects_matched()
    assert set(fresh.optimizers()) == {"generator", "discriminator"}
    for name, optimizer in trained.optimizers().items():
        restored = fresh.optimizers()[name]
        assert int(restored.iterations) == int(optimizer.iterations) == 2
        for a, b in zip(optimizer.variables, restored.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    for name, network in trained.networks().items():
        for a, b in zip(network.get_weights(), fresh.networks()[name].get_weights()):
            np.testing.assert_array_equal(a, b)
    # the next step is identical too (noise is seeded by the restored step counter)
    expected, got = trained.train_step(batch(9)), fresh.train_step(batch(9))
    for key in expected:
        assert float(got[key]) == pytest.approx(float(expected[key]), rel=1e-6, abs=1e-7), key


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    import keras
    from advaudio import training
    from advaudio.models import build_generator
    from advaudio.objectives import build_trainer
    sys.path.insert(0, sys.argv[2])
    from test_gan_denoise import tiny_experiment

    training.configure_cpu_replicas(2)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 4, 32)).astype("float32")
    y = np.roll(x, -1, axis=1) * 0.5
    make = lambda epoch: tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(4, drop_remainder=True)
    valid = tf.data.Dataset.from_tensor_slices((x[:8], y[:8])).batch(4, drop_remainder=True)
    results = {}
    for noise in (0.0, 0.5):
        # noise negatives are drawn per replica, so only the plain GAN can match exactly
        cfg = tiny_experiment(noisy_share=noise, noise_share=noise, d_start_step=1)
        cfg.objective.adversarial.discriminator_params["norm"] = "spectral"
        cfg.data.batch_size = 4
        # spec/logmag (a mean over the batch, so per-replica values average to the whole batch's) takes the
        # spectral training path: value and gradient in one XLA program under a custom gradient, per replica.
        cfg.objective.loss_weights = {**cfg.objective.loss_weights, "spec/logmag": 0.5}
        cfg.objective.stft = {"fft_sizes": (32, 16), "hop_lengths": (8, 4), "win_lengths": (24, 16)}
        default = tf.distribute.get_strategy()
        # "nudged": the single-device run from initial weights moved up by one float32 ulp (see the test)
        strategies = (("default", default), ("nudged", default), ("mirrored", mirrored)) if noise == 0.0 else (("mirrored", mirrored),)
        for name, strategy in strategies:
            keras.utils.set_random_seed(0)
            with strategy.scope():
                trainer = build_trainer(cfg, build_generator(cfg.model, cfg.data))
            if name == "nudged":
                for net in trainer.networks().values():
                    net.set_weights([np.nextafter(w, np.inf, dtype=w.dtype) for w in net.get_weights()])
            history = training.Loop(trainer, strategy).fit(make, valid, epochs=1, steps_per_epoch=3, verbose=0)
            results[f"{name}-{noise}"] = {
                "history": history,
                "weights": {k: [np.asarray(w).tolist() for w in net.get_weights()] for k, net in trainer.networks().items()},
                "replicas": strategy.num_replicas_in_sync,
            }
    with open(sys.argv[1], "w") as f:
        json.dump(results, f)
    """
)


# The GAN trainer and its spectral path compute in float32 only (tf.cond branches and statistics are float32),
# so this comparison cannot run in float64 as tests/test_training.py does. The set-ups sum in different orders
# (per replica, then the all-reduce), which changes float32 results by rounding (2**-24 relative per sum), and
# three GAN steps amplify it: by how much depends on the CPU's kernels (AVX2 and AVX-512 sum differently). The
# tolerance is derived in the same run: "nudged" repeats the single-device run from initial weights moved by
# one ulp, which measures how much this set-up amplifies a rounding-sized perturbation; the mirrored run may
# differ by ROUNDING_SOURCES times that (rounding differs in several reductions of each step: D's and G's
# forward and backward passes, the all-reduce), and never by less than FLOAT32_FLOOR relative.
ROUNDING_SOURCES = 10
FLOAT32_FLOOR = 2.0 ** -21  # 4 ulp


def _rounding_tolerance(single, nudged):
    single, nudged = np.asarray(single, np.float64), np.asarray(nudged, np.float64)
    return ROUNDING_SOURCES * np.abs(nudged - single) + FLOAT32_FLOOR * np.abs(single) + 1e-9


@pytest.mark.slow
def test_mirrored_on_two_cpus_matches_single_device(tmp_path):
    script = tmp_path / "gan_mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, str(script), str(out), str(ROOT / "tests")], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["mirrored-0.0"]["replicas"] == 2
    single, nudged, mirrored = results["default-0.0"], results["nudged-0.0"], results["mirrored-0.0"]
    (row_single,), (row_nudged,), (row_mirrored,) = single["history"], nudged["history"], mirrored["history"]
    assert row_single.keys() == row_mirrored.keys() == row_nudged.keys()
    assert {"d/loss", "grad_norm/disc", "adv/gen", "spec/logmag", "val_loss", "val_d/acc_fake"} <= set(row_single)
    for key in row_single:
        tolerance = _rounding_tolerance(row_single[key], row_nudged[key])
        assert abs(row_mirrored[key] - row_single[key]) <= tolerance, (key, row_single[key], row_mirrored[key], tolerance)
    for name in ("generator", "discriminator"):  # per weight tensor, in the max norm
        for i, (a, n, b) in enumerate(zip(single["weights"][name], nudged["weights"][name], mirrored["weights"][name])):
            a, n, b = (np.asarray(w, np.float64) for w in (a, n, b))
            tolerance = _rounding_tolerance(np.abs(a).max(), np.abs(a).max() + np.abs(n - a).max())
            assert np.abs(b - a).max() <= tolerance, (name, i, float(np.abs(b - a).max()), float(tolerance))
    (noisy_row,) = results["mirrored-0.5"]["history"]
    assert all(math.isfinite(v) for v in noisy_row.values()) and noisy_row["d/acc_noise"] >= 0

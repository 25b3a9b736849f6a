"""Tests for advaudio/revision.py: the revision network, windowed revision in generation, training data and repair."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from advaudio import config as config_lib
from advaudio import revision
from advaudio.data import Stats
from advaudio.evaluation.metrics import seam_ratio
from advaudio.synthesis import generate, generate_for_run
from advaudio.models import FrameGRU
from advaudio.revision import BidirectionalReviser, ReviserTrainer, degrade, revise_frames, window_starts
from advaudio.stitching import stitch

F = 16  # frame length of the tiny models


@pytest.fixture(scope="module")
def gru():
    keras.utils.set_random_seed(0)
    model = FrameGRU(frame_length=F, units=8, layers=1)
    model.build((None, None, F))
    return model


@pytest.fixture(scope="module")
def seeds():
    return np.random.default_rng(0).normal(size=(2, 3, F)).astype(np.float32)


def randomised(reviser, seed=0):
    """The reviser with every weight (the zero head included) set at random."""
    if not reviser.built:
        reviser.build((None, None, reviser.frame_length))
    rng = np.random.default_rng(seed)
    assert reviser.weights
    for weight in reviser.weights:
        weight.assign(0.3 * rng.normal(size=weight.shape).astype(np.float32))
    return reviser


@pytest.mark.slow
def test_reviser_shapes_and_untrained_identity():
    reviser = BidirectionalReviser(frame_length=F, units=4, layers=2)
    x = np.random.default_rng(1).normal(size=(3, 5, F)).astype(np.float32)
    y = reviser(x)
    assert y.shape == (3, 5, F)
    np.testing.assert_array_equal(y, x)  # the head starts at zero: an untrained pass changes nothing
    assert reviser(x[:, :2]).shape == (3, 2, F)  # any window length
    # Two directions of 4 units per layer reach a head of F outputs.
    assert reviser.head.kernel.shape == (8, F)


def test_reviser_sees_the_future():
    reviser = randomised(BidirectionalReviser(frame_length=F, units=4))
    x = np.random.default_rng(2).normal(size=(1, 6, F)).astype(np.float32)
    changed = x.copy()
    changed[0, -1] += 1.0  # only the last frame changes
    delta = np.abs(reviser(changed).numpy() - reviser(x).numpy()).max(axis=-1)[0]
    assert np.all(delta[:-1] > 1e-6)  # earlier frames are revised with the later one in view


@pytest.mark.slow
def test_reviser_serialisation_round_trip(tmp_path):
    reviser = randomised(BidirectionalReviser(frame_length=F, units=4, layers=2, name="reviser"))
    x = np.random.default_rng(3).normal(size=(2, 4, F)).astype(np.float32)
    config = reviser.get_config()
    assert (config["frame_length"], config["units"], config["layers"]) == (F, 4, 2)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(reviser))
    assert clone.built  # rebuilt from its build config
    clone.set_weights(reviser.get_weights())
    np.testing.assert_allclose(clone(x), reviser(x), rtol=1e-6, atol=1e-6)
    path = tmp_path / "reviser.keras"
    reviser.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, BidirectionalReviser)
    np.testing.assert_allclose(loaded(x), reviser(x), rtol=1e-6, atol=1e-6)


def test_reviser_rejects_bad_arguments():
    with pytest.raises(ValueError, match="revision_params"):
        BidirectionalReviser(frame_length=F, units=0)


@pytest.mark.parametrize("num_frames, window, hop, expected", [
    (10, 4, 2, [0, 2, 4, 6]),
    (11, 4, 3, [0, 3, 6, 7]),  # the last window ends with the frames
    (3, 4, 2, [0]),  # one (shorter) window
    (4, 4, 4, [0]),
])
def test_window_starts(num_frames, window, hop, expected):
    assert window_starts(num_frames, window, hop) == expected


def test_revise_frames_averages_overlapping_windows_with_the_taper():
    # A network that writes each frame's position in its window: the output is the taper-weighted mean position.
    def positions(windows, training=None):
        shape = tf.shape(windows)
        return tf.broadcast_to(tf.cast(tf.range(shape[1]), tf.float32)[None, :, None], shape)

    frames = np.zeros((2, 6, 3), np.float32)
    out = revise_frames(positions, frames, window_frames=4, hop_frames=2)  # windows at frames 0 and 2
    taper = np.sin(np.pi * (np.arange(4) + 0.5) / 4) ** 2
    expected = [0.0, 1.0, (taper[2] * 2 + taper[0] * 0) / (taper[2] + taper[0]),
                (taper[3] * 3 + taper[1] * 1) / (taper[3] + taper[1]), 2.0, 3.0]
    np.testing.assert_allclose(out[0, :, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(out[1], out[0])


def test_revise_frames_with_identity_returns_the_frames():
    frames = np.random.default_rng(4).normal(size=(2, 13, F)).astype(np.float32)
    out = revise_frames(lambda w, training=None: w, frames, window_frames=5, hop_frames=2)
    np.testing.assert_allclose(out, frames, rtol=1e-6, atol=1e-6)


def test_degrade_hand_values():
    x = np.random.default_rng(5).normal(size=(2, 4000)).astype(np.float32)
    seed = tf.constant([1, 2], tf.int64)
    np.testing.assert_array_equal(degrade(x, 0.0, 0.5, 0.0, seed), x)  # nothing to add
    clicked = degrade(x, 0.0, 1.0, 0.5, seed).numpy() - x  # every sample clicks by +-0.5
    np.testing.assert_allclose(np.abs(clicked), 0.5, rtol=1e-6)
    assert 0.4 < np.mean(clicked > 0) < 0.6  # random signs
    some = degrade(x, 0.0, 0.01, 1.0, seed).numpy() - x
    assert 40 <= np.count_nonzero(some) <= 120  # ~80 of 8000 samples
    noisy = degrade(x, 0.3, 0.0, 1.0, seed).numpy() - x
    assert abs(noisy.std() - 0.3) < 0.02
    np.testing.assert_array_equal(degrade(x, 0.3, 0.01, 1.0, seed), degrade(x, 0.3, 0.01, 1.0, seed))
    assert not np.array_equal(degrade(x, 0.3, 0.0, 1.0, seed), degrade(x, 0.3, 0.0, 1.0, seed + 1))


# --------------------------------------------------------------------------- generation


@pytest.mark.slow
def test_generate_without_revision_is_todays_output(gru, seeds):
    today = generate(gru, seeds, num_samples=150)
    np.testing.assert_array_equal(generate(gru, seeds, num_samples=150, revision=None), today)
    untrained = BidirectionalReviser(frame_length=F, units=4)  # zero head: revision is the identity
    np.testing.assert_allclose(generate(gru, seeds, num_samples=150, revision=untrained, revision_window=4,
                                        revision_hop=2), today, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("hop", [F, F // 2])
@pytest.mark.slow
def test_generate_applies_the_revision_before_stitching(gru, seeds, hop):
    reviser = randomised(BidirectionalReviser(frame_length=F, units=4))
    got = generate(gru, seeds, num_frames=9, frame_hop=hop, revision=reviser, revision_window=4, revision_hop=2)
    from advaudio.synthesis import rollout_frames

    frames = rollout_frames(gru, seeds, 9, hop)
    expected = stitch(revise_frames(reviser, frames, 4, 2), "auto", hop).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert np.abs(got - generate(gru, seeds, num_frames=9, frame_hop=hop)).max() > 1e-3


def tiny_experiment():
    cfg = config_lib.Experiment(name="tiny")
    cfg.data.frame_length = F
    cfg.data.sample_rate = 8000
    cfg.model.units, cfg.model.layers = 8, 1
    cfg.generate.seed_frames = 3
    cfg.generate.count = 2
    cfg.generate.seconds = 0.05
    return cfg


STATS = Stats("standard", mean=0.0, std=0.25)


@pytest.mark.slow
def test_generate_for_run_with_revision_none_is_unchanged(tmp_path, gru):
    cfg = tiny_experiment()
    valid = np.random.default_rng(6).normal(size=2000).astype(np.float32)
    (path, _) = generate_for_run(tmp_path, cfg, gru, seed_signal={"valid": valid}, stats=STATS)
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["revision"] == "none" and sidecar["revision_checkpoint"] is None
    assert sidecar["revision_window"] is None


@pytest.mark.slow
def test_generate_for_run_loads_the_runs_reviser_and_records_it(tmp_path, gru):
    import soundfile as sf

    cfg = tiny_experiment()
    cfg.generate.revision = "bidirectional"
    cfg.generate.revision_params = {"units": 4}
    cfg.generate.revision_window, cfg.generate.revision_hop = 4, 2
    valid = np.random.default_rng(6).normal(size=2000).astype(np.float32)
    with pytest.raises(FileNotFoundError, match="experiments/revise.py --set revise.from_run="):
        generate_for_run(tmp_path, cfg, gru, seed_signal={"valid": valid}, stats=STATS)
    reviser = randomised(revision.build_reviser(cfg))
    revision._save_reviser(tmp_path, reviser, epoch=2, val_loss=0.5)
    paths = generate_for_run(tmp_path, cfg, gru, seed_signal={"valid": valid}, stats=STATS, out_dir=tmp_path / "r")
    sidecar = json.loads(paths[0].with_suffix(".json").read_text())
    assert sidecar["revision"] == "bidirectional"
    assert sidecar["revision_checkpoint"] == "checkpoints/reviser-best.weights.h5"
    assert (sidecar["revision_window"], sidecar["revision_hop"]) == (4, 2)
    # The written audio is the revised rollout: it differs from the unrevised one.
    unrevised = generate_for_run(tmp_path, tiny_experiment(), gru, seed_signal={"valid": valid}, stats=STATS,
                                 out_dir=tmp_path / "u")
    revised_audio, _ = sf.read(str(paths[0]))
    unrevised_audio, _ = sf.read(str(unrevised[0]))
    assert np.abs(revised_audio - unrevised_audio).max() > 1e-3


def test_check_config_names_the_bad_key():
    cfg = tiny_experiment()
    revision.check_config(cfg)  # the defaults are fine
    cfg.generate.revision = "bidirectionl"
    with pytest.raises(config_lib.ConfigError, match="Did you mean 'bidirectional'"):
        revision.check_config(cfg)
    cfg.generate.revision = "bidirectional"
    cfg.generate.revision_hop = 20
    with pytest.raises(config_lib.ConfigError, match="revision_hop"):
        revision.check_config(cfg)
    cfg.generate.revision_hop = 4
    cfg.revise.loss_weights = {"rec/mse": 1.0, "adv/gen": 1.0}
    revision.check_config(cfg)  # adversarial terms: a discriminator judges the revised windows
    cfg.revise.loss_weights = {"rec/mse": 1.0, "adv/gan": 1.0}
    with pytest.raises(config_lib.ConfigError, match=r"\['adv/gan'\] are not adversarial terms.*'adv/gen', 'adv/feat'"):
        revision.check_config(cfg)
    cfg.revise.loss_weights = {"adv/gen": 1.0}
    with pytest.raises(config_lib.ConfigError, match="add a rec/\\* or spec/\\* term"):
        revision.check_config(cfg)
    cfg.revise.loss_weights = {"rec/mse": 1.0, "adv/feat": 1.0}
    cfg.objective.adversarial.stitched_frames = 17  # more than the 16 frames of a revision window
    with pytest.raises(config_lib.ConfigError, match="with \\['adv/feat'\\] in revise.loss_weights: "
                                                     "objective.adversarial.stitched_frames must be between 1 and the 16"):
        revision.check_config(cfg)
    cfg.objective.adversarial.stitched_frames = 2
    cfg.revise.loss_weights = {"spec/sc": 1.0}  # windows of 16 x 16 samples are shorter than the 2048 FFT
    with pytest.raises(config_lib.ConfigError, match="revision_window"):
        revision.check_config(cfg)
    cfg = tiny_experiment()
    cfg.revise.from_run = "runs/x"
    with pytest.raises(config_lib.ConfigError, match="generate.revision is 'none'"):
        revision.check_config(cfg)
    with pytest.raises(config_lib.ConfigError, match="revise.from_run='runs/x' is not a run folder"):
        revision.check_config(cfg)
    with pytest.raises(config_lib.ConfigError, match="revise.from_run='runs/x' is not a run folder"):
        config_lib.validate(cfg)  # one of validate's feature checks


def test_adopt_source_run_takes_its_data_and_model(tmp_path):
    source = tiny_experiment()
    source.data.frame_length, source.model.units = 40, 12
    source.generate.dither, source.generate.seconds = 0.05, 3.0
    config_lib.save_json(source, tmp_path / "config.json")
    cfg = config_lib.Experiment()
    cfg.revise.from_run = str(tmp_path)
    cfg.generate.revision, cfg.generate.revision_window = "bidirectional", 6
    revision.adopt_source_run(cfg, ["revise.epochs=1", "generate.seconds=2.0"])
    assert (cfg.data.frame_length, cfg.model.units) == (40, 12)
    # Generation as the source run's, with this run's revision keys and generate overrides.
    assert (cfg.generate.dither, cfg.generate.seed_frames, cfg.generate.seconds) == (0.05, 3, 2.0)
    assert (cfg.generate.revision, cfg.generate.revision_window) == ("bidirectional", 6)
    with pytest.raises(config_lib.ConfigError, match="data and model are those of the source run"):
        revision.adopt_source_run(cfg, ["data.frame_length=8"])
    cfg.revise.from_run = str(tmp_path / "missing")
    with pytest.raises(config_lib.ConfigError, match="not a run folder"):
        revision.adopt_source_run(cfg, [])


def data_experiment():
    cfg = tiny_experiment()
    cfg.generate.revision, cfg.generate.revision_window = "bidirectional", 4
    cfg.revise.prefix_frames, cfg.revise.noise_std, cfg.revise.clicks_per_frame = 3, 0.0, 0.0
    cfg.data.batch_size = 2
    return cfg


@pytest.mark.slow
def test_rollout_windows_are_the_generators_rollouts_and_the_real_continuation(gru):
    from advaudio.synthesis import choose_seed_positions, rollout_frames

    cfg = data_experiment()
    signal = np.random.default_rng(12).normal(size=3000).astype(np.float32)
    rollouts, targets = revision.rollout_windows(gru, signal, cfg, count=3, seed=5)
    assert rollouts.shape == targets.shape == (3, 4, F)
    positions = choose_seed_positions(len(signal), 3, (3 + 4) * F, 5)
    for i, p in enumerate(positions):
        np.testing.assert_array_equal(targets[i], signal[p + 3 * F : p + 7 * F].reshape(4, F))
        seed = signal[p : p + 3 * F].reshape(1, 3, F)
        np.testing.assert_allclose(rollouts[i], rollout_frames(gru, seed, 4, F, seed=5)[0], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_degraded_real_windows_are_real_audio_plus_noise_and_clicks():
    cfg = data_experiment()
    cfg.data.frame_hop = F // 2  # overlapping frames come from one degraded signal
    signal = np.arange(4000, dtype=np.float32)  # every window says where it was cut
    pairs = list(revision.degraded_real_dataset(signal, cfg, seed=3, count=4).as_numpy_iterator())
    for degraded, clean in pairs:
        assert clean.shape == degraded.shape == (4, F)
        start = clean[0, 0]
        expected = start + np.arange(4)[:, None] * (F // 2) + np.arange(F)[None, :]
        np.testing.assert_array_equal(clean, expected)
        np.testing.assert_array_equal(degraded, clean)  # no noise, no clicks configured
    assert len({float(c[0, 0]) for _, c in pairs}) > 1  # random positions
    cfg.revise.noise_std, cfg.revise.clicks_per_frame, cfg.revise.click_amplitude = 0.0, 2.0, 5.0
    again = list(revision.degraded_real_dataset(signal, cfg, seed=3, count=4).as_numpy_iterator())
    diffs = np.concatenate([(d - c).ravel() for d, c in again])
    assert set(np.unique(np.abs(diffs))) <= {0.0, 5.0} and np.any(diffs != 0)
    np.testing.assert_array_equal(again[0][0], list(revision.degraded_real_dataset(
        signal, cfg, seed=3, count=1).as_numpy_iterator())[0][0])  # reproducible


@pytest.mark.parametrize("share", [0.0, 1.0])
@pytest.mark.slow
def test_training_batches_mix_rollouts_and_degraded_audio(gru, share):
    cfg = data_experiment()
    cfg.revise.rollout_share, cfg.revise.rollouts = share, 4
    signal = np.random.default_rng(13).normal(size=3000).astype(np.float32)
    revision._POOLS.clear()
    degraded, clean = next(iter(revision.training_dataset(gru, signal, cfg, epoch=0)))
    assert degraded.shape == clean.shape == (2, 4, F)
    pool_rollouts, pool_targets = revision._pool(gru, signal, cfg)
    from_pool = [any(np.array_equal(c, t) for t in pool_targets) for c in clean.numpy()]
    assert all(from_pool) if share == 1.0 else not any(from_pool)
    if share == 1.0:  # a rollout is paired with its own continuation
        for d, c in zip(degraded.numpy(), clean.numpy()):
            k = next(k for k, t in enumerate(pool_targets) if np.array_equal(c, t))
            np.testing.assert_array_equal(d, pool_rollouts[k])


# --------------------------------------------------------------------------- training and repair

RF, RW = 32, 8  # frames of 32 samples, windows of 8 frames in the repair test
CLICK_PROBABILITY = 0.5


def sinusoids(rng, count, samples):
    """`[count, samples]` sums of two sinusoids with random periods (16-64 samples), amplitudes and phases."""
    t = np.arange(samples)
    out = np.zeros((count, samples), np.float32)
    for _ in range(2):
        freq = rng.uniform(1 / 64, 1 / 16, size=(count, 1))
        amp = rng.uniform(0.3, 0.7, size=(count, 1))
        phase = rng.uniform(0, 2 * np.pi, size=(count, 1))
        out += (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)
    return out


def seam_clicks(rng, clean):
    """Clicks on the first sample of frames (the seams): +-U(0.5, 1) with probability CLICK_PROBABILITY."""
    clicks = np.zeros_like(clean)
    starts = np.arange(RF, clean.shape[1], RF)
    hit = rng.uniform(size=(clean.shape[0], starts.size)) < CLICK_PROBABILITY
    size = rng.uniform(0.5, 1.0, size=hit.shape) * rng.choice([-1.0, 1.0], size=hit.shape)
    clicks[:, starts] = np.where(hit, size, 0.0)
    return clean + clicks, clicks


@pytest.mark.slow
def test_trainer_logs_every_term_and_the_unrevised_loss():
    cfg = tiny_experiment()
    cfg.generate.revision = "bidirectional"
    cfg.generate.revision_params = {"units": 4}
    cfg.revise.loss_weights = {"rec/mse": 1.0, "rec/l1": 0.5}
    trainer = ReviserTrainer(revision.build_reviser(cfg), cfg)
    rng = np.random.default_rng(7)
    clean = rng.normal(size=(4, 6, F)).astype(np.float32)
    degraded = clean + 0.1
    logs = trainer.train_step((degraded, clean))
    assert {"loss", "rec/mse", "rec/l1", "grad_norm/reviser"} <= set(logs)
    np.testing.assert_allclose(float(logs["loss"]), 0.01 + 0.5 * 0.1, rtol=1e-5)  # the head starts at zero
    logs = trainer.test_step((degraded, clean))
    np.testing.assert_allclose(float(logs["unrevised/loss"]), 0.01 + 0.5 * 0.1, rtol=1e-5)
    assert int(trainer.step_counter.numpy()) == 1


@pytest.mark.slow
def test_a_briefly_trained_pass_removes_seam_clicks():
    keras.utils.set_random_seed(0)
    cfg = config_lib.Experiment()
    cfg.data.frame_length, cfg.data.sample_rate = RF, 8000
    cfg.generate.stitch = "concat"
    cfg.generate.revision, cfg.generate.revision_params = "bidirectional", {"units": 16}
    cfg.revise.loss_weights = {"rec/mse": 1.0}
    cfg.revise.learning_rate = 1e-2
    trainer = ReviserTrainer(revision.build_reviser(cfg), cfg)
    rng = np.random.default_rng(8)
    clean = sinusoids(rng, 2048, RW * RF)
    degraded, _ = seam_clicks(rng, clean)
    as_windows = lambda x: x.reshape(-1, RW, RF)
    dataset = (tf.data.Dataset.from_tensor_slices((as_windows(degraded), as_windows(clean)))
               .shuffle(2048, seed=0).repeat().batch(32))
    step = tf.function(trainer.train_step)
    for batch in dataset.take(300):
        step(batch)

    # A long signal revised as generation does: windows of 8 frames every 4, stitched end to end.
    long_clean = sinusoids(np.random.default_rng(9), 1, 64 * RF)
    long_degraded, clicks = seam_clicks(np.random.default_rng(10), long_clean)
    revised = revise_frames(trainer.reviser, long_degraded.reshape(1, 64, RF), RW, RW // 2).reshape(1, -1)
    at_clicks = clicks != 0
    residual = np.abs(revised - long_clean)[at_clicks].mean() / np.abs(clicks[at_clicks]).mean()
    assert residual < 0.4, f"clicks not removed: {residual:.2f} of their size remains"
    before, after, real = (seam_ratio(x[0], RF) for x in (long_degraded, revised, long_clean))
    assert before > real + 1.0  # the clicks read as seams
    assert after - real < 0.3 * (before - real), f"seam ratio {before:.2f} -> {after:.2f} (clean {real:.2f})"


# --------------------------------------------------------------------------- end to end

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_revise_experiment_over_a_finished_run_end_to_end(tmp_path):
    from advaudio import checkpoints
    from advaudio import run as run_lib

    assert run_lib.main([str(ROOT / "experiments" / "mse_baseline.py"), "--smoke", "--set", "data.default_minutes=0.1",
                         "--set", f"data.cache_dir={tmp_path / 'cache'}", "--out", str(tmp_path / "src")]) == 0
    (source,) = (tmp_path / "src").glob("*/*")
    revise_file = str(ROOT / "experiments" / "revise.py")
    # The source run fixes data and model.
    assert run_lib.main([revise_file, "--smoke", "--set", f"revise.from_run={source}", "--set", "data.frame_length=8",
                         "--out", str(tmp_path / "rev")]) == 2
    assert run_lib.main([revise_file, "--smoke", "--set", f"revise.from_run={source}",
                         "--out", str(tmp_path / "rev")]) == 0
    (run_dir,) = (tmp_path / "rev").glob("*/*")
    cfg, source_cfg = config_lib.load_json(run_dir / "config.json"), config_lib.load_json(source / "config.json")
    assert (cfg.data, cfg.model) == (source_cfg.data, source_cfg.model)
    # The folder generates on its own: the source's best generator, copied.
    copied, _ = checkpoints.load_generator(run_dir, "best")
    original, _ = checkpoints.load_generator(source, "best")
    for a, b in zip(copied.get_weights(), original.get_weights()):
        np.testing.assert_array_equal(a, b)
    rows = (run_dir / revision.REVISER_LOG).read_text().splitlines()
    assert len(rows) == 3  # header + 2 epochs
    assert {"loss", "rec/mse", "spec/sc", "spec/logmag", "val_loss", "val_unrevised/loss"} <= set(rows[0].split(","))
    sidecar = json.loads((run_dir / "samples" / "sample_000.json").read_text())
    assert sidecar["revision"] == "bidirectional"
    assert sidecar["revision_checkpoint"] == "checkpoints/reviser-best.weights.h5"
    # --resume continues the revision pass where it stopped.
    assert run_lib.main(["--resume", str(run_dir), "--set", "revise.epochs=3"]) == 0
    assert len((run_dir / revision.REVISER_LOG).read_text().splitlines()) == 4
    state = tf.train.load_checkpoint(str(run_dir / "checkpoints" / revision.REVISER_STATE))
    assert int(state.get_tensor("opt_reviser/_iterations/.ATTRIBUTES/VARIABLE_VALUE")) == 3 * 2  # 3 epochs x 2 steps
    # The folder's samples without the pass (the README's command), also once the source run is gone.
    import shutil

    from advaudio import generate as generate_cli

    shutil.rmtree(source)
    for revision_name in ("none", "bidirectional"):
        out = tmp_path / f"samples-{revision_name}"
        paths = generate_cli.main([str(run_dir), "--set", f"generate.revision={revision_name}", "--out", str(out)])
        assert paths and json.loads((out / "sample_000.json").read_text())["revision"] == revision_name


def adversarial_reviser(adv_weight=1.0, d_start_step=1):
    cfg = tiny_experiment()
    cfg.generate.revision, cfg.generate.revision_params = "bidirectional", {"units": 4}
    cfg.generate.stitch = "concat"
    cfg.revise.loss_weights = {"rec/mse": 1.0, "adv/gen": adv_weight, "adv/feat": adv_weight}
    adv = cfg.objective.adversarial
    adv.d_start_step = d_start_step
    adv.discriminator_params = {"scales": 1, "channels": 4, "max_channels": 8, "downsample_factors": (2,),
                                "kernel_size": 5, "groups": 1}
    revision.check_config(cfg)
    keras.utils.set_random_seed(0)
    trainer = ReviserTrainer(revision.build_reviser(cfg), cfg)
    randomised(trainer.reviser)
    return trainer


@pytest.mark.slow
def test_adversarial_terms_train_a_discriminator_on_revised_windows_and_reach_the_reviser():
    rng = np.random.default_rng(11)
    clean = rng.normal(size=(4, 6, F)).astype(np.float32)
    degraded = clean + rng.normal(scale=0.3, size=clean.shape).astype(np.float32)
    trainer = adversarial_reviser()
    assert set(trainer.networks()) == {"reviser", "discriminator"}
    assert set(trainer.optimizers()) == {"reviser", "discriminator"}
    d_before = [w.numpy().copy() for w in trainer.discriminator.weights]
    logs = trainer.train_step((degraded, clean))  # step 0: D still off (d_start_step 1)
    assert float(logs["d/loss"]) == 0.0 and float(logs["adv/gen"]) == 0.0
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(d_before, trainer.discriminator.weights))
    assert not trainer.counts_for_best()  # a pass D never judged is not the adversarial experiment's best
    logs = trainer.train_step((degraded, clean))
    assert trainer.counts_for_best()
    assert {"adv/gen", "adv/feat", "d/loss", "d/win", "d/acc_real", "d/acc_fake", "grad_norm/disc"} <= set(logs)
    assert float(logs["d/loss"]) > 0 and float(logs["adv/gen"]) > 0
    assert any(not np.array_equal(a, b.numpy()) for a, b in zip(d_before, trainer.discriminator.weights))
    np.testing.assert_allclose(  # the total weighs every term, the adversarial ones included
        float(logs["loss"]), float(logs["rec/mse"]) + float(logs["adv/gen"]) + float(logs["adv/feat"]), rtol=1e-5)
    logs = trainer.test_step((degraded, clean))
    assert {"loss", "unrevised/loss", "adv/gen", "adv/feat", "d/acc_real", "d/acc_fake"} <= set(logs)
    np.testing.assert_allclose(float(logs["loss"]), float(logs["rec/mse"]), rtol=1e-6)  # reconstruction only


@pytest.mark.slow
def test_the_adversarial_terms_gradient_reaches_the_reviser():
    """Two identical trainers with D on from step 0, one weighting adv/* 0: their first updates differ."""
    rng = np.random.default_rng(12)
    clean = rng.normal(size=(4, 6, F)).astype(np.float32)
    degraded = clean + rng.normal(scale=0.3, size=clean.shape).astype(np.float32)
    weighted, silent = adversarial_reviser(d_start_step=0), adversarial_reviser(adv_weight=0.0, d_start_step=0)
    before = [w.numpy().copy() for w in weighted.reviser.weights]
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(before, silent.reviser.weights))
    logs = weighted.train_step((degraded, clean))
    silent_logs = silent.train_step((degraded, clean))
    assert float(logs["d/loss"]) == pytest.approx(float(silent_logs["d/loss"]), rel=1e-6)  # the same D step
    differs = [np.abs(a.numpy() - b.numpy()).max() for a, b in zip(weighted.reviser.weights, silent.reviser.weights)]
    assert max(differs) > 1e-6


@pytest.mark.slow
def test_the_revision_discriminator_is_saved_and_resumed(tmp_path):
    from advaudio.training import TrainingState

    rng = np.random.default_rng(13)
    clean = rng.normal(size=(4, 6, F)).astype(np.float32)
    trainer = adversarial_reviser(d_start_step=0)
    trainer.train_step((clean + 0.1, clean))
    TrainingState(trainer, tmp_path / "state", keep=1).save(1)
    fresh = adversarial_reviser(d_start_step=0)
    assert TrainingState(fresh, tmp_path / "state", keep=1).restore_latest() == 1
    for a, b in zip(trainer.discriminator.weights, fresh.discriminator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(fresh.discriminator_optimizer.iterations.numpy()) == 1


@pytest.mark.parametrize("best_by,expected", [("val_loss", 3), ("last", 4)])
def test_the_best_pass_is_an_eligible_epoch_by_val_loss_or_the_last(tmp_path, best_by, expected):
    """Epoch 1 is before D's first step (not eligible), however low its loss; then by val_loss or the latest."""
    cfg = tiny_experiment()
    cfg.generate.revision, cfg.generate.revision_params = "bidirectional", {"units": 4}
    reviser = randomised(revision.build_reviser(cfg))
    saved = {}
    for epoch, val_loss, eligible in [(1, 0.5, False), (2, 1.5, True), (3, 1.2, True), (4, 1.3, True)]:
        randomised(reviser, seed=epoch)
        saved[epoch] = [w.numpy().copy() for w in reviser.weights]
        index = revision._save_reviser(tmp_path, reviser, epoch, val_loss, eligible=eligible, best_by=best_by)
        if epoch == 1:
            assert index["best"]["epoch"] == 1  # some pass is best while none is eligible
    assert (index["best"]["epoch"], index["last"]["epoch"]) == (expected, 4)
    loaded, info = revision.load_reviser(tmp_path, cfg)
    assert info["epoch"] == expected
    for a, b in zip(saved[expected], loaded.weights):
        np.testing.assert_array_equal(a, b.numpy())
    bad = tiny_experiment()
    bad.generate.revision, bad.revise.best_by = "bidirectional", "lowest"
    with pytest.raises(config_lib.ConfigError, match="revise.best_by must be one of"):
        revision.check_config(bad)

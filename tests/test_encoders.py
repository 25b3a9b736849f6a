"""Tests for advaudio/encoders.py: the spectral input encoder on its own."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from advaudio.encoders import ENCODERS, STFTConvEncoder, build_encoder

F = 32
PARAMS = {"output_dim": 6, "fft_size": 16, "hop_length": 8, "win_length": 16, "channels": (2, 3)}


def randomised(layer, seed=0):
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        weight.assign(0.3 * rng.normal(size=weight.shape).astype(np.float32))
    return layer


@pytest.fixture(scope="module")
def encoder():
    keras.utils.set_random_seed(0)
    return build_encoder("stft_conv", F, PARAMS)


def test_shapes_for_sequences_and_single_frames(encoder):
    x = np.random.default_rng(1).normal(size=(3, 5, F)).astype(np.float32)
    assert encoder(x).shape == (3, 5, 6)
    assert encoder(x[:, 0]).shape == (3, 6)  # one step, as FrameGRU.step feeds it
    np.testing.assert_allclose(encoder(x[:, 2]), encoder(x)[:, 2], rtol=1e-5, atol=1e-6)  # frames are independent
    # 1 + (32 - 16) // 8 = 3 STFT columns of 16 // 2 + 1 = 9 bins, 3 channels.
    assert encoder.image_shape == (3, 9, 3)


def test_spectral_image_hand_values(encoder):
    # A cosine at bin 2 of the 16-point FFT: Hann-windowed, its spectrum at bin 2 is 16 / 4 = 4 with phase 0
    # (periodic Hann: sum(w) = 8, a cosine of amplitude 1 gives 8 / 2 = 4 at +-bin 2).
    t = np.arange(F)
    frame = np.cos(2 * np.pi * 2 * t / 16).astype(np.float32)
    image = encoder.spectral_image(frame[None]).numpy()[0]
    np.testing.assert_allclose(image[:, 2, 0], 0.5 * np.log(16.0 + 1e-8), rtol=1e-5)  # log|X| = log 4
    np.testing.assert_allclose(image[:, 2, 1], 1.0, atol=1e-5)  # cos(phase) = 1: every column starts at t = 8k
    np.testing.assert_allclose(image[:, 2, 2], 0.0, atol=1e-5)
    # A sine is the same magnitude with phase -pi/2.
    image = encoder.spectral_image(np.sin(2 * np.pi * 2 * t / 16).astype(np.float32)[None]).numpy()[0]
    np.testing.assert_allclose(image[:, 2, 1:], [[0.0, -1.0]] * 3, atol=1e-5)
    # Silence: the floor, and a finite gradient.
    silence = tf.zeros((1, F))
    with tf.GradientTape() as tape:
        tape.watch(silence)
        out = encoder(silence)
    np.testing.assert_allclose(encoder.spectral_image(silence)[..., 0], np.log(1e-4), rtol=1e-5)
    assert np.all(np.isfinite(tape.gradient(out, silence)))


def test_serialisation_round_trip(tmp_path):
    encoder = randomised(build_encoder("stft_conv", F, PARAMS))
    x = np.random.default_rng(2).normal(size=(2, 4, F)).astype(np.float32)
    config = encoder.get_config()
    assert {k: config[k] for k in PARAMS} == {**PARAMS, "channels": [2, 3]}
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(encoder))
    if not clone.built:
        clone.build((None, F))
    clone.set_weights(encoder.get_weights())
    np.testing.assert_allclose(clone(x), encoder(x), rtol=1e-6, atol=1e-6)
    model = keras.Sequential([keras.Input((None, F)), encoder])
    model.save(tmp_path / "encoder.keras")
    loaded = keras.saving.load_model(tmp_path / "encoder.keras")
    np.testing.assert_allclose(loaded(x), encoder(x), rtol=1e-6, atol=1e-6)


def test_registry_and_bad_parameters():
    assert "stft_conv" in ENCODERS
    assert build_encoder("none", F) is None
    with pytest.raises(KeyError, match="Did you mean 'stft_conv'"):
        build_encoder("stft_conf", F)
    with pytest.raises(ValueError, match="win_length"):
        STFTConvEncoder(frame_length=F, fft_size=16, win_length=64)
    with pytest.raises(ValueError, match="model.encoder_params"):
        STFTConvEncoder(frame_length=F, fft_size=16, hop_length=8, win_length=16, channels=())
    with pytest.raises(ValueError, match="encoder is 'none'"):
        build_encoder("none", F, {"output_dim": 4})


@pytest.mark.slow
def test_trains_and_reads_the_spectrum():
    """Briefly trained, the features tell a low tone from a high one (the encoder is differentiable end to end)."""
    keras.utils.set_random_seed(0)
    encoder = build_encoder("stft_conv", F, {**PARAMS, "output_dim": 4})
    head = keras.layers.Dense(1)
    rng = np.random.default_rng(3)
    t = np.arange(F)
    labels = rng.integers(0, 2, size=256)
    bins = np.where(labels == 1, 6, 2)
    frames = np.cos(2 * np.pi * bins[:, None] * t / 16 + rng.uniform(0, 2 * np.pi, size=(256, 1))).astype(np.float32)
    optimizer = keras.optimizers.Adam(3e-2)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.binary_crossentropy(y[:, None], head(encoder(x)), from_logits=True))
        variables = encoder.trainable_variables + head.trainable_variables
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    y = labels.astype(np.float32)
    for _ in range(60):
        loss = step(frames, y)
    accuracy = np.mean((head(encoder(frames)).numpy()[:, 0] > 0) == labels)
    assert accuracy > 0.95, f"accuracy {accuracy:.2f}, loss {float(loss):.3f}"


def test_config_check_names_the_key():
    from advaudio import config as config_lib
    from advaudio.encoders import check_config

    cfg = config_lib.Experiment()
    assert check_config(cfg) == []
    cfg.model.encoder = "stft_conv"
    assert check_config(cfg) == []  # the defaults fit 4000-sample frames
    cfg.model.encoder = "stft"
    (problem,) = check_config(cfg)
    assert problem.startswith("model.encoder:") and "Did you mean 'stft_conv'" in problem
    cfg.model.encoder, cfg.model.encoder_params = "stft_conv", {"win_length": 8000, "fft_size": 8192}
    (problem,) = check_config(cfg)
    assert "model.encoder_params" in problem and "win_length" in problem
    cfg.model.encoder_params = {"widht": 3}
    assert "widht" in check_config(cfg)[0]
    cfg.model.encoder, cfg.model.encoder_params = "none", {"output_dim": 3}
    assert "model.encoder is 'none'" in check_config(cfg)[0]
    cfg.model.encoder = "stft"
    with pytest.raises(config_lib.ConfigError, match="model.encoder"):
        config_lib.validate(cfg)  # one of validate's feature checks


# --------------------------------------------------------------------------- in the FrameGRU

def encoder_experiment(encoder="stft_conv", noise_dim=0, objective="mse", regime="teacher_forcing"):
    from advaudio import config as config_lib

    cfg = config_lib.Experiment()
    cfg.data.frame_length, cfg.data.sequence_length, cfg.data.batch_size = F, 6, 2
    cfg.model.units, cfg.model.layers, cfg.model.noise_dim = 8, 2, noise_dim
    cfg.model.encoder, cfg.model.encoder_params = encoder, (dict(PARAMS) if encoder != "none" else {})
    cfg.objective.name, cfg.objective.regime = objective, regime
    cfg.objective.free_run_prefix, cfg.objective.free_run_steps = 2, 3
    cfg.objective.sampling_schedule, cfg.objective.sampling_probability = "constant", 0.5
    return cfg


def model_for(cfg, seed=0):
    from advaudio.models import build_generator

    keras.utils.set_random_seed(seed)
    return build_generator(cfg.model, cfg.data)


def test_encoder_none_is_the_plain_model_bit_for_bit():
    from advaudio.models import FrameGRU

    generator = model_for(encoder_experiment("none"))
    keras.utils.set_random_seed(0)
    plain = FrameGRU(frame_length=F, units=8, layers=2, name="frame_gru")
    plain.build((None, None, F))
    assert generator.encoder is None and generator.get_config()["encoder"] is None
    assert [w.shape for w in generator.weights] == [w.shape for w in plain.weights]
    for a, b in zip(generator.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(4).normal(size=(2, 5, F)).astype(np.float32)
    np.testing.assert_array_equal(generator(x), plain(x))


@pytest.mark.parametrize("noise_dim", [0, 3])
@pytest.mark.slow
def test_the_recurrent_stack_reads_the_encoder_in_call_and_step(noise_dim):
    generator = model_for(encoder_experiment(noise_dim=noise_dim))
    assert isinstance(generator.encoder, STFTConvEncoder) and not generator.foldable
    # The first layer's kernel reads output_dim features (+ noise), not frame_length samples.
    assert generator.cells[0].kernel.shape[0] == PARAMS["output_dim"] + noise_dim
    x = np.random.default_rng(5).normal(size=(2, 5, F)).astype(np.float32)
    noise = np.random.default_rng(6).normal(size=(2, 5, noise_dim)).astype(np.float32) if noise_dim else None
    preds, _ = generator.call_with_states(x, noise=noise)
    assert preds.shape == (2, 5, F)
    states = generator.initial_states(2)
    for t in range(5):
        pred, states = generator.step(x[:, t], states, noise=None if noise is None else noise[:, t])
        np.testing.assert_allclose(pred, preds[:, t], rtol=1e-4, atol=1e-5)
    # The encoder is what the stack sees: other weights in it give other predictions.
    before = generator(x, noise=noise).numpy()
    randomised(generator.encoder, seed=7)
    assert np.abs(generator(x, noise=noise).numpy() - before).max() > 1e-4


@pytest.mark.slow
def test_rollout_falls_back_to_the_unfolded_loop_and_equals_stepping():
    from advaudio.synthesis import rollout_frames

    generator = model_for(encoder_experiment())
    seeds = np.random.default_rng(8).normal(size=(2, 3, F)).astype(np.float32)
    frames = rollout_frames(generator, seeds, 6, F, feedback="raw")  # fold=None: folds whenever it can
    preds, states = generator.call_with_states(seeds)
    pred = preds[:, -1]
    expected = [pred.numpy()]
    for _ in range(5):
        pred, states = generator.step(pred, states)
        expected.append(pred.numpy())
    np.testing.assert_allclose(frames, np.stack(expected, axis=1), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError):
        rollout_frames(generator, seeds, 6, F, feedback="raw", fold=True)


@pytest.mark.slow
def test_model_with_encoder_round_trips_config_weights_and_keras_file(tmp_path):
    from advaudio.models import FrameGRU, build_generator

    cfg = encoder_experiment()
    generator = model_for(cfg)
    randomised(generator.encoder, seed=9)
    x = np.random.default_rng(10).normal(size=(2, 4, F)).astype(np.float32)
    clone = FrameGRU.from_config(generator.get_config())
    if not clone.built:
        clone.build((None, None, F))
    clone.set_weights(generator.get_weights())
    np.testing.assert_allclose(clone(x), generator(x), rtol=1e-6, atol=1e-6)
    # Checkpoints: weights saved by a run load into the generator its config.json rebuilds.
    generator.save_weights(str(tmp_path / "g.weights.h5"))
    rebuilt = build_generator(cfg.model, cfg.data)
    rebuilt.load_weights(str(tmp_path / "g.weights.h5"))
    np.testing.assert_allclose(rebuilt(x), generator(x), rtol=1e-6, atol=1e-6)
    generator.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras")
    np.testing.assert_allclose(loaded(x), generator(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("objective, regime", [
    ("mse", "teacher_forcing"), ("mse", "scheduled_sampling"), ("mse", "free_running"), ("gan_denoise", "teacher_forcing"),
])
@pytest.mark.slow
def test_every_objective_and_regime_trains_the_encoder(objective, regime):
    from advaudio.objectives import build_trainer

    cfg = encoder_experiment(objective=objective, regime=regime)
    if objective == "gan_denoise":
        cfg.objective.loss_weights = {"rec/mse": 1.0, "adv/gen": 1.0}
        cfg.objective.adversarial.discriminator = "frame_mlp"
        cfg.objective.adversarial.d_start_step = 0
    generator = model_for(cfg)
    trainer = build_trainer(cfg, generator)
    x = np.random.default_rng(11).normal(size=(2, 6, F)).astype(np.float32)
    before = [w.numpy().copy() for w in generator.encoder.trainable_weights]
    logs = trainer.train_step((x, np.roll(x, -1, axis=1)))
    assert np.isfinite(float(logs["loss"]))
    changed = [np.abs(w.numpy() - b).max() > 0 for w, b in zip(generator.encoder.trainable_weights, before)]
    assert all(changed), "the encoder's weights must get gradients"


@pytest.mark.slow
def test_stft_encoder_experiment_trains_checkpoints_and_resumes(tmp_path):
    from pathlib import Path

    from advaudio import checkpoints
    from advaudio import run as run_lib

    experiment = Path(__file__).resolve().parents[1] / "experiments" / "stft_encoder.py"
    assert run_lib.main([str(experiment), "--smoke", "--set", "data.default_minutes=0.1", "--set",
                         f"data.cache_dir={tmp_path / 'cache'}", "--out", str(tmp_path)]) == 0
    (run_dir,) = [p for p in tmp_path.glob("stft_encoder/*") if p.is_dir()]
    generator, _ = checkpoints.load_generator(run_dir, "last")
    assert isinstance(generator.encoder, STFTConvEncoder)  # the checkpoint holds the encoder's weights
    # The resume state restores the encoder: a fresh trainer restored from it has epoch 2's encoder.
    from advaudio import config as config_lib
    from advaudio import training
    from advaudio.models import build_generator
    from advaudio.objectives import build_trainer

    cfg = config_lib.load_json(run_dir / "config.json")
    fresh = build_generator(cfg.model, cfg.data)
    state = training.TrainingState(build_trainer(cfg, fresh), run_dir / "checkpoints" / "state", 3)
    assert state.restore_latest() == 2
    for a, b in zip(fresh.encoder.get_weights(), generator.encoder.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert run_lib.main(["--resume", str(run_dir), "--set", "train.epochs=3"]) == 0
    assert len((run_dir / "log.csv").read_text().splitlines()) == 4  # header + 3 epochs
    resumed, _ = checkpoints.load_generator(run_dir, "last")
    assert any(np.abs(a - b).max() > 0 for a, b in zip(resumed.encoder.get_weights(), generator.encoder.get_weights()))


@pytest.mark.slow
def test_mirrored_on_two_cpus_matches_single_device_with_the_encoder(tmp_path):
    import json
    import os
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    script = tmp_path / "mirrored.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys
        import numpy as np, tensorflow as tf, keras
        from advaudio import config as C, training
        from advaudio.models import build_generator
        from advaudio.objectives import build_trainer
        keras.config.set_floatx("float64")
        keras.config.set_dtype_policy("float64")
        cfg = C.Experiment()
        cfg.data.frame_length, cfg.data.sequence_length, cfg.data.batch_size = {F}, 4, 4
        cfg.model.units, cfg.model.encoder, cfg.model.encoder_params = 4, "stft_conv", {PARAMS!r}
        cfg.train.distribute = "mirrored"
        mirrored = training.make_strategy(cfg.train)
        x = np.random.default_rng(0).standard_normal((32, 4, {F}))  # float64
        make = lambda epoch: tf.data.Dataset.from_tensor_slices((x, np.roll(x, -1, 1))).repeat().batch(4, drop_remainder=True)
        out = {{}}
        for name, strategy in (("default", tf.distribute.get_strategy()), ("mirrored", mirrored)):
            keras.utils.set_random_seed(0)
            with strategy.scope():
                generator = build_generator(cfg.model, cfg.data)
                trainer = build_trainer(cfg, generator)
            history = training.Loop(trainer, strategy).fit(make, None, epochs=1, steps_per_epoch=3, verbose=0)
            out[name] = {{"loss": history[0]["loss"], "replicas": strategy.num_replicas_in_sync,
                         "encoder": [w.tolist() for w in generator.encoder.get_weights()],
                         "dtypes": sorted({{str(w.dtype) for w in generator.get_weights()}})}}
        json.dump(out, open(sys.argv[1], "w"))
    """))
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "out.json")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["mirrored"]["replicas"] == 2
    # Sums over 2 replicas vs 1 device differ in order; in float64 (as tests/test_training.py) the rounding
    # is ~1e-16, so a tight tolerance still means the same computation.
    assert out["mirrored"]["loss"] == pytest.approx(out["default"]["loss"], rel=1e-10)
    assert out["default"]["dtypes"] == out["mirrored"]["dtypes"] == ["float64"]
    for a, b in zip(out["default"]["encoder"], out["mirrored"]["encoder"]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)

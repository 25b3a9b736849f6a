"""The stochastic generator (model.noise_dim, issue #13 item 1): noise input, trainers' noise, generation temperature."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from advaudio import config as C
from advaudio import synthesis
from advaudio.models import FrameGRU, build_generator
from advaudio.objectives import base, build_trainer

FRAME, UNITS, NOISE = 8, 4, 3


def noisy_model(cell="gru", noise_dim=NOISE, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    model = FrameGRU(FRAME, UNITS, 2, cell=cell, noise_dim=noise_dim, **kwargs)
    model.build((None, None, FRAME))
    return model


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(0).normal(size=(2, 5, FRAME)).astype("float32")


def test_noise_dim_zero_is_the_deterministic_model_bit_for_bit(frames):
    plain = FrameGRU(FRAME, UNITS, 2)
    plain.build((None, None, FRAME))
    zero = FrameGRU(FRAME, UNITS, 2, noise_dim=0)
    zero.build((None, None, FRAME))
    assert [w.shape for w in zero.weights] == [w.shape for w in plain.weights]
    zero.set_weights(plain.get_weights())
    np.testing.assert_array_equal(zero(frames).numpy(), plain(frames).numpy())
    assert zero.get_config()["noise_dim"] == 0
    with pytest.raises(ValueError, match="noise_dim=0"):
        zero(frames, noise=tf.ones((2, 5, 2)))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.slow
def test_noise_is_concatenated_to_the_input_frame(frames, cell):
    model = noisy_model(cell)
    assert model.cells[0].kernel.shape[0] == FRAME + NOISE  # the first layer reads [frame, noise]
    noise = model.draw_noise(2, 5, tf.constant([1, 2]))
    assert noise.shape == (2, 5, NOISE)
    # The same as a Keras-layer model fed the concatenation by hand.
    keras_path = FrameGRU(FRAME, UNITS, 2, cell=cell, noise_dim=NOISE, recurrence="keras")
    keras_path.build((None, None, FRAME))
    keras_path.set_weights(model.get_weights())
    got = model(frames, noise=noise).numpy()
    np.testing.assert_allclose(keras_path(frames, noise=noise).numpy(), got, rtol=1e-5, atol=1e-6)
    x = tf.concat([frames, noise], -1)
    h = x
    for layer in keras_path.recurrent_layers:
        h = layer(h)[0]
    np.testing.assert_allclose(keras_path.head(h).numpy(), got, rtol=1e-5, atol=1e-6)
    # noise=None means zeros (the mean behaviour); different noise, different output.
    np.testing.assert_array_equal(model(frames).numpy(), model(frames, noise=tf.zeros((2, 5, NOISE))).numpy())
    assert np.abs(model(frames, noise=2 * noise).numpy() - got).max() > 1e-4
    # step() takes one frame's noise and agrees with the sequence call.
    states = model.initial_states(2)
    for t in range(5):
        pred, states = model.step(frames[:, t], states, noise=noise[:, t])
        np.testing.assert_allclose(pred.numpy(), got[:, t], rtol=1e-5, atol=1e-6)


def test_draw_noise_is_stateless_standard_normal():
    model = noisy_model()
    a = model.draw_noise(64, 50, tf.constant([3, 4])).numpy()
    np.testing.assert_array_equal(a, model.draw_noise(64, 50, tf.constant([3, 4])).numpy())
    assert not np.array_equal(a, model.draw_noise(64, 50, tf.constant([3, 5])).numpy())
    assert abs(a.mean()) < 0.05 and abs(a.std() - 1) < 0.05  # 9600 draws: 5 standard errors


def test_noisy_model_saves_and_loads(tmp_path, frames):
    model = noisy_model()
    noise = model.draw_noise(2, 5, tf.constant([0, 1]))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.noise_dim == NOISE
    np.testing.assert_allclose(loaded(frames, noise=noise).numpy(), model(frames, noise=noise).numpy(), atol=1e-6)


def tiny_experiment(regime, **objective):
    cfg = C.Experiment(
        data=C.Data(frame_length=FRAME, sequence_length=6, batch_size=2),
        model=C.Model(units=UNITS, layers=2, noise_dim=NOISE),
        objective=C.Objective(name="spectral", regime=regime, loss_weights={"rec/mse": 1.0, "spec/sc": 1.0},
                              stft={"fft_sizes": (8,), "hop_lengths": (2,), "win_lengths": (8,)}, **objective),
    )
    return cfg


@pytest.mark.parametrize("regime,objective", [
    ("teacher_forcing", {}),
    ("scheduled_sampling", {"sampling_probability": 0.5, "sampling_schedule": "constant"}),
    ("free_running", {"free_run_prefix": 2, "free_run_steps": 3}),
])
@pytest.mark.slow
def test_trainers_feed_noise_from_their_stateless_seed_in_every_regime(regime, objective, monkeypatch):
    cfg = tiny_experiment(regime, **objective)
    keras.utils.set_random_seed(0)
    trainer = build_trainer(cfg, build_generator(cfg.model, cfg.data))
    seen = []
    draw = trainer.generator.draw_noise

    def spy(batch, steps, seed):
        seen.append(np.asarray(seed))
        return draw(batch, steps, seed)

    monkeypatch.setattr(trainer.generator, "draw_noise", spy)
    x = np.random.default_rng(1).normal(size=(2, 6, FRAME)).astype("float32")
    first, _ = trainer.regime_frames(x, x, training=True)
    again, _ = trainer.regime_frames(x, x, training=True)
    np.testing.assert_array_equal(first.numpy(), again.numpy())  # stateless: same step, same noise
    assert seen and all(np.array_equal(s, trainer._stateless_seed(base.GENERATOR_NOISE_SEED_SALT)) for s in seen)
    # The noise matters: without it (zeros) the predictions differ.
    monkeypatch.setattr(trainer.generator, "draw_noise", lambda b, s, seed: tf.zeros((b, s, NOISE)))
    assert np.abs(trainer.regime_frames(x, x, training=True)[0].numpy() - first.numpy()).max() > 1e-5
    monkeypatch.setattr(trainer.generator, "draw_noise", draw)
    logs = trainer.train_step((tf.constant(x), tf.constant(x)))
    assert np.isfinite(float(logs["loss"]))


@pytest.mark.parametrize("fold", [True, False])
@pytest.mark.slow
def test_generation_draws_noise_per_step_from_the_seed(fold):
    model = noisy_model()
    seeds = np.random.default_rng(2).normal(size=(2, 3, FRAME)).astype("float32")
    kwargs = dict(feedback="raw", fold=fold)
    a = synthesis.rollout_frames(model, seeds, 6, FRAME, seed=5, **kwargs)
    np.testing.assert_array_equal(a, synthesis.rollout_frames(model, seeds, 6, FRAME, seed=5, **kwargs))
    np.testing.assert_allclose(synthesis.rollout_frames(model, seeds, 6, FRAME, seed=5, chunk_frames=4, **kwargs), a,
                               rtol=1e-5, atol=1e-6)
    assert np.abs(synthesis.rollout_frames(model, seeds, 6, FRAME, seed=6, **kwargs) - a).max() > 1e-4
    # Hand reference: the Keras layers stepped with the same per-step draws, scaled by the temperature.
    temperature = 0.5
    got = synthesis.rollout_frames(model, seeds, 6, FRAME, seed=5, temperature=temperature, **kwargs)
    salt = synthesis.MODEL_NOISE_SEED_SALT
    warm = tf.random.stateless_normal((2, 3, NOISE), seed=[5 + salt, -1], alg="philox")
    preds, states = model.call_with_states(seeds, noise=temperature * warm)
    pred, expected = preds[:, -1], [preds[:, -1].numpy()]
    for s in range(5):
        z = tf.random.stateless_normal((2, NOISE), seed=[5 + salt, s], alg="philox")
        pred, states = model.step(pred, states, noise=temperature * z)
        expected.append(pred.numpy())
    np.testing.assert_allclose(got, np.stack(expected, 1), rtol=1e-4, atol=1e-5)
    # Seed-frame and loop noise are drawn outside XLA: the same seed gives the same audio without it.
    plain = synthesis.rollout_frames(model, seeds, 6, FRAME, seed=5, temperature=temperature, jit_compile=False, **kwargs)
    np.testing.assert_allclose(plain, got, rtol=1e-4, atol=1e-5)
    # Temperature 0 is the mean behaviour: zeros in, whatever the seed.
    cold = synthesis.rollout_frames(model, seeds, 6, FRAME, seed=5, temperature=0.0, **kwargs)
    np.testing.assert_array_equal(cold, synthesis.rollout_frames(model, seeds, 6, FRAME, seed=9, temperature=0.0, **kwargs))
    preds, states = model.call_with_states(seeds)
    pred, expected = preds[:, -1], [preds[:, -1].numpy()]
    for _ in range(5):
        pred, states = model.step(pred, states)
        expected.append(pred.numpy())
    np.testing.assert_allclose(cold, np.stack(expected, 1), rtol=1e-4, atol=1e-5)

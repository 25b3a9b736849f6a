"""Per-layer learned-scale noise (model.layer_noise, StyleGAN's noise inputs; issue #13 item 1's option).

The folded training unrolls with layer noise are checked against step() in tests/test_unrolls.py.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

from advaudio import config as C
from advaudio import synthesis
from advaudio.losses import check_energy_config
from advaudio.models import FrameGRU, build_generator
from advaudio.objectives import build_trainer

FRAME, UNITS, LAYERS, NOISE = 8, 4, 2, 3


def layer_noise_model(cell="gru", noise_dim=NOISE, recurrence="auto", scales=True):
    keras.utils.set_random_seed(0)
    model = FrameGRU(FRAME, UNITS, LAYERS, cell=cell, noise_dim=noise_dim, layer_noise=True, recurrence=recurrence)
    model.build((None, None, FRAME))
    if scales:  # learned scales start at zero; give them values so the noise shows
        for i, scale in enumerate(model.noise_scales):
            scale.assign(np.random.default_rng(10 + i).uniform(0.2, 0.8, UNITS).astype("float32"))
    return model


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(0).normal(size=(2, 5, FRAME)).astype("float32")


def test_layer_noise_widens_the_noise_and_starts_silent(frames):
    model = layer_noise_model(scales=False)
    assert model.noise_width == NOISE + LAYERS * UNITS
    assert [tuple(s.shape) for s in model.noise_scales] == [(UNITS,)] * LAYERS
    assert all(np.all(s.numpy() == 0) for s in model.noise_scales)  # zero-initialised, as StyleGAN's
    plain = FrameGRU(FRAME, UNITS, LAYERS, noise_dim=NOISE)
    plain.build((None, None, FRAME))
    plain.set_weights([w.numpy() for w in model.weights if "noise_scale" not in w.path])
    noise = model.draw_noise(2, 5, tf.constant([1, 2]))
    assert noise.shape == (2, 5, model.noise_width)
    # Zero scales: the layer noise has no effect, the input noise still does.
    np.testing.assert_allclose(model(frames, noise=noise).numpy(), plain(frames, noise=noise[..., :NOISE]).numpy(),
                               rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"noise_width=11\] \(noise_dim=3 \+ 2 layers x 4 units of layer noise\)"):
        model(frames, noise=noise[..., :NOISE])


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("recurrence", ["fused", "keras"])
@pytest.mark.slow
def test_layer_noise_is_added_to_each_layers_output_not_its_state(frames, cell, recurrence):
    model = layer_noise_model(cell, recurrence=recurrence)
    noise = model.draw_noise(2, 5, tf.constant([3, 4]))
    got, final_states = model.call_with_states(frames, noise=noise)
    # Hand reference on Keras' layers: layer i's output sequence + scale_i * noise_i feeds layer i + 1 and the head.
    x = tf.concat([frames, noise[..., :NOISE]], -1)
    layer_noise = tf.reshape(noise[..., NOISE:], (2, 5, LAYERS, UNITS))
    expected_states = []
    for i, layer in enumerate(model.recurrent_layers):
        out = layer(x)
        expected_states.extend(out[1:])
        x = out[0] + model.noise_scales[i] * layer_noise[:, :, i]
    np.testing.assert_allclose(got.numpy(), model.head(x).numpy(), rtol=1e-5, atol=1e-5)
    for a, b in zip(final_states, expected_states):  # the recurrent states carry no noise
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)
    # The noise matters, and step() agrees with the sequence call.
    assert np.abs(model(frames, noise=noise * 2).numpy() - got.numpy()).max() > 1e-3
    states = model.initial_states(2)
    for t in range(5):
        pred, states = model.step(frames[:, t], states, noise=noise[:, t])
        np.testing.assert_allclose(pred.numpy(), got[:, t].numpy(), rtol=1e-5, atol=1e-5)


def test_layer_noise_model_saves_and_loads(tmp_path, frames):
    model = layer_noise_model()
    noise = model.draw_noise(2, 5, tf.constant([0, 1]))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.layer_noise and loaded.noise_width == model.noise_width
    np.testing.assert_array_equal(loaded.noise_scales[1].numpy(), model.noise_scales[1].numpy())
    np.testing.assert_allclose(loaded(frames, noise=noise).numpy(), model(frames, noise=noise).numpy(), atol=1e-6)


@pytest.mark.parametrize("fold", [True, False])
@pytest.mark.slow
def test_generation_draws_layer_noise_per_step(fold):
    model = layer_noise_model(noise_dim=0)
    seeds = np.random.default_rng(2).normal(size=(2, 3, FRAME)).astype("float32")
    kwargs = dict(feedback="raw", fold=fold)
    got = synthesis.rollout_frames(model, seeds, 6, FRAME, seed=5, temperature=0.5, **kwargs)
    salt = synthesis.MODEL_NOISE_SEED_SALT
    width = LAYERS * UNITS
    warm = tf.random.stateless_normal((2, 3, width), seed=[5 + salt, -1], alg="philox")
    preds, states = model.call_with_states(seeds, noise=0.5 * warm)
    pred, expected = preds[:, -1], [preds[:, -1].numpy()]
    for s in range(5):
        z = tf.random.stateless_normal((2, width), seed=[5 + salt, s], alg="philox")
        pred, states = model.step(pred, states, noise=0.5 * z)
        expected.append(pred.numpy())
    np.testing.assert_allclose(got, np.stack(expected, 1), rtol=1e-4, atol=1e-5)
    assert np.abs(synthesis.rollout_frames(model, seeds, 6, FRAME, seed=6, temperature=0.5, **kwargs) - got).max() > 1e-4


def layer_noise_experiment(noise_dim=0):
    return C.Experiment(
        data=C.Data(frame_length=FRAME, sequence_length=6, batch_size=2),
        model=C.Model(units=UNITS, layers=LAYERS, noise_dim=noise_dim, layer_noise=True),
        objective=C.Objective(name="spectral", regime="free_running", free_run_prefix=2, free_run_steps=3,
                              loss_weights={"rec/mse": 1.0, "spec/energy": 1.0},
                              stft={"fft_sizes": (8,), "hop_lengths": (2,), "win_lengths": (8,)}),
    )


@pytest.mark.slow
def test_the_energy_term_trains_the_noise_scales_of_a_model_with_layer_noise_alone():
    cfg = layer_noise_experiment(noise_dim=0)
    assert check_energy_config(cfg) == []  # layer noise alone makes the generator stochastic
    cfg.model.layer_noise = False
    assert check_energy_config(cfg)
    cfg.model.layer_noise = True
    keras.utils.set_random_seed(0)
    trainer = build_trainer(cfg, build_generator(cfg.model, cfg.data))
    x = tf.constant(np.random.default_rng(1).normal(size=(2, 6, FRAME)).astype("float32"))
    before = [s.numpy().copy() for s in trainer.generator.noise_scales]
    for _ in range(3):
        logs = trainer.train_step((x, x))
    assert np.isfinite(float(logs["loss"]))
    # From zero, the scales get finite gradients and move.
    assert all(np.isfinite(s.numpy()).all() and np.abs(s.numpy() - b).max() > 0
               for s, b in zip(trainer.generator.noise_scales, before))

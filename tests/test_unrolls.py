"""The training unrolls of objectives/base.py: folded feedback equals the step-by-step unroll (float64), gradients included."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from advaudio.models import FrameGRU
from advaudio.objectives import base

FRAME, UNITS, BATCH, STEPS = 6, 5, 3, 5


def model(cell, layers, skip=False, noise_dim=0, layer_noise=False):
    keras.utils.set_random_seed(0)
    m = FrameGRU(FRAME, UNITS, layers, cell=cell, skip_connections=skip, gate_bias=0.3, noise_dim=noise_dim,
                 layer_noise=layer_noise)
    m.build((None, None, FRAME))
    for i, v in enumerate(m.weights):  # non-trivial values everywhere, biases (and noise scales) included
        v.assign(np.random.default_rng(i).normal(scale=0.5, size=v.shape))
    return m


def value_and_gradients(generator, fn, extra):
    """fn() -> predictions; returns (predictions, d sum(sin(preds)) / d (weights + extra))."""
    with tf.GradientTape() as tape:
        tape.watch(extra)
        preds = fn()
        loss = tf.reduce_sum(tf.sin(preds))
    return [preds] + tape.gradient(loss, generator.trainable_variables + extra)


def assert_all_close(got, expected, tol):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a is not None and b is not None
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


CASES = [("gru", 1, 0, False), ("gru", 2, 0, False), ("gru", 3, 2, False), ("lstm", 1, 2, False),
         ("lstm", 2, 0, False), ("lstm", 3, 0, False),
         ("gru", 2, 0, True), ("gru", 3, 2, True), ("lstm", 2, 2, True)]  # layer_noise: noise on every layer


@pytest.mark.parametrize("cell,layers,noise_dim,layer_noise", CASES)
@pytest.mark.slow
def test_folded_free_run_equals_step_by_step(float64, cell, layers, noise_dim, layer_noise):
    g = model(cell, layers, noise_dim=noise_dim, layer_noise=layer_noise)
    rng = np.random.default_rng(1)
    first = tf.constant(rng.normal(size=(BATCH, FRAME)))
    states = [tf.constant(rng.normal(size=(BATCH, UNITS))) for _ in range(layers * g.states_per_layer)]
    noise = tf.constant(rng.normal(size=(BATCH, STEPS, g.noise_width))) if g.noise_width else None
    extra = [first] + states
    folded = value_and_gradients(g, lambda: base.free_run(g, first, states, STEPS, noise=noise), extra)
    plain = value_and_gradients(g, lambda: base.free_run(g, first, states, STEPS, noise=noise, fold=False), extra)
    assert_all_close(folded, plain, 1e-11)
    # The reference itself: step() fed its own predictions.
    frame, s, preds = first, states, []
    for k in range(STEPS):
        frame, s = g.step(frame, s, noise=None if noise is None else noise[:, k])
        preds.append(frame)
    np.testing.assert_allclose(folded[0].numpy(), tf.stack(preds, 1).numpy(), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("cell,layers,noise_dim,layer_noise", CASES)
@pytest.mark.slow
def test_folded_scheduled_sampling_equals_step_by_step(float64, cell, layers, noise_dim, layer_noise):
    g = model(cell, layers, noise_dim=noise_dim, layer_noise=layer_noise)
    rng = np.random.default_rng(2)
    inputs = tf.constant(rng.normal(size=(BATCH, STEPS, FRAME)))
    mask = tf.constant(rng.random((BATCH, STEPS)) < 0.5)
    noise = tf.constant(rng.normal(size=(BATCH, STEPS, g.noise_width))) if g.noise_width else None
    folded = value_and_gradients(g, lambda: base.scheduled_sampling_unroll(g, inputs, mask, noise=noise), [inputs])
    plain = value_and_gradients(
        g, lambda: base.scheduled_sampling_unroll(g, inputs, mask, noise=noise, fold=False), [inputs]
    )
    assert_all_close(folded, plain, 1e-11)
    # Hand reference: the true frame where the mask is False, the previous prediction where True.
    s, previous, preds = g.initial_states(BATCH), None, []
    for t in range(STEPS):
        frame = inputs[:, t] if t == 0 else tf.where(mask[:, t, None], previous, inputs[:, t])
        previous, s = g.step(frame, s, noise=None if noise is None else noise[:, t])
        preds.append(previous)
    np.testing.assert_allclose(folded[0].numpy(), tf.stack(preds, 1).numpy(), rtol=1e-11, atol=1e-11)
    never = base.scheduled_sampling_unroll(g, inputs, tf.zeros_like(mask), noise=noise)
    np.testing.assert_allclose(never.numpy(), g(inputs, noise=noise).numpy(), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.slow
def test_folded_unrolls_compile_and_match_in_float32(cell):
    """The traced (training) path in float32: sums in a different order, so a float32 tolerance
    derived from the products' lengths (frame_length + units terms, carried over STEPS steps)."""
    g = model(cell, 2)
    g_plain = model(cell, 2)
    rng = np.random.default_rng(3)
    inputs = tf.constant(rng.normal(size=(BATCH, STEPS, FRAME)).astype("float32"))
    mask = tf.constant(rng.random((BATCH, STEPS)) < 0.5)
    folded = tf.function(lambda: base.scheduled_sampling_unroll(g, inputs, mask))()
    plain = base.scheduled_sampling_unroll(g_plain, inputs, mask, fold=False)
    bound = (FRAME + UNITS) * STEPS * np.finfo(np.float32).eps * max(1.0, float(np.abs(plain).max()))
    np.testing.assert_allclose(folded.numpy(), plain.numpy(), rtol=0, atol=bound)


def test_skip_connections_fall_back_to_step_by_step(float64):
    g = model("gru", 2, skip=True)
    assert not g.foldable
    rng = np.random.default_rng(4)
    first = tf.constant(rng.normal(size=(BATCH, FRAME)))
    states = g.initial_states(BATCH)
    np.testing.assert_array_equal(
        base.free_run(g, first, states, STEPS).numpy(), base.free_run(g, first, states, STEPS, fold=False).numpy()
    )
    inputs = tf.constant(rng.normal(size=(BATCH, STEPS, FRAME)))
    mask = tf.constant(rng.random((BATCH, STEPS)) < 0.5)
    np.testing.assert_array_equal(
        base.scheduled_sampling_unroll(g, inputs, mask).numpy(),
        base.scheduled_sampling_unroll(g, inputs, mask, fold=False).numpy(),
    )
    with pytest.raises(ValueError, match="cannot fold"):
        base.free_run(g, first, states, STEPS, fold=True)


@pytest.mark.parametrize("cell,layers,noise_dim,layer_noise,skip", [
    ("gru", 2, 2, False, False), ("lstm", 2, 0, True, False), ("gru", 3, 2, True, False), ("gru", 2, 2, False, True),
])
@pytest.mark.slow
def test_free_run_from_the_prefix_features_equals_free_run_from_their_prediction(
        float64, cell, layers, noise_dim, layer_noise, skip):
    """The free-running trainer starts the rollout from the prefix's last head input, never forming the
    prefix's predictions; the rollout and every gradient (weights, prefix) equal starting from head(features)."""
    g = model(cell, layers, skip=skip, noise_dim=noise_dim, layer_noise=layer_noise)
    rng = np.random.default_rng(5)
    prefix = tf.constant(rng.normal(size=(BATCH, 3, FRAME)))
    noise = tf.constant(rng.normal(size=(BATCH, 3 + STEPS, g.noise_width))) if g.noise_width else None

    def rollout(from_features, fold):
        features, states = g.features_with_states(prefix, noise=None if noise is None else noise[:, :3])
        rest = None if noise is None else noise[:, 3:]
        if from_features:
            return base.free_run(g, None, states, STEPS, noise=rest, fold=fold, first_features=features[:, -1])
        return base.free_run(g, g.head(features)[:, -1], states, STEPS, noise=rest, fold=fold)

    expected = value_and_gradients(g, lambda: rollout(False, False), [prefix])
    for fold in (None, False):  # folded when the model allows (not with skip connections), and step by step
        assert_all_close(value_and_gradients(g, lambda: rollout(True, fold), [prefix]), expected, 1e-11)
    # call_with_states is the head on these features.
    features, states = g.features_with_states(prefix)
    preds, states_again = g.call_with_states(prefix)
    np.testing.assert_array_equal(g.head(features).numpy(), preds.numpy())
    assert_all_close(states, states_again, 0)
    with pytest.raises(ValueError, match="first_frame or first_features"):
        base.free_run(g, prefix[:, -1], states, STEPS, first_features=features[:, -1])

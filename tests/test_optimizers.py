"""FusedAdam: Keras' Adam arithmetic through TensorFlow's fused kernel; the trainers use it."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from advaudio import config as C
from advaudio.models import build_generator
from advaudio.objectives import build_trainer
from advaudio.optimizers import FusedAdam

SHAPES = [(5, 3), (3,), (2, 4, 2)]


@pytest.fixture
def fused_calls(monkeypatch):
    """Counts calls of the fused kernel (the optimizers run eagerly here, so the spy sees each one)."""
    calls = []
    kernel = tf.raw_ops.ResourceApplyAdam

    def spy(**kwargs):
        calls.append(kwargs["grad"].shape)
        return kernel(**kwargs)

    monkeypatch.setattr(tf.raw_ops, "ResourceApplyAdam", spy)
    return calls


def _initial_weights(rng):
    return [rng.normal(size=s) for s in SHAPES]


def _train(optimizer, steps=6, dtype="float64"):
    """Applies the same random gradients to fresh variables (`_initial_weights` of seed 0); returns (weights,
    first and second moments)."""
    rng = np.random.default_rng(0)
    variables = [keras.Variable(w, dtype=dtype) for w in _initial_weights(rng)]
    optimizer.build(variables)
    for _ in range(steps):
        optimizer.apply([tf.constant(rng.normal(size=s), dtype=dtype) for s in SHAPES], variables)
    moments = [np.asarray(m) for m in optimizer._momentums] + [np.asarray(v) for v in optimizer._velocities]
    return [np.asarray(v) for v in variables], moments


def test_fused_adam_equals_keras_adam(fused_calls):
    options = dict(learning_rate=0.05, beta_1=0.8, beta_2=0.95, epsilon=1e-6)
    want_weights, want_moments = _train(keras.optimizers.Adam(**options))
    assert not fused_calls
    got_weights, got_moments = _train(FusedAdam(**options))
    assert len(fused_calls) == 6 * len(SHAPES)  # every weight, every step, through the kernel
    for got, want in zip(got_weights + got_moments, want_weights + want_moments):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    # the steps moved the weights (an optimizer that did nothing would not match Keras' Adam above)
    initial = _initial_weights(np.random.default_rng(0))
    assert np.abs(want_weights[0] - initial[0]).max() > 0.05


def test_float32_agrees_to_rounding(fused_calls):
    want, _ = _train(keras.optimizers.Adam(learning_rate=0.01), dtype="float32")
    got, _ = _train(FusedAdam(learning_rate=0.01), dtype="float32")
    assert fused_calls
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_amsgrad_takes_keras_update(fused_calls):
    want, want_moments = _train(keras.optimizers.Adam(learning_rate=0.05, amsgrad=True))
    got, got_moments = _train(FusedAdam(learning_rate=0.05, amsgrad=True))
    assert not fused_calls
    for g, w in zip(got + got_moments, want + want_moments):
        np.testing.assert_array_equal(g, w)


def test_state_written_by_keras_adam_restores(tmp_path):
    """Run folders trained before FusedAdam keep resuming: the optimizer's variables are Keras' Adam's."""
    rng = np.random.default_rng(1)
    variables = [keras.Variable(rng.normal(size=s)) for s in SHAPES]
    old = keras.optimizers.Adam(learning_rate=0.05)
    old.build(variables)
    old.apply([tf.constant(rng.normal(size=s), dtype=variables[0].dtype) for s in SHAPES], variables)
    path = tf.train.Checkpoint(optimizer=old).write(str(tmp_path / "ckpt"))
    new = FusedAdam(learning_rate=0.05)
    new.build(variables)
    tf.train.Checkpoint(optimizer=new).read(path).assert_existing_objects_matched()
    assert int(new.iterations) == 1
    for a, b in zip(new.variables, old.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_trainers_use_it():
    from test_gan_denoise import tiny_experiment

    cfg = C.Experiment(data=C.Data(frame_length=8, sequence_length=3, batch_size=2), model=C.Model(units=4))
    trainer = build_trainer(cfg, build_generator(cfg.model, cfg.data))
    assert isinstance(trainer.generator_optimizer, FusedAdam)
    gan_cfg = tiny_experiment()
    gan = build_trainer(gan_cfg, build_generator(gan_cfg.model, gan_cfg.data))
    assert isinstance(gan.generator_optimizer, FusedAdam)
    assert isinstance(gan.discriminator_optimizer, FusedAdam)

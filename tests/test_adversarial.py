"""Tests for advaudio.adversarial: every loss against hand-computed values, the gradient penalty, feature matching."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from advaudio import adversarial
from advaudio.registry import ADVERSARIAL_LOSSES

# Two sub-discriminators with different logit shapes: values 2, 0.5 and -1, 0.
LOGITS = [np.array([[2.0], [0.5]], "float32"), np.array([[[-1.0], [0.0]]], "float32")]


def softplus(x):
    return math.log(1.0 + math.exp(x))


# name -> (real side, fake side, generator), each summed over the two sub-discriminators' means.
EXPECTED = {
    "least_squares": (
        ((2 - 1) ** 2 + (0.5 - 1) ** 2) / 2 + ((-1 - 1) ** 2 + (0 - 1) ** 2) / 2,  # 3.125
        (2**2 + 0.5**2) / 2 + ((-1) ** 2 + 0**2) / 2,  # 2.625
        ((2 - 1) ** 2 + (0.5 - 1) ** 2) / 2 + ((-1 - 1) ** 2 + (0 - 1) ** 2) / 2,
    ),
    "hinge": (
        (max(0, 1 - 2) + max(0, 1 - 0.5)) / 2 + (max(0, 1 + 1) + max(0, 1 - 0)) / 2,  # 1.75
        (max(0, 1 + 2) + max(0, 1 + 0.5)) / 2 + (max(0, 1 - 1) + max(0, 1 + 0)) / 2,  # 2.75
        -((2 + 0.5) / 2 + (-1 + 0) / 2),  # -0.75
    ),
    "non_saturating": (
        (softplus(-2) + softplus(-0.5)) / 2 + (softplus(1) + softplus(0)) / 2,
        (softplus(2) + softplus(0.5)) / 2 + (softplus(-1) + softplus(0)) / 2,
        (softplus(-2) + softplus(-0.5)) / 2 + (softplus(1) + softplus(0)) / 2,
    ),
    "wasserstein_gp": (
        -((2 + 0.5) / 2 + (-1 + 0) / 2),  # -0.75
        (2 + 0.5) / 2 + (-1 + 0) / 2,  # 0.75
        -((2 + 0.5) / 2 + (-1 + 0) / 2),
    ),
}

def test_registry_names_every_loss():
    assert ADVERSARIAL_LOSSES.names() == sorted(EXPECTED)


def test_unknown_loss_lists_the_valid_ones():
    with pytest.raises(KeyError, match="least_squares"):
        adversarial.get("least_sqaures")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_named_loss_matches_hand_computed_values(name):
    game = adversarial.get(name)
    real, fake, gen = EXPECTED[name]
    assert float(game.real(LOGITS)) == pytest.approx(real, rel=1e-6)
    assert float(game.fake(LOGITS)) == pytest.approx(fake, rel=1e-6)
    assert float(game.generator(LOGITS)) == pytest.approx(gen, rel=1e-6)
    assert float(game.discriminator(LOGITS, LOGITS)) == pytest.approx(real + fake, rel=1e-6)
    assert game.gradient_penalty == (name == "wasserstein_gp")


@settings(max_examples=25, deadline=None)
@given(
    hnp.arrays("float32", st.tuples(st.integers(1, 4), st.integers(1, 5)), elements=st.floats(-30, 30, width=32)),
    st.sampled_from(sorted(EXPECTED)),
)
def test_losses_are_finite_and_match_numpy_formulas(logits, name):
    x = logits.astype("float64")
    real_side = {
        "least_squares": (x - 1) ** 2,
        "hinge": np.maximum(0, 1 - x),
        "non_saturating": np.logaddexp(0, -x),
        "wasserstein_gp": -x,
    }[name]
    fake_side = {
        "least_squares": x**2,
        "hinge": np.maximum(0, 1 + x),
        "non_saturating": np.logaddexp(0, x),
        "wasserstein_gp": x,
    }[name]
    game = adversarial.get(name)
    real, fake = float(game.real([logits])), float(game.fake([logits]))
    assert math.isfinite(real) and math.isfinite(fake)
    assert real == pytest.approx(real_side.mean(), rel=1e-4, abs=1e-4)
    assert fake == pytest.approx(fake_side.mean(), rel=1e-4, abs=1e-4)


def test_probability_real_clips_least_squares_and_squashes_the_others():
    x = np.array([-0.5, 0.25, 1.5], "float32")
    np.testing.assert_allclose(adversarial.get("least_squares").probability_real(x), [0.0, 0.25, 1.0])
    np.testing.assert_allclose(adversarial.get("hinge").probability_real(x), 1 / (1 + np.exp(-x)), rtol=1e-6)


@keras.saving.register_keras_serializable(package="advaudio_tests")
class _LinearCritic(keras.Model):
    """D(x) = 2 x at every position: the per-example score mean(2 x) has gradient 2 / T per sample."""

    def call(self, audio, training=False):
        return [[audio * 2.0]]


@pytest.mark.parametrize("samples, expected", [(4, 0.0), (16, 0.25)])
def test_gradient_penalty_of_a_linear_critic(samples, expected):
    # ||grad|| = sqrt(T) * 2 / T = 2 / sqrt(T): 1 for T = 4 (no penalty), 0.5 for T = 16 ((0.5 - 1)^2 = 0.25).
    rng = np.random.default_rng(0)
    real = rng.normal(size=(3, samples, 1)).astype("float32")
    fake = rng.normal(size=(3, samples, 1)).astype("float32")
    epsilon = rng.uniform(size=(3, 1, 1)).astype("float32")
    penalty = adversarial.gradient_penalty(_LinearCritic(), real, fake, epsilon)
    assert float(penalty) == pytest.approx(expected, abs=1e-5)


def test_feature_matching_hand_computed_and_ignores_logits():
    real = [[np.array([[1.0, 2.0], [3.0, 4.0]], "float32"), np.array([[5.0]], "float32")]]
    fake = [[np.array([[1.0, 1.0], [1.0, 1.0]], "float32"), np.array([[-9.0]], "float32")]]
    # one feature map (the logits are skipped): mean(|0|, |1|, |2|, |3|) = 1.5
    assert float(adversarial.feature_matching(real, fake)) == pytest.approx(1.5)
    two_subs_real = real + [[np.zeros((1, 3), "float32"), np.zeros((1, 1), "float32")]]
    two_subs_fake = fake + [[np.full((1, 3), 0.5, "float32"), np.zeros((1, 1), "float32")]]
    assert float(adversarial.feature_matching(two_subs_real, two_subs_fake)) == pytest.approx((1.5 + 0.5) / 2)


def test_feature_matching_trains_only_the_generated_side():
    real = tf.Variable([[1.0, 2.0]])
    fake = tf.Variable([[0.0, 0.0]])
    with tf.GradientTape() as tape:
        loss = adversarial.feature_matching([[real, real[:, :1]]], [[fake, fake[:, :1]]])
    grad_real, grad_fake = tape.gradient(loss, [real, fake])
    assert grad_real is None
    np.testing.assert_allclose(grad_fake.numpy(), [[-0.5, -0.5]])

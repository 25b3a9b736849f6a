"""Adversarial losses (least squares, hinge, non-saturating, Wasserstein-GP) and feature matching.

Every loss works on a discriminator's output (a list over sub-discriminators
of feature-map lists whose last item is the logits, see
`advaudio.discriminators`); each sub-discriminator's term is the mean over its
logits, and the terms are summed over sub-discriminators (HiFi-GAN, MelGAN).
`registry.ADVERSARIAL_LOSSES` maps a name to an `AdversarialLoss`.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from advaudio.registry import ADVERSARIAL_LOSSES


def logits_of(outputs) -> list:
    """The logits (last feature map) of every sub-discriminator."""
    return [features[-1] for features in outputs]


def _sum_of_means(fn, logits: list):
    return ops.sum(ops.stack([ops.mean(fn(x)) for x in logits]))


# Per-element sides of each game (named functions: AutoGraph cannot convert look-alike lambdas).
def _shifted_square(x):
    return ops.square(x - 1.0)


def _hinge_real(x):
    return ops.relu(1.0 - x)


def _hinge_fake(x):
    return ops.relu(1.0 + x)


def _softplus_negated(x):
    return ops.softplus(-x)


def _negated(x):
    return -x


def _identity(x):
    return x


# -------------------------------------------------------------- least squares (LSGAN)


def least_squares_real(logits):
    """sum_k mean((D_k(x) - 1)^2): the real side of D's loss (Mao et al., 2017)."""
    return _sum_of_means(_shifted_square, logits)


def least_squares_fake(logits):
    """sum_k mean(D_k(x)^2): the generated (or noise) side of D's loss."""
    return _sum_of_means(ops.square, logits)


def least_squares_generator(logits):
    """sum_k mean((D_k(G(z)) - 1)^2): the generator pulls D's score of its output to 1."""
    return least_squares_real(logits)


# -------------------------------------------------------------- hinge


def hinge_real(logits):
    """sum_k mean(max(0, 1 - D_k(x))) (Lim & Ye, 2017; Miyato et al., 2018)."""
    return _sum_of_means(_hinge_real, logits)


def hinge_fake(logits):
    """sum_k mean(max(0, 1 + D_k(x)))."""
    return _sum_of_means(_hinge_fake, logits)


def hinge_generator(logits):
    """-sum_k mean(D_k(G(z)))."""
    return _sum_of_means(_negated, logits)


# -------------------------------------------------------------- non-saturating (original GAN)


def non_saturating_real(logits):
    """sum_k mean(softplus(-D_k(x))) = -log sigmoid(D(x)) (Goodfellow et al., 2014)."""
    return _sum_of_means(_softplus_negated, logits)


def non_saturating_fake(logits):
    """sum_k mean(softplus(D_k(x))) = -log(1 - sigmoid(D(x)))."""
    return _sum_of_means(ops.softplus, logits)


def non_saturating_generator(logits):
    """sum_k mean(softplus(-D_k(G(z)))) = -log sigmoid(D(G(z))), the non-saturating form."""
    return non_saturating_real(logits)


# -------------------------------------------------------------- Wasserstein


def wasserstein_real(logits):
    """-sum_k mean(D_k(x)): the critic raises its score of real audio (Arjovsky et al., 2017)."""
    return _sum_of_means(_negated, logits)


def wasserstein_fake(logits):
    """sum_k mean(D_k(x)): and lowers its score of generated audio."""
    return _sum_of_means(_identity, logits)


def wasserstein_generator(logits):
    """-sum_k mean(D_k(G(z)))."""
    return wasserstein_real(logits)


def gradient_penalty(discriminator, real, fake, epsilon):
    """WGAN-GP's penalty (Gulrajani et al., 2017):

        x_hat = epsilon * real + (1 - epsilon) * fake
        penalty = mean_i (||grad_x_hat sum_k mean_positions D_k(x_hat)_i||_2 - 1)^2

    One gradient per example (the critic's per-example score is the mean of
    its logits over positions, summed over sub-discriminators).

    Args:
        discriminator: the critic, honouring the discriminator contract.
        real, fake: `[batch, samples, 1]`.
        epsilon: `[batch, 1, 1]` uniform in [0, 1].
    Returns:
        a scalar.
    """
    mixed = tf.convert_to_tensor(epsilon * real + (1.0 - epsilon) * fake)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        total = ops.sum(example_scores(logits_of(discriminator(mixed, training=True))))
    grads = tape.gradient(total, mixed)
    norms = ops.sqrt(ops.sum(ops.square(grads), axis=(1, 2)) + 1e-12)
    return ops.mean(ops.square(norms - 1.0))


def example_scores(logits: list):
    """Per-example score `[batch]`: each sub-discriminator's logits averaged over positions, summed over them."""
    per_sub = [ops.mean(ops.reshape(x, (ops.shape(x)[0], -1)), axis=1) for x in logits]
    return ops.sum(ops.stack(per_sub), axis=0)


# -------------------------------------------------------------- feature matching


def feature_matching(real_outputs, fake_outputs):
    """L1 between D's intermediate features on real and on generated audio (MelGAN, HiFi-GAN):

        mean over (k, l) of mean |f_kl(x) - f_kl(G(z))|

    over sub-discriminators k and their feature maps l except the logits. The
    mean (not HiFi-GAN's sum) keeps the scale independent of D's depth, so one
    `adv/feat` weight fits every discriminator. Real features are constants.

    Args:
        real_outputs, fake_outputs: discriminator outputs on aligned real and
            generated audio (same shapes).
    Returns:
        a scalar (0 when D has no intermediate features).
    """
    terms = [
        ops.mean(ops.abs(ops.stop_gradient(r) - f))
        for real_maps, fake_maps in zip(real_outputs, fake_outputs)
        for r, f in zip(real_maps[:-1], fake_maps[:-1])
    ]
    if not terms:
        return ops.zeros(())
    return ops.mean(ops.stack(terms))


# -------------------------------------------------------------- named losses


class AdversarialLoss:
    """One adversarial game, from the per-element forms of its three sides.

    Args:
        name: the registry name.
        real_elements, fake_elements, generator_elements: element-wise
            `fn(logits) -> losses`; each side of the game is its mean over a
            sub-discriminator's logits, summed over sub-discriminators.
        gradient_penalty: whether D's loss adds `gradient_penalty` (WGAN-GP).

    `probability_real(logits)` maps raw outputs to D's belief that the input
    is real: for least squares (trained towards 1 on real, 0 on fake) the
    output clipped to [0, 1]; for the others sigmoid of the logit (the
    Wasserstein critic's score is only meaningful by its sign). Accuracy
    thresholds it at 0.5.
    """

    def __init__(self, name, real_elements, fake_elements, generator_elements, gradient_penalty: bool = False):
        self.name = name
        self.real_elements = real_elements
        self.fake_elements = fake_elements
        self.generator_elements = generator_elements
        self.gradient_penalty = gradient_penalty

    def real(self, logits: list):
        """D's loss on real audio."""
        return _sum_of_means(self.real_elements, logits)

    def fake(self, logits: list):
        """D's loss on generated audio or noise."""
        return _sum_of_means(self.fake_elements, logits)

    def generator(self, logits: list):
        """G's adversarial loss on D's logits of generated audio."""
        return _sum_of_means(self.generator_elements, logits)

    def discriminator(self, real_logits: list, fake_logits: list):
        """D's loss on one real and one fake batch: `real(real_logits) + fake(fake_logits)`."""
        return self.real(real_logits) + self.fake(fake_logits)

    def probability_real(self, logits):
        if self.name == "least_squares":
            return ops.clip(logits, 0.0, 1.0)
        return ops.sigmoid(logits)

    def __repr__(self):
        return f"AdversarialLoss({self.name!r})"


ADVERSARIAL_LOSSES.register(
    "least_squares", lambda: AdversarialLoss("least_squares", _shifted_square, ops.square, _shifted_square)
)
ADVERSARIAL_LOSSES.register("hinge", lambda: AdversarialLoss("hinge", _hinge_real, _hinge_fake, _negated))
ADVERSARIAL_LOSSES.register(
    "non_saturating", lambda: AdversarialLoss("non_saturating", _softplus_negated, ops.softplus, _softplus_negated)
)
ADVERSARIAL_LOSSES.register(
    "wasserstein_gp",
    lambda: AdversarialLoss("wasserstein_gp", _negated, _identity, _negated, gradient_penalty=True),
)


def get(name) -> AdversarialLoss:
    """The named adversarial loss (an unknown name lists the valid ones)."""
    return ADVERSARIAL_LOSSES.build(name)


@keras.saving.register_keras_serializable(package="advaudio")
class DiscriminatorLoss(keras.losses.Loss):
    """A named adversarial loss as a Keras loss on one logits tensor.

    `y_true` is 1 for real and 0 for generated examples `[batch, 1]`; the
    loss is `y * real_side(logits) + (1 - y) * fake_side(logits)` per
    example, each side the per-element form of the named loss.

    Args:
        adversarial_loss: "least_squares", "hinge", "non_saturating" or "wasserstein_gp".

    Example:
        >>> loss = DiscriminatorLoss("hinge")
        >>> loss(ops.ones((2, 1)), ops.array([[2.0], [0.5]]))  # mean(0, 0.5) = 0.25
    """

    def __init__(self, adversarial_loss: str = "least_squares", name: str = "discriminator_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.adversarial_loss = adversarial_loss
        self._game = get(adversarial_loss)  # an unknown name fails here, listing the valid ones

    def call(self, y_true, y_pred):
        real_side, fake_side = self._game.real_elements, self._game.fake_elements
        batch = ops.shape(y_pred)[0]
        logits = ops.reshape(y_pred, (batch, -1))
        label = ops.cast(ops.reshape(y_true, (batch, -1)), logits.dtype)
        label = ops.broadcast_to(label, ops.shape(logits))
        return ops.mean(label * real_side(logits) + (1.0 - label) * fake_side(logits), axis=1)

    def get_config(self):
        config = super().get_config()
        config.update(adversarial_loss=self.adversarial_loss)
        return config


@keras.saving.register_keras_serializable(package="advaudio")
class FeatureMatchingLoss(keras.losses.Loss):
    """`feature_matching` on one pair of feature maps, as a Keras loss.

    `y_true`: features on real audio, `y_pred`: on generated audio, any equal
    shapes; the loss is mean |y_true - y_pred| per example.
    """

    def __init__(self, name: str = "feature_matching", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        diff = ops.abs(ops.stop_gradient(y_true) - y_pred)
        return ops.mean(ops.reshape(diff, (ops.shape(diff)[0], -1)), axis=1)

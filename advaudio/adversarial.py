"""Adversarial losses (least squares, hinge, non-saturating, Wasserstein-GP) and feature matching.

Every loss works on a discriminator's output (a list over sub-discriminators
of feature-map lists whose last item is the logits, see
`advaudio.discriminators`); each sub-discriminator's term is the mean over its
logits, and the terms are summed over sub-discriminators (HiFi-GAN, MelGAN).
`registry.ADVERSARIAL_LOSSES` maps a name to an `AdversarialLoss`, the one
implementation training and users call (no Keras Loss class: a discriminator's
output is nested lists of feature maps, not one `(y_true, y_pred)` pair).
"""
from __future__ import annotations

import tensorflow as tf
from keras import ops

from advaudio.registry import ADVERSARIAL_LOSSES


def logits_of(outputs) -> list:
    """The logits (last feature map) of every sub-discriminator."""
    return [features[-1] for features in outputs]


def _sum_of_means(fn, logits: list):
    return ops.sum(ops.stack([ops.mean(fn(x)) for x in logits]))


# Per-element sides of the games, applied to each sub-discriminator's logits by `AdversarialLoss`
# (named functions: AutoGraph cannot convert look-alike lambdas).
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

    The registered games, per sub-discriminator k (summed over k, each a mean over D_k's logits):

        name            real side (D)           fake side (D)          generator (G)
        least_squares   (D_k(x) - 1)^2          D_k(x)^2               (D_k(G(z)) - 1)^2    Mao et al., 2017
        hinge           max(0, 1 - D_k(x))      max(0, 1 + D_k(x))     -D_k(G(z))           Lim & Ye, 2017
        non_saturating  softplus(-D_k(x))       softplus(D_k(x))       softplus(-D_k(G(z))) Goodfellow et al., 2014
        wasserstein_gp  -D_k(x)                 D_k(x)                 -D_k(G(z))           Gulrajani et al., 2017

    (softplus(-l) = -log sigmoid(l); wasserstein_gp adds `gradient_penalty` to D's loss.)
    Training calls `get(name)` and these methods; there is no other implementation.

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

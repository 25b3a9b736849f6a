"""The denoising GAN: a discriminator learns to tell real audio from the generator's output and from noise.

The generator minimises a weighted sum of reconstruction terms (`rec/*`,
`spec/*`), the adversarial term `adv/gen` and feature matching `adv/feat`; the
discriminator is trained on real audio, generated audio and noise negatives
(its side lives in objectives/adversarial_side.py, shared with the revision pass).
"""
from __future__ import annotations

import tensorflow as tf

from advaudio import config as config_lib
from advaudio.objectives.adversarial_side import (  # noqa: F401  (discriminator_input_length: public here too)
    ADVERSARIAL_TERMS,
    AdversarialSide,
    adversarial_section_problems,
    discriminator_input_length,
)
from advaudio.objectives.base import (
    FrameTrainer,
    reduce_and_clip,
    regime_segment_frames,
    replicas_in_sync,
)
from advaudio.objectives.checks import check_gan_denoise
from advaudio.registry import OBJECTIVES


def check_adversarial_config(experiment: config_lib.Experiment) -> None:
    """Raises ValueError (saying how to fix it) for an inconsistent `objective.adversarial`."""
    problems = adversarial_section_problems(experiment, regime_segment_frames(experiment))
    if problems:
        raise ValueError(problems[0])
    if not any(name in experiment.objective.loss_weights for name in ADVERSARIAL_TERMS):
        raise ValueError(
            "objective 'gan_denoise' needs 'adv/gen' or 'adv/feat' in objective.loss_weights, got "
            f"{sorted(experiment.objective.loss_weights)}"
        )


class GanDenoiseTrainer(AdversarialSide, FrameTrainer):
    """A FrameGRU generator against a discriminator that also learns to reject noise.

    Args:
        generator: the `FrameGRU`.
        experiment: the resolved config; `objective.adversarial` configures D.
        **kwargs: forwarded to `keras.Model`.

    Shapes:
        data: `(inputs, targets)`, each `[batch, steps, frame_length]`.
        D sees `[examples, input_length, 1]`: every frame (input "frames"), or
        every run of `stitched_frames` consecutive frames stitched with the
        experiment's stitching method (input "stitched", so seams are judged);
        `d_examples` of them per step, at random (the same for real and fake).

    One train_step:
      1. The generator predicts frames under the training regime.
      2. `d_steps` discriminator updates on real (targets), fake (the
         predictions, held fixed), noisy (real + Gaussian noise at an SNR drawn
         uniformly in `snr_db` per example) and noise (Gaussian noise with each
         real example's RMS). D's loss is
             real_share * real_side(D(real))
             + sum_s share_s * fake_side(D(s)) / sum_s share_s,  s in {fake, noisy, noise}
             (+ gradient_penalty * GP(real, fake) for wasserstein_gp)
         so noise negatives change what "not real" means without changing the
         balance between the real and the negative side; a zero share drops
         the source (no noise shares: a plain GAN).
      3. One generator update on the weighted sum of the configured terms,
         `adv/gen` and `adv/feat` computed with the updated D.
    Until `d_start_step` generator updates have been made, D is off: its
    forward and backward passes are skipped (`tf.cond`), its optimiser gets
    zero gradients (which leave Adam's moments at zero and the weights
    unchanged exactly) and its step count is rolled back, and adv/* and d/*
    read 0. The gradients are all-reduced and applied outside the `tf.cond`
    because MirroredStrategy cannot synchronise inside control flow.

    Returned values (each a scalar): "loss" (generator total), every
    generator term, "d/loss", "d/gp" (wasserstein_gp), "d/acc_real",
    "d/acc_fake", "d/acc_noisy", "d/acc_noise" (sources with a share),
    "d/win", "grad_norm/gen", "grad_norm/disc" (before clipping; D's averaged
    over its steps, as are the d/* values).

    D's winning chance "d/win" = 0.5 * (mean p(real) on real + mean (1 - p(real))
    on generated audio), where p(real) is D's belief (`AdversarialLoss.
    probability_real`, per example averaged over positions and
    sub-discriminators): the probability D assigns to the right answer on a
    real/generated pair, 0.5 at the GAN's equilibrium, 1 when D wins outright.

    Noise is stateless, seeded by (train.seed, generator step, D step,
    replica): reproducible across a resume and independent per replica.
    """

    def __init__(self, generator, experiment: config_lib.Experiment, **kwargs):
        check_adversarial_config(experiment)
        super().__init__(generator, experiment, **kwargs)
        self.build_adversarial_side(experiment)

    @property
    def adversarial_weights(self) -> dict:
        return self.experiment.objective.loss_weights

    def optimizers(self) -> dict:
        return {**super().optimizers(), "discriminator": self.discriminator_optimizer}

    def networks(self) -> dict:
        return {**super().networks(), "discriminator": self.discriminator}

    def counts_for_best(self) -> bool:
        """True once D has taken a step: the warm-up generator is not the GAN's."""
        return self.discriminator_has_trained()


    def train_step(self, data):
        inputs, targets = data
        active = self.discriminator_active()
        with tf.GradientTape() as tape:
            preds, targets, ctx = self.training_generations(inputs, targets)
            values = self.reconstruction_losses(ctx)
            terms, d_logs = self.adversarial_step(
                self.discriminator_examples(targets), self.discriminator_examples(preds), active, tape
            )
            values.update(terms)
            loss = self.weighted_total(values)
            scaled = loss / replicas_in_sync()
        variables = self.generator.trainable_variables
        grads, norm = reduce_and_clip(tape.gradient(scaled, variables), self.experiment.train.clipnorm)
        self.generator_optimizer.apply(grads, variables)
        return {"loss": loss, **values, **ctx.logs, **d_logs, "grad_norm/gen": norm}

    def test_step(self, data):
        """Teacher-forced validation.

        "loss" is the weighted total of the reconstruction terms only: the
        adversarial terms measure against a discriminator that keeps moving,
        so only the reconstruction part compares across epochs (it picks the
        best checkpoint). adv/gen, adv/feat, d/acc_real and d/acc_fake are
        reported alongside, from D's current weights.
        """
        inputs, targets = data
        preds = self.generator(inputs, training=False)
        ctx = self.validation_context(inputs, preds, targets)
        values = self.reconstruction_losses(ctx)
        logs = {"loss": self.weighted_total(values) if values else tf.zeros(()), **values, **ctx.logs}
        logs.update(self.validation_adversarial_logs(targets, preds))
        return logs


@OBJECTIVES.register("gan_denoise", check=check_gan_denoise)
def build_gan_denoise(generator, experiment, **params) -> GanDenoiseTrainer:
    """The denoising GAN; D and its training are configured in `objective.adversarial`."""
    if params:
        raise TypeError(f"objective 'gan_denoise' takes no objective.params, got {sorted(params)}")
    return GanDenoiseTrainer(generator, experiment, name="gan_denoise_trainer")

"""The discriminator side of a trainer: D, its optimiser and updates on real audio, the judged network's
output and noise negatives, and the adversarial terms (adv/gen, adv/feat) D gives the network it judges.

One implementation, two users: the denoising GAN's generator (objectives/gan_denoise.py) and the
revision pass (advaudio/revision.py, `revise.loss_weights` with adv/* terms). D is configured in
`objective.adversarial` for both.
"""
from __future__ import annotations

import tensorflow as tf

from advaudio import adversarial
from advaudio import config as config_lib
from advaudio.discriminators import build_discriminator
from advaudio.optimizers import FusedAdam
from advaudio.objectives.base import reduce_and_clip, replicas_in_sync
from advaudio.stitching import resolve_method, stitch, stitched_length

INPUTS = ("frames", "stitched")
ADVERSARIAL_TERMS = ("adv/gen", "adv/feat")
NOISE_SEED_SALT = 7919  # keeps D's streams apart from the base trainer's (salts 0, 1, 2, ...)
RANDOM_STREAMS = ("select", "noisy", "snr", "noise", "epsilon")  # independent streams, per D step


def discriminator_input_length(experiment: config_lib.Experiment) -> int:
    """Samples per discriminator example: one frame, or `stitched_frames` frames stitched."""
    adv, data, generate = experiment.objective.adversarial, experiment.data, experiment.generate
    if adv.input == "frames":
        return data.frame_length
    hop = config_lib.frame_hop(data)
    method = resolve_method(generate.stitch, data.frame_length, hop)
    return stitched_length(method, adv.stitched_frames, data.frame_length, hop, generate.crossfade_length)


def adversarial_section_problems(experiment: config_lib.Experiment, segment_frames: int) -> list[str]:
    """What is inconsistent in `objective.adversarial` for examples of `segment_frames` frames (each saying how to
    fix it)."""
    adv = experiment.objective.adversarial
    if adv.input not in INPUTS:
        return [f"objective.adversarial.input must be one of {INPUTS}, got {adv.input!r}"]
    problems = []
    if adv.input == "stitched" and not 1 <= adv.stitched_frames <= segment_frames:
        problems.append(
            f"objective.adversarial.stitched_frames must be between 1 and the {segment_frames} frames the loss "
            f"sees per example, got {adv.stitched_frames}"
        )
    shares = {name: getattr(adv, f"{name}_share") for name in ("real", "fake", "noisy", "noise")}
    if any(share < 0 for share in shares.values()):
        problems.append(f"objective.adversarial shares must be >= 0, got {shares}")
    elif shares["real"] == 0 or shares["fake"] + shares["noisy"] + shares["noise"] == 0:
        problems.append(
            "objective.adversarial needs real_share > 0 and at least one negative source "
            f"(fake_share, noisy_share or noise_share > 0), got {shares}"
        )
    low, high = adv.snr_db
    if low > high:
        problems.append(f"objective.adversarial.snr_db must be (low, high) with low <= high, got {adv.snr_db}")
    if adv.d_examples is not None and adv.d_examples < 1:
        problems.append(f"objective.adversarial.d_examples must be >= 1 or None, got {adv.d_examples}")
    if adv.d_steps < 1:
        problems.append(f"objective.adversarial.d_steps must be >= 1, got {adv.d_steps}")
    if adv.loss == "wasserstein_gp" and adv.gradient_penalty <= 0:
        problems.append("objective.adversarial.loss='wasserstein_gp' needs gradient_penalty > 0")
    return problems


def _split(tensor, sizes):
    return tf.split(tensor, sizes, axis=0)


def _split_outputs(outputs, sizes):
    """Splits every feature map of a discriminator output along the batch into `len(sizes)` outputs."""
    parts = [[[None] * len(sub) for sub in outputs] for _ in sizes]
    for k, sub in enumerate(outputs):
        for layer, feature in enumerate(sub):
            for part, piece in zip(parts, _split(feature, sizes)):
                part[k][layer] = piece
    return parts


class AdversarialSide:
    """Mixin for a trainer (`keras.Model`) whose network is judged by a discriminator.

    The host calls `build_adversarial_side(experiment)` in its `__init__` and
    provides `experiment`, `step_counter` (its network's updates so far),
    `_stateless_seed(salt, per_replica=True)` (`FrameTrainer`'s seeds) and
    `adversarial_weights` (a mapping that holds the weighted adv/* terms).

    Shapes:
        D sees `[examples, input_length, 1]`: every frame (input "frames"), or
        every run of `stitched_frames` consecutive frames stitched with the
        experiment's stitching method (input "stitched", so seams are judged);
        `d_examples` of them per step, at random (the same for real and fake).

    D's loss is
        real_share * real_side(D(real))
        + sum_s share_s * fake_side(D(s)) / sum_s share_s,  s in {fake, noisy, noise}
        (+ gradient_penalty * GP(real, fake) for wasserstein_gp)
    with noisy = real + Gaussian noise at an SNR drawn uniformly in `snr_db`
    per example and noise = Gaussian noise with each real example's RMS. Until
    `d_start_step` updates of the judged network, D is off (see
    `discriminator_steps`). Noise is stateless, seeded by (train.seed, step,
    D step, replica): reproducible across a resume and independent per replica.
    """

    adversarial_terms = ADVERSARIAL_TERMS

    def build_adversarial_side(self, experiment: config_lib.Experiment) -> None:
        """Builds D (`objective.adversarial`), its optimiser and game."""
        adv = experiment.objective.adversarial
        self.adversarial_loss = adversarial.get(adv.loss)
        self.input_length = discriminator_input_length(experiment)
        self.discriminator = build_discriminator(adv.discriminator, self.input_length, **adv.discriminator_params)
        self.discriminator_optimizer = FusedAdam(
            learning_rate=adv.d_learning_rate, beta_1=adv.d_beta_1, beta_2=adv.d_beta_2
        )
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.negative_shares = {
            name: getattr(adv, f"{name}_share")
            for name in ("fake", "noisy", "noise")
            if getattr(adv, f"{name}_share") > 0 or name == "fake"  # fake is always scored (acc, win)
        }

    # ------------------------------------------------------------------ D's inputs

    def discriminator_examples(self, frames):
        """`[batch, steps, frame_length]` -> D examples `[examples, input_length, 1]`.

        "frames": every frame; "stitched": runs of `stitched_frames` consecutive
        frames (the last incomplete run dropped), stitched.
        """
        frames = tf.convert_to_tensor(frames)
        adv, data, generate = self.experiment.objective.adversarial, self.experiment.data, self.experiment.generate
        frame_length = frames.shape[-1]
        if adv.input == "frames":
            return tf.reshape(frames, (-1, frame_length, 1))
        runs = frames.shape[1] // adv.stitched_frames
        grouped = tf.reshape(frames[:, : runs * adv.stitched_frames], (-1, adv.stitched_frames, frame_length))
        audio = stitch(
            grouped,
            generate.stitch,
            config_lib.frame_hop(data),
            window=generate.window,
            crossfade_length=generate.crossfade_length,
        )
        if audio.shape[-1] != self.input_length:  # a reshape would silently mix examples
            raise ValueError(f"stitched {audio.shape[-1]} samples, expected {self.input_length}")
        return audio[..., None]

    def _seed(self, stream: str, d_step: int = 0):
        """The stateless-RNG seed of one of D's random streams at D step `d_step` (`FrameTrainer._stateless_seed`
        with salt NOISE_SEED_SALT + len(RANDOM_STREAMS) * d_step + the stream's index)."""
        return self._stateless_seed(NOISE_SEED_SALT + len(RANDOM_STREAMS) * d_step + RANDOM_STREAMS.index(stream))

    def noise_negatives(self, real, d_step: int) -> dict:
        """{"noisy": real + noise at a random SNR, "noise": loudness-matched noise}, for sources with a share.

        noisy = real + n * rms(real) / 10^(snr / 20),  snr ~ U(snr_db) per example
        noise = n * rms(real),  n ~ N(0, 1)
        """
        adv = self.experiment.objective.adversarial
        shape = tf.shape(real)
        rms = tf.sqrt(tf.reduce_mean(tf.square(real), axis=[1, 2], keepdims=True))
        negatives = {}
        if "noisy" in self.negative_shares:
            unit = tf.random.stateless_normal(shape, seed=self._seed("noisy", d_step), dtype=real.dtype)
            snr = tf.random.stateless_uniform(
                [shape[0], 1, 1], seed=self._seed("snr", d_step), minval=adv.snr_db[0], maxval=adv.snr_db[1], dtype=real.dtype
            )
            negatives["noisy"] = real + unit * rms * tf.pow(10.0, -snr / 20.0)
        if "noise" in self.negative_shares:
            unit = tf.random.stateless_normal(shape, seed=self._seed("noise", d_step), dtype=real.dtype)
            negatives["noise"] = unit * rms
        return negatives

    # ------------------------------------------------------------------ D's loss and statistics

    def _example_probability(self, outputs):
        """D's belief that each example is real `[examples]` (averaged over positions and sub-discriminators)."""
        per_sub = [
            tf.reduce_mean(tf.reshape(self.adversarial_loss.probability_real(sub[-1]), (tf.shape(sub[-1])[0], -1)), 1)
            for sub in outputs
        ]
        return tf.reduce_mean(tf.stack(per_sub), axis=0)

    def discriminator_loss(self, real, fake, d_step: int):
        """(D's loss, statistics) on one batch of real and (fixed) fake examples `[examples, samples, 1]`."""
        adv = self.experiment.objective.adversarial
        sources = {"real": real, "fake": fake, **self.noise_negatives(real, d_step)}
        names = list(sources)
        sizes = [tf.shape(sources[n])[0] for n in names]
        outputs = self.discriminator(tf.concat([sources[n] for n in names], axis=0), training=True)
        by_source = dict(zip(names, _split_outputs(outputs, sizes)))
        game = self.adversarial_loss
        negatives = sum(self.negative_shares.values())
        loss = adv.real_share * game.real(adversarial.logits_of(by_source["real"]))
        for name, share in self.negative_shares.items():
            if share > 0:
                loss += share / negatives * game.fake(adversarial.logits_of(by_source[name]))
        stats = {}
        if game.gradient_penalty:
            epsilon = tf.random.stateless_uniform(
                [tf.shape(real)[0], 1, 1], seed=self._seed("epsilon", d_step), dtype=real.dtype
            )
            penalty = adversarial.gradient_penalty(self.discriminator, real, fake, epsilon)
            loss += adv.gradient_penalty * penalty
            stats["d/gp"] = penalty
        probability = {name: self._example_probability(out) for name, out in by_source.items()}
        stats["d/acc_real"] = tf.reduce_mean(tf.cast(probability["real"] > 0.5, tf.float32))
        for name in self.negative_shares:
            stats[f"d/acc_{name}"] = tf.reduce_mean(tf.cast(probability[name] < 0.5, tf.float32))
        stats["d/win"] = 0.5 * (tf.reduce_mean(probability["real"]) + tf.reduce_mean(1.0 - probability["fake"]))
        return loss, stats

    def discriminator_steps(self, real, fake, active):
        """`d_steps` D updates while `active`; returns the d/* values and "grad_norm/disc" (means over steps)."""
        adv = self.experiment.objective.adversarial
        variables = self.discriminator.trainable_variables
        optimizer = self.discriminator_optimizer
        totals = None
        for d_step in range(adv.d_steps):

            def on(d_step=d_step):
                with tf.GradientTape() as tape:
                    loss, stats = self.discriminator_loss(real, fake, d_step)
                    scaled = loss / replicas_in_sync()
                return tape.gradient(scaled, variables), {"d/loss": loss, **stats}

            def off():
                return [tf.zeros_like(v) for v in variables], {k: tf.zeros(()) for k in self._stat_keys()}

            grads, stats = tf.cond(active, on, off)
            grads, norm = reduce_and_clip(grads, adv.d_clipnorm)
            optimizer.apply(grads, variables)
            # A step with D off must not count: Adam's bias correction starts at D's first real step.
            optimizer.iterations.assign_sub(1 - tf.cast(active, optimizer.iterations.dtype))
            stats["grad_norm/disc"] = norm
            totals = stats if totals is None else {k: totals[k] + v for k, v in stats.items()}
        return {k: v / adv.d_steps for k, v in totals.items()}

    def _stat_keys(self) -> list:
        keys = ["d/loss"]
        if self.adversarial_loss.gradient_penalty:
            keys.append("d/gp")
        keys.append("d/acc_real")
        keys += [f"d/acc_{name}" for name in self.negative_shares]
        keys.append("d/win")
        return keys

    # ------------------------------------------------------------------ the generator's adversarial terms

    def discriminator_outputs(self, real, fake):
        """(D's output on real, on fake): one inference-mode D call on `[examples, samples, 1]` each."""
        batch = tf.shape(fake)[0]
        outputs = self.discriminator(tf.concat([real, fake], axis=0), training=False)
        return _split_outputs(outputs, [batch, batch])

    def generator_terms(self, real_outputs, fake_outputs) -> dict:
        """{"adv/gen", "adv/feat"} (those weighted in the config) from D's outputs on real and fake audio.

        adv/gen  = the game's generator side of D's logits on fake audio
        adv/feat = `adversarial.feature_matching(real_outputs, fake_outputs)`
        """
        weights = self.adversarial_weights
        values = {}
        if "adv/gen" in weights:
            values["adv/gen"] = self.adversarial_loss.generator(adversarial.logits_of(fake_outputs))
        if "adv/feat" in weights:
            values["adv/feat"] = adversarial.feature_matching(real_outputs, fake_outputs)
        return values

    def adversarial_losses(self, real, fake, active) -> dict:
        """`generator_terms` with D's current weights while `active`; 0 while D is off."""
        names = [name for name in self.adversarial_terms if name in self.adversarial_weights]
        return tf.cond(
            active,
            lambda: self.generator_terms(*self.discriminator_outputs(real, fake)),
            lambda: {name: tf.zeros(()) for name in names},
        )

    def discriminator_active(self):
        return self.step_counter >= self.experiment.objective.adversarial.d_start_step

    def discriminator_has_trained(self) -> bool:
        """Whether D has taken a step (eager): before it, the trained network is not the adversarial one."""
        return int(self.discriminator_optimizer.iterations.numpy()) > 0

    def select_examples(self, real, fake):
        """The same `d_examples` random examples of real and fake (all when d_examples is None)."""
        count = self.experiment.objective.adversarial.d_examples
        if count is None:
            return real, fake
        scores = tf.random.stateless_uniform(tf.shape(real)[:1], seed=self._seed("select"))
        chosen = tf.argsort(scores)[:count]
        return tf.gather(real, chosen), tf.gather(fake, chosen)


    def validation_adversarial_logs(self, real_frames, fake_frames) -> dict:
        """The weighted adv/* terms and "d/acc_real", "d/acc_fake" with D's current weights, from real and
        judged frames `[batch, steps, frame_length]` (a validation step's report; D is not updated)."""
        real_out, fake_out = self.discriminator_outputs(
            self.discriminator_examples(real_frames), self.discriminator_examples(fake_frames)
        )
        logs = self.generator_terms(real_out, fake_out)
        logs["d/acc_real"] = tf.reduce_mean(tf.cast(self._example_probability(real_out) > 0.5, tf.float32))
        logs["d/acc_fake"] = tf.reduce_mean(tf.cast(self._example_probability(fake_out) < 0.5, tf.float32))
        return logs

    def adversarial_step(self, real, fake, active, tape) -> tuple[dict, dict]:
        """D's updates on (real, fake held fixed) while `active`, then the judged network's adv/* terms
        with the updated D, recorded on `tape`: returns (terms, d/* logs)."""
        real, fake = self.select_examples(real, fake)
        with tape.stop_recording():
            d_logs = self.discriminator_steps(real, tf.stop_gradient(fake), active)
        return self.adversarial_losses(real, fake, active), d_logs

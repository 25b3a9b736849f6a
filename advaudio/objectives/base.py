"""FrameTrainer: the Keras model every objective trains, around one FrameGRU generator.

It owns what all objectives share: the training regime that decides which
frames the generator is fed (teacher forcing, scheduled sampling,
free-running segments), the weighted sum of named loss terms, correct loss
scaling and gradient clipping under `tf.distribute`, and the per-step metrics
the training loop logs.
"""
from __future__ import annotations

import warnings

import keras
import tensorflow as tf

from advaudio import config as config_lib
from advaudio.optimizers import FusedAdam
from advaudio.losses import ENERGY_TERM, LOSS_TERMS, check_energy_config
from advaudio.stitching import stitch


class LossContext:
    """What a loss term sees; stitched waveforms are computed once, on demand.

    Attributes:
        pred_frames: `[batch, steps, frame_length]` generator predictions.
        target_frames: `[batch, steps, frame_length]` true next frames.
        pred_audio / target_audio: `[batch, samples]` the same frames stitched
            with the experiment's stitching method (so seams are judged).
        training: a training step's context (`FrameTrainer.training_context`):
            terms may compute their gradient together with their value, for a
            weighted sum with the experiment's loss_weights (spec/* do).
        generations: None, or two generations `([batch, steps, frame_length],) * 2`
            of the same input with independent noise (spec/energy; the trainer
            makes them when that term is weighted).
        logs: diagnostic values a term adds to the step's logs (not weighted).
    """

    def __init__(
        self,
        pred_frames,
        target_frames,
        experiment: config_lib.Experiment,
        segment_seed=None,
        training: bool = False,
        generations=None,
    ):
        self.pred_frames = pred_frames
        self.target_frames = target_frames
        self.experiment = experiment
        self.segment_seed = segment_seed  # stateless-RNG seed of `segment_audio`; None: whole sequences
        # A training step's context: terms may compute their gradient with their value (spec/*).
        self.training = training
        self.generations = generations
        self._audio = {}
        self.cache = {}  # shared work of several terms (e.g. the spectrograms of all spec/* terms)
        self.logs = {}

    def _stitch(self, frames):
        gen = self.experiment.generate
        return stitch(
            frames,
            gen.stitch,
            config_lib.frame_hop(self.experiment.data),
            window=gen.window,
            crossfade_length=gen.crossfade_length,
        )

    def _stitched(self, key, frames):
        if key not in self._audio:
            self._audio[key] = self._stitch(frames)
        return self._audio[key]

    def segment_audio(self, num_frames: int | None):
        """(target, pred) stitched from the same random run of `num_frames` frames of each sequence.

        Each sequence gets its own start, uniform over the runs that fit,
        drawn from `segment_seed`. Whole sequences (`target_audio`,
        `pred_audio`) when num_frames is None or at least the sequence
        length, or when the context has no seed (validation).

        Returns:
            two `[batch, samples]` waveforms.
        """
        index = self._segment_index(num_frames)
        if index is None:
            return self.target_audio, self.pred_audio
        key = ("segment", num_frames)
        if key not in self._audio:
            self._audio[key] = tuple(
                self._stitch(tf.gather(frames, index, batch_dims=1)) for frames in (self.target_frames, self.pred_frames)
            )
        return self._audio[key]

    def _segment_index(self, num_frames: int | None):
        """`[batch, num_frames]` frame indices of each sequence's random run, or None for whole sequences."""
        steps = self.pred_frames.shape[1]
        if num_frames is None or self.segment_seed is None or (steps is not None and num_frames >= steps):
            return None
        key = ("index", num_frames)
        if key not in self._audio:
            shape = tf.shape(self.pred_frames)
            starts = replica_rows(
                lambda batch: tf.random.stateless_uniform(
                    [batch], seed=self.segment_seed, minval=0, maxval=shape[1] - num_frames + 1, dtype=tf.int32
                ),
                shape[0],
            )
            self._audio[key] = starts[:, None] + tf.range(num_frames)[None]
        return self._audio[key]

    def segment_generations(self, num_frames: int | None):
        """(target, generation 1, generation 2) `[batch, samples]` each, stitched from the same frames
        `segment_audio` judges (the same random run, or whole sequences).

        Raises:
            ValueError: the context holds no second generation (the trainer makes one only when
                spec/energy is weighted and the generator takes noise).
        """
        if self.generations is None:
            raise ValueError(
                "spec/energy needs two generations of the batch with independent noise; FrameTrainer makes them "
                "when objective.loss_weights has 'spec/energy' (and model.noise_dim > 0)"
            )
        index = self._segment_index(num_frames)
        key = ("generations", num_frames)
        if key not in self._audio:
            frames = (self.target_frames, *self.generations)
            if index is not None:
                frames = tuple(tf.gather(f, index, batch_dims=1) for f in frames)
            self._audio[key] = tuple(self._stitch(f) for f in frames)
        return self._audio[key]

    @property
    def pred_audio(self):
        return self._stitched("pred", self.pred_frames)

    @property
    def target_audio(self):
        return self._stitched("target", self.target_frames)


def replicas_in_sync() -> int:
    return tf.distribute.get_strategy().num_replicas_in_sync


def reduce_and_clip(grads, clipnorm: float | None):
    """Sums gradients over replicas, clips by global norm, and returns them
    divided by the replica count (the optimizer sums over replicas again).

    Keras optimizers clip each replica's gradient before their all-reduce,
    which is not the clipping a single device does; this matches it exactly.

    Returns:
        (gradients ready for `optimizer.apply`, global norm before clipping).
    """
    context = tf.distribute.get_replica_context()
    replicas = replicas_in_sync()
    if context is not None and replicas > 1:
        grads = context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
    norm = tf.linalg.global_norm(grads)
    if clipnorm:
        grads, _ = tf.clip_by_global_norm(grads, clipnorm, use_norm=norm)
    if replicas > 1:
        grads = [g / replicas for g in grads]
    return grads, norm


def build_loss_terms(experiment: config_lib.Experiment, names=None) -> dict:
    """name -> (weight, fn(ctx) -> scalar) for the configured `loss_weights`."""
    weights = experiment.objective.loss_weights
    if not weights:
        raise ValueError("objective.loss_weights is empty; give at least one term, e.g. {'rec/mse': 1.0}")
    terms = {}
    for name, weight in weights.items():
        if names is not None and name not in names:
            continue
        terms[name] = (float(weight), LOSS_TERMS.build(name, experiment))
    return terms


REGIMES = ("teacher_forcing", "scheduled_sampling", "free_running")
SAMPLING_SCHEDULES = ("constant", "linear", "inverse_sigmoid")
# inverse_sigmoid: p(step) = p / (1 + exp(-(step - ramp / 2) / (ramp * SIGMOID_WIDTH))); at step 0 it is
# p / (1 + e^5) ~ 0.7% of p and at the end of the ramp ~ 99.3% of p.
SIGMOID_WIDTH = 0.1
# Salts of the trainer's stateless random streams (added to train.seed).
SAMPLING_SEED_SALT, FREE_RUN_SEED_SALT, SEGMENT_SEED_SALT = 0, 1, 2
GENERATOR_NOISE_SEED_SALT = 3  # the generator's noise input (model.noise_dim > 0)
# The noise of the second generation spec/energy compares with the first (GENERATOR_NOISE_SEED_SALT), and of
# validation's two generations (seeds (train.seed + salt, 0) and (.., 1): the same every epoch).
SECOND_NOISE_SEED_SALT, VALIDATION_NOISE_SEED_SALT = 4, 5
# A stream's seed is (train.seed + salt, step * SEED_STEP_STRIDE + replica): distinct per step and
# per replica for fewer than SEED_STEP_STRIDE replicas. The generator's streams (noise, feedback mask,
# free-running start, loss segments) use replica 0's seed on every replica and take their rows of a draw for
# the global batch (`replica_rows`), so they do not depend on the number of replicas.
SEED_STEP_STRIDE = 1024


def sampling_probability(step, final_probability: float, schedule: str, ramp_steps: int):
    """Scheduled-sampling probability at `step` (a scalar tensor).

    constant:        p
    linear:          p * min(1, step / ramp_steps)
    inverse_sigmoid: p / (1 + exp(-(step - ramp_steps / 2) / (SIGMOID_WIDTH * ramp_steps)))
    """
    if schedule not in SAMPLING_SCHEDULES:
        raise ValueError(f"objective.sampling_schedule must be one of {SAMPLING_SCHEDULES}, got {schedule!r}")
    step = tf.cast(step, tf.float32)
    final = tf.constant(final_probability, tf.float32)
    if schedule == "constant" or ramp_steps <= 0:
        return final
    ramp = float(ramp_steps)
    if schedule == "linear":
        return final * tf.minimum(1.0, step / ramp)
    return final * tf.sigmoid((step - ramp / 2.0) / (SIGMOID_WIDTH * ramp))


def _time_major(tensor):
    return None if tensor is None else tf.transpose(tensor, [1, 0, 2])


def _model_noise(generator, noise):
    """`noise` when the generator takes noise (noise_width > 0), else None."""
    return noise if getattr(generator, "noise_width", 0) else None


def _unroll_noise(generator, noise):
    """`noise` `[batch, steps, noise_width]` or None -> (its input part's projection `[steps, batch, gates *
    units]`, its layer part `[steps, batch, layers, units]`), time-major, each None where absent."""
    if noise is None:
        return None, None
    projection, layer_noise = generator.noise_parts(noise)
    return _time_major(projection), None if layer_noise is None else tf.transpose(layer_noise, [1, 0, 2, 3])


def _use_folding(generator, fold):
    """Whether an unroll folds its feedback (see `FrameGRU.fold_feedback`); None: when the generator is foldable.

    Folding costs one `[units, frame_length] x [frame_length, gates * units]`
    product (three with the gradient) and saves a `[batch, frame_length] x
    [frame_length, gates * units]` product per step: equal FLOPs at batch x
    steps = units, yet measured faster already below that, the fold being one
    large product (gan_free_running's 16 x 8 rows, 256 units: 1.38x the
    previous step's speed folded, 1.16x unfolded, CPU time; benchmarks/training.py).
    """
    if fold is None:
        return generator.foldable
    if fold and not generator.foldable:
        raise ValueError("this generator cannot fold its feedback (skip connections); pass fold=None or False")
    return fold


def scheduled_sampling_unroll(generator, inputs, feed_mask, noise=None, fold=None):
    """Runs the generator frame by frame, feeding its own previous prediction where `feed_mask` is True.

    input_0 = inputs[:, 0];  input_t = pred_{t-1} if feed_mask[:, t] else inputs[:, t]
    pred_t, states_t = generator.step(input_t, states_{t-1}, noise[:, t])

    The fed-back prediction keeps its gradient (the loss on later frames
    trains the frames that were fed back). Folded (by default when the
    generator is `foldable`): the true frames' input projections come from one
    matrix product over all steps and a fed-back prediction enters as
    h_{t-1} (W_head K_0) + b_head K_0 (`FrameGRU.feedback_unroll`), so
    projection_t = where(mask_t, h_{t-1} W_fold + b_fold, x_t K_0) (+ noise_t K_noise);
    equal to the step-by-step unroll within float tolerance.

    Args:
        generator: a `FrameGRU`.
        inputs: `[batch, steps, frame_length]` true input frames.
        feed_mask: `[batch, steps]` bool; column 0 is ignored (nothing to feed back yet).
        noise: `[batch, steps, noise_width]` the generator's noise (see `FrameGRU.split_noise`), or None (zeros).
        fold: None (fold when the generator is foldable), True, or False (step by
            step, the previous implementation).
    Returns:
        predictions `[batch, steps, frame_length]`.
    """
    inputs = tf.convert_to_tensor(inputs)
    noise = _model_noise(generator, noise)
    mask_by_time = tf.transpose(tf.cast(feed_mask, tf.bool))[:, :, None]
    states = generator.initial_states(tf.shape(inputs)[0])
    steps = tf.shape(inputs)[1]
    if _use_folding(generator, fold):
        true_projections = _time_major(generator.input_projection(inputs, noise))  # one product, all steps
        added, layer_noise = _unroll_noise(generator, noise)
        hidden, _ = generator.feedback_unroll(
            true_projections[0], states, steps, generator.fold_feedback(), added=added,
            true_projections=true_projections, feed_mask=mask_by_time, layer_noise=layer_noise,
        )
        return tf.ensure_shape(generator.head_projection(_time_major(hidden)), inputs.shape)
    by_time = _time_major(inputs)
    noise_by_time = _time_major(noise)

    def noise_at(t):
        return None if noise_by_time is None else noise_by_time[t]

    first, states = generator.step(by_time[0], states, noise=noise_at(0))
    preds = tf.TensorArray(inputs.dtype, size=steps, element_shape=first.shape).write(0, first)

    def body(t, previous, states, preds):
        frame = tf.where(mask_by_time[t], previous, by_time[t])
        pred, states = generator.step(frame, states, noise=noise_at(t))
        return t + 1, pred, list(states), preds.write(t, pred)

    _, _, _, preds = tf.while_loop(lambda t, *_: t < steps, body, (tf.constant(1), first, list(states), preds))
    return tf.ensure_shape(tf.transpose(preds.stack(), [1, 0, 2]), inputs.shape)


def free_run(generator, first_frame, states, steps: int, noise=None, fold=None, first_features=None, folded=None):
    """Unrolls `steps` frames on the generator's own predictions.

    pred_1 = step(first_frame, noise[:, 0]);  pred_k = step(pred_{k-1}, noise[:, k-1]);
    gradients flow through every fed-back frame, back to `first_frame` and `states`.
    Folded (by default when the generator is `foldable`), a fed-back
    prediction enters the first layer as h (W_head K_0) + b_head K_0
    (`FrameGRU.feedback_unroll`) and the predictions come from one head
    product over all steps; equal to the step-by-step unroll within float
    tolerance (benchmarks/training.py measures both).

    When the first frame is itself a prediction, pass what the head read
    instead (`first_features`, e.g. the last step of
    `FrameGRU.features_with_states` over a true prefix): folded, it then
    enters as first_features (W_head K_0) + b_head K_0 too, and the
    prediction first_frame = head(first_features) is never formed.

    Args:
        generator: a `FrameGRU`.
        first_frame: `[batch, frame_length]` the first frame fed in, or None
            with `first_features`.
        states: recurrent states (list of `[batch, units]`) after the prefix.
        steps: frames to unroll (a Python int).
        noise: `[batch, steps, noise_width]` the generator's noise (see `FrameGRU.split_noise`), or None (zeros).
        fold: None (fold when the generator is foldable), True, or False (step by
            step, the previous implementation).
        first_features: None, or `[batch, head_width]` the head's input whose
            prediction is the first frame (instead of `first_frame`).
        folded: None, or the generator's `fold_feedback()` when the caller
            shares one fold between unrolls (computed under the same tape).
    Returns:
        predictions `[batch, steps, frame_length]`.
    """
    if (first_frame is None) == (first_features is None):
        raise ValueError("free_run takes first_frame or first_features, not both or neither")
    noise = _model_noise(generator, noise)
    folding = _use_folding(generator, fold)
    if first_frame is None and not folding:
        first_frame = generator.head(first_features)
    if folding:
        added, layer_noise = _unroll_noise(generator, noise)
        folded = generator.fold_feedback() if folded is None else folded
        if first_frame is None:
            projection = generator.folded_projection(first_features, folded)
            if added is not None:
                projection = projection + added[0]
        else:
            projection = generator.input_projection(tf.convert_to_tensor(first_frame),
                                                    None if noise is None else noise[:, 0])
        hidden, _ = generator.feedback_unroll(projection, states, steps, folded, added=added, layer_noise=layer_noise)
        return generator.head_projection(_time_major(hidden))
    noise_by_time = _time_major(noise)
    preds = tf.TensorArray(first_frame.dtype, size=steps, element_shape=first_frame.shape)

    def body(k, frame, states, preds):
        pred, states = generator.step(frame, states, noise=None if noise_by_time is None else noise_by_time[k])
        return k + 1, pred, list(states), preds.write(k, pred)

    _, _, _, preds = tf.while_loop(lambda k, *_: k < steps, body, (tf.constant(0), first_frame, list(states), preds))
    return tf.transpose(preds.stack(), [1, 0, 2])


def _replica_id():
    context = tf.distribute.get_replica_context()
    replica = 0 if context is None else context.replica_id_in_sync_group
    return tf.cast(replica, tf.int64)


def stateless_seed(base: int, step_counter, per_replica: bool = True):
    """The `[2]` int64 stateless-RNG seed `[base, step * SEED_STEP_STRIDE + replica]` (replica 0's on every
    replica when not `per_replica`); step: the trained network's updates so far."""
    step = tf.cast(step_counter, tf.int64) * SEED_STEP_STRIDE
    return tf.stack([tf.constant(base, tf.int64), step + _replica_id() if per_replica else step])


def replica_rows(draw, local_batch):
    """This replica's rows of `draw(global_batch)`: replica r of R takes rows [r b, (r + 1) b) of a draw for
    R b examples (b = `local_batch`), the rows of the global batch it trains on. Every example so gets the
    draw it gets on one device, whatever the number of replicas.

    Args:
        draw: `batch -> [batch, ...]`, a stateless draw whose seed does not depend on the replica.
    """
    context = tf.distribute.get_replica_context()
    replicas = 1 if context is None else context.num_replicas_in_sync
    if replicas == 1:
        return draw(local_batch)
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * local_batch
    return draw(local_batch * replicas)[start : start + local_batch]


def regime_segment_frames(experiment: config_lib.Experiment) -> int:
    """Frames the loss sees per example under the configured regime (what gets stitched)."""
    objective = experiment.objective
    if objective.regime == "free_running":
        return objective.free_run_steps
    return experiment.data.sequence_length


class FrameTrainer(keras.Model):
    """Trains a FrameGRU generator on `(inputs, targets)` frame batches.

    Args:
        generator: the `FrameGRU` to train.
        experiment: the resolved `Experiment` config (objective, train, data).
        **kwargs: forwarded to `keras.Model`.

    Shapes:
        data: `(inputs [batch, steps, frame_length], targets [batch, steps, frame_length])`.
        train_step / test_step return `{name: scalar}`: "loss" (the weighted
        total) and every loss term under its namespaced name.

    Create it inside `strategy.scope()`; the training loop runs `train_step`
    with `strategy.run` and reduces the returned values with MEAN.

    Training regimes (`objective.regime`), chosen by `regime_frames`:
        teacher_forcing: the generator always sees the true frames.
        scheduled_sampling: at each step t > 0 of each example, with probability
            p (`sampling_probability` on `sampling_schedule` over
            `sampling_ramp_steps` generator steps) the generator is fed its own
            previous prediction instead of the true frame; exact, frame by frame
            (`scheduled_sampling_unroll`). While p is 0 the whole-sequence
            (cuDNN) path runs, which is teacher forcing exactly. Also logs "sampling/p".
        free_running: from a true prefix of `free_run_prefix` frames, at a random
            position of each batch, the generator unrolls `free_run_steps`
            frames on its own predictions; the loss is taken on those frames only.
    With spec/energy weighted, each batch is generated twice in the same regime
    with independent noise (`training_generations`; validation: two fixed-seed
    teacher-forced generations), and the loss context holds both.
    Validation (`test_step`) is always teacher-forced, so val_loss compares across regimes.
    Randomness is stateless, from (train.seed, step, replica): reproducible and
    safe under every distribution strategy.
    """

    adversarial_terms = ()  # loss-term names handled by a subclass (e.g. the GAN)

    def __init__(self, generator, experiment: config_lib.Experiment, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.experiment = experiment
        self.loss_terms = build_loss_terms(
            experiment,
            names=[n for n in experiment.objective.loss_weights if n not in self.adversarial_terms],
        )
        train = experiment.train
        self.generator_optimizer = FusedAdam(
            learning_rate=train.learning_rate, beta_1=train.beta_1, beta_2=train.beta_2
        )
        self.generator_optimizer.build(self.generator.trainable_variables)
        self._check_regime()
        if self.two_generations and not getattr(generator, "noise_width", 0):
            raise ValueError(
                "\n".join(check_energy_config(experiment))
                or f"objective.loss_weights has {ENERGY_TERM!r} but the generator has noise_dim=0; build it with noise"
            )

    def _check_regime(self) -> None:
        # The same check config.validate runs (a trainer may also be built without it, from Python).
        from advaudio.objectives.checks import regime_problems  # checks imports this module

        problems = regime_problems(self.experiment)
        if problems:
            raise ValueError("\n".join(problems))
        objective = self.experiment.objective
        if objective.regime == "free_running":
            if all(name.startswith("rec/") for name in objective.loss_weights):
                warnings.warn(
                    "free-running with reconstruction terms only tends to freeze the output into one repeated, "
                    "quieter frame; pair it with spec/* or adversarial terms",
                    stacklevel=3,
                )

    def optimizers(self) -> dict:
        """Every optimizer, by network name (checkpointed and restored together)."""
        return {"generator": self.generator_optimizer}

    def networks(self) -> dict:
        return {"generator": self.generator}

    def counts_for_best(self) -> bool:
        """Whether the epoch just finished trained the whole objective.

        The run's "best" checkpoint is chosen among such epochs (a GAN's
        reconstruction-only warm-up does not count once D has trained).
        """
        return True

    @property
    def step_counter(self):
        """Generator updates so far (a variable)."""
        return self.generator_optimizer.iterations

    def call(self, inputs, training=None):
        return self.generator(inputs, training=training)

    def _stateless_seed(self, salt: int, per_replica: bool = True):
        """The `[2]` int64 stateless-RNG seed of one random stream, from (train.seed + salt, step, replica):
        `[train.seed + salt, step * SEED_STEP_STRIDE + replica]`, step the generator updates so far;
        `per_replica=False`: replica 0's seed on every replica (draw for the global batch: `replica_rows`)."""
        return stateless_seed(self.experiment.train.seed + salt, self.step_counter, per_replica)

    def current_sampling_probability(self):
        """The scheduled-sampling probability at the current step (0 outside that regime)."""
        objective = self.experiment.objective
        if objective.regime != "scheduled_sampling":
            return tf.constant(0.0)
        return sampling_probability(
            self.step_counter, objective.sampling_probability, objective.sampling_schedule, objective.sampling_ramp_steps
        )

    def scheduled_sampling_frames(self, inputs, probability, training: bool, noise_draw: int = 0):
        """Predictions `[batch, steps, frame_length]`, feeding back own predictions with `probability`."""

        noise = self.generator_noise(tf.shape(inputs)[0], tf.shape(inputs)[1], noise_draw)

        def sampled():
            seed = self._stateless_seed(SAMPLING_SEED_SALT, per_replica=False)
            draw = replica_rows(lambda batch: tf.random.stateless_uniform([batch, tf.shape(inputs)[1]], seed=seed),
                                tf.shape(inputs)[0])
            mask = draw < probability
            # step() has no training-only layers
            return scheduled_sampling_unroll(self.generator, inputs, mask, noise=noise)

        return tf.cond(probability > 0.0, sampled, lambda: self.generator(inputs, training=training, noise=noise))

    def generator_noise(self, batch, steps, draw: int = 0):
        """The generator's noise `[batch, steps, noise_width]` for this step and replica (None: noise_width 0).

        draw 0 is the step's generation; draw 1 an independent second one (spec/energy).
        """
        if not getattr(self.generator, "noise_width", 0):
            return None
        seed = self._stateless_seed((GENERATOR_NOISE_SEED_SALT, SECOND_NOISE_SEED_SALT)[draw], per_replica=False)
        return replica_rows(lambda rows: self.generator.draw_noise(rows, steps, seed), batch)

    def free_running_frames(self, inputs, targets, training: bool, noise_draw: int = 0, folded=None):
        """(rollout `[batch, free_run_steps, frame_length]`, its targets), from a random true prefix.

        folded: None, or the generator's `fold_feedback()` shared with another rollout of the step.
        """
        objective = self.experiment.objective
        prefix, steps = objective.free_run_prefix, objective.free_run_steps
        last_start = tf.shape(inputs)[1] - prefix - steps
        start = tf.random.stateless_uniform(
            [], seed=self._stateless_seed(FREE_RUN_SEED_SALT, per_replica=False), minval=0, maxval=last_start + 1, dtype=tf.int32
        )
        noise = self.generator_noise(tf.shape(inputs)[0], prefix + steps, noise_draw)
        # The prefix's predictions are not trained on: the rollout starts from what the head read at its last
        # step (folded, the head is never applied to the prefix; see free_run).
        prefix_features, states = self.generator.features_with_states(
            inputs[:, start : start + prefix], training=training, noise=None if noise is None else noise[:, :prefix]
        )
        rollout = free_run(self.generator, None, states, steps, noise=None if noise is None else noise[:, prefix:],
                           first_features=prefix_features[:, -1], folded=folded)
        rollout_targets = targets[:, start + prefix : start + prefix + steps]
        return rollout, tf.ensure_shape(rollout_targets, rollout.shape)

    def regime_frames(self, inputs, targets, training: bool, noise_draw: int = 0, folded=None):
        """(predictions, the targets they estimate) under `objective.regime`.

        teacher_forcing / scheduled_sampling: `[batch, steps, frame_length]`
        both, targets unchanged; free_running: `[batch, free_run_steps,
        frame_length]` both. Subclasses should train on this pair.
        `noise_draw` 1 gives a second generation: the same regime and random
        draws (feedback mask, free-running start), independent noise.
        `folded`: a `fold_feedback()` shared between the step's rollouts (free_running), or None.
        """
        if self.experiment.objective.regime == "free_running":
            return self.free_running_frames(inputs, targets, training, noise_draw, folded=folded)
        return self.predict_frames(inputs, targets, training, noise_draw), targets

    def predict_frames(self, inputs, targets, training: bool, noise_draw: int = 0):
        """Predictions `[batch, steps, frame_length]` aligned with `targets` under the training regime.

        Free-running changes which targets the loss sees, so it is only
        available through `regime_frames`.
        """
        regime = self.experiment.objective.regime
        if regime == "free_running":
            raise ValueError("free_running predicts a sub-segment; use regime_frames(inputs, targets, training)")
        if regime == "scheduled_sampling":
            return self.scheduled_sampling_frames(inputs, self.current_sampling_probability(), training, noise_draw)
        noise = self.generator_noise(tf.shape(inputs)[0], tf.shape(inputs)[1], noise_draw)
        return self.generator(inputs, training=training, noise=noise)

    @property
    def two_generations(self) -> bool:
        """Whether a loss term compares two generations of each input (spec/energy is weighted)."""
        return ENERGY_TERM in self.experiment.objective.loss_weights

    def training_context(self, preds, targets, second=None) -> LossContext:
        """The loss context of a training step (random spec/* segments drawn per step for the global batch, `replica_rows`);
        `second`: the second generation of `preds`' input, if any (spec/energy)."""
        return LossContext(
            preds, targets, self.experiment, segment_seed=self._stateless_seed(SEGMENT_SEED_SALT, per_replica=False), training=True,
            generations=None if second is None else (preds, second),
        )

    def training_generations(self, inputs, targets):
        """(predictions, their targets, the step's LossContext) under the training regime.

        With spec/energy weighted the batch is generated twice, in the same
        regime with independent noise (`regime_frames(..., noise_draw=1)`);
        the context holds both generations. Free-running, both rollouts share
        one `fold_feedback()` (one fold product and one fold gradient per step).
        """
        folded = None
        if self.two_generations and self.experiment.objective.regime == "free_running" and self.generator.foldable:
            folded = self.generator.fold_feedback()
        preds, regime_targets = self.regime_frames(inputs, targets, training=True, folded=folded)
        second = (self.regime_frames(inputs, targets, training=True, noise_draw=1, folded=folded)[0]
                  if self.two_generations else None)
        return preds, regime_targets, self.training_context(preds, regime_targets, second)

    def validation_context(self, inputs, preds, targets) -> LossContext:
        """The loss context of a validation step; with spec/energy weighted it holds two teacher-forced
        generations drawn with fixed seeds ((train.seed + VALIDATION_NOISE_SEED_SALT, draw)), the same every epoch."""
        generations = None
        if self.two_generations and getattr(self.generator, "noise_width", 0):
            batch, steps = tf.shape(inputs)[0], tf.shape(inputs)[1]
            base = self.experiment.train.seed + VALIDATION_NOISE_SEED_SALT
            generations = tuple(
                self.generator(
                    inputs, training=False,
                    noise=replica_rows(
                        lambda rows, seed=tf.constant([base, draw], tf.int64): self.generator.draw_noise(rows, steps, seed),
                        batch,
                    ),
                )
                for draw in (0, 1)
            )
        return LossContext(preds, targets, self.experiment, generations=generations)

    def reconstruction_losses(self, ctx: LossContext) -> dict:
        return {name: fn(ctx) for name, (_, fn) in self.loss_terms.items()}

    def weighted_total(self, values: dict):
        weights = self.experiment.objective.loss_weights
        return tf.add_n([weights[name] * value for name, value in values.items()])

    def train_step(self, data):
        inputs, targets = data
        with tf.GradientTape() as tape:
            _, _, ctx = self.training_generations(inputs, targets)
            values = self.reconstruction_losses(ctx)
            loss = self.weighted_total(values)
            scaled = loss / replicas_in_sync()
        variables = self.generator.trainable_variables
        grads, norm = reduce_and_clip(tape.gradient(scaled, variables), self.experiment.train.clipnorm)
        logs = {"loss": loss, **values, **ctx.logs, "grad_norm/gen": norm}
        if self.experiment.objective.regime == "scheduled_sampling":
            logs["sampling/p"] = self.current_sampling_probability()  # before the step counter moves
        self.generator_optimizer.apply(grads, variables)
        return logs

    def test_step(self, data):
        inputs, targets = data
        preds = self.generator(inputs, training=False)
        ctx = self.validation_context(inputs, preds, targets)
        values = self.reconstruction_losses(ctx)
        return {"loss": self.weighted_total(values), **values, **ctx.logs}

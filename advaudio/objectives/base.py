"""FrameTrainer: the Keras model every objective trains, around one FrameGRU generator.

It owns what all objectives share: the training regime that decides which
frames the generator is fed, the weighted sum of named loss terms, correct
loss scaling and gradient clipping under `tf.distribute`, and the per-step
metrics the training loop logs.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from advaudio import config as config_lib
from advaudio.losses import LOSS_TERMS
from advaudio.stitching import stitch


class LossContext:
    """What a loss term sees; stitched waveforms are computed once, on demand.

    Attributes:
        pred_frames: `[batch, steps, frame_length]` generator predictions.
        target_frames: `[batch, steps, frame_length]` true next frames.
        pred_audio / target_audio: `[batch, samples]` the same frames stitched
            with the experiment's stitching method (so seams are judged).
    """

    def __init__(self, pred_frames, target_frames, experiment: config_lib.Experiment):
        self.pred_frames = pred_frames
        self.target_frames = target_frames
        self.experiment = experiment
        self._audio = {}

    def _stitched(self, key, frames):
        if key not in self._audio:
            gen = self.experiment.generate
            self._audio[key] = stitch(
                frames,
                gen.stitch,
                config_lib.frame_hop(self.experiment.data),
                window=gen.window,
                crossfade_length=gen.crossfade_length,
            )
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
        self.generator_optimizer = keras.optimizers.Adam(
            learning_rate=train.learning_rate, beta_1=train.beta_1, beta_2=train.beta_2
        )
        self.generator_optimizer.build(self.generator.trainable_variables)

    def optimizers(self) -> dict:
        """Every optimizer, by network name (checkpointed and restored together)."""
        return {"generator": self.generator_optimizer}

    def networks(self) -> dict:
        return {"generator": self.generator}

    @property
    def step_counter(self):
        """Generator updates so far (a variable)."""
        return self.generator_optimizer.iterations

    def call(self, inputs, training=None):
        return self.generator(inputs, training=training)

    def predict_frames(self, inputs, targets, training: bool):
        """Predictions `[batch, steps, frame_length]` under the training regime."""
        return self.generator(inputs, training=training)

    def reconstruction_losses(self, ctx: LossContext) -> dict:
        return {name: fn(ctx) for name, (_, fn) in self.loss_terms.items()}

    def weighted_total(self, values: dict):
        weights = self.experiment.objective.loss_weights
        return tf.add_n([weights[name] * value for name, value in values.items()])

    def train_step(self, data):
        inputs, targets = data
        with tf.GradientTape() as tape:
            preds = self.predict_frames(inputs, targets, training=True)
            values = self.reconstruction_losses(LossContext(preds, targets, self.experiment))
            loss = self.weighted_total(values)
            scaled = loss / replicas_in_sync()
        variables = self.generator.trainable_variables
        grads, norm = reduce_and_clip(tape.gradient(scaled, variables), self.experiment.train.clipnorm)
        self.generator_optimizer.apply(grads, variables)
        return {"loss": loss, **values, "grad_norm/gen": norm}

    def test_step(self, data):
        inputs, targets = data
        preds = self.generator(inputs, training=False)
        values = self.reconstruction_losses(LossContext(preds, targets, self.experiment))
        return {"loss": self.weighted_total(values), **values}

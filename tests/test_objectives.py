"""Tests for advaudio.objectives: the registry, weighted terms, the spectral objective and the training regimes."""
import warnings

import numpy as np
import pytest
import tensorflow as tf

from advaudio import config as config_lib
from advaudio.models import build_generator
from advaudio.objectives import base, build_trainer
from advaudio.objectives.spectral import stitched_segment_length
from advaudio.registry import OBJECTIVES

FRAME = 12
STEPS = 6
TINY_STFT = {"fft_sizes": (32, 16), "hop_lengths": (8, 4), "win_lengths": (24, 16)}


def tiny_experiment(**objective) -> config_lib.Experiment:
    cfg = config_lib.Experiment()
    cfg.data.frame_length = FRAME
    cfg.data.sequence_length = STEPS
    cfg.data.batch_size = 3
    cfg.model.units = 6
    cfg.generate.stitch = "crossfade"
    cfg.generate.crossfade_length = 3
    cfg.objective.stft = dict(TINY_STFT)
    for key, value in objective.items():
        setattr(cfg.objective, key, value)
    return cfg


@pytest.fixture(scope="module")
def batch():
    frames = np.random.default_rng(0).normal(size=(3, STEPS + 1, FRAME)).astype(np.float32)
    return tf.constant(frames[:, :-1]), tf.constant(frames[:, 1:])


@pytest.fixture(scope="module")
def generator():
    cfg = tiny_experiment()
    tf.keras.utils.set_random_seed(0)
    return build_generator(cfg.model, cfg.data)


def trainer_for(cfg, generator, weights=None):
    """A trainer around a fresh copy of `generator` (same weights)."""
    copy_ = build_generator(cfg.model, cfg.data)
    copy_.set_weights(generator.get_weights() if weights is None else weights)
    return build_trainer(cfg, copy_)


def manual_unroll(generator, inputs, feed_mask, stop_feedback=False):
    """Python reference of scheduled sampling: frame by frame with `generator.step`."""
    states = generator.initial_states(inputs.shape[0])
    preds, previous = [], None
    for t in range(inputs.shape[1]):
        frame = inputs[:, t]
        if t > 0:
            fed = tf.stop_gradient(previous) if stop_feedback else previous
            frame = tf.where(feed_mask[:, t : t + 1], fed, frame)
        previous, states = generator.step(frame, states)
        preds.append(previous)
    return tf.stack(preds, axis=1)


# --- registry and weighted terms ------------------------------------------------


def test_unknown_objective_lists_the_valid_ones(generator):
    cfg = tiny_experiment(name="spectrall")
    with pytest.raises(KeyError, match=r"Did you mean 'spectral'.*mse.*spectral"):
        build_trainer(cfg, generator)


def test_experiment_can_register_or_pass_its_own_objective(generator):
    calls = []

    def build_custom(gen, experiment, scale):
        calls.append(scale)
        return base.FrameTrainer(gen, experiment, name="custom_trainer")

    OBJECTIVES.register("test_custom_objective", build_custom, overwrite=True)
    trainer = build_trainer(tiny_experiment(name="test_custom_objective", params={"scale": 2}), generator)
    assert trainer.name == "custom_trainer" and calls == [2]
    trainer = build_trainer(tiny_experiment(name=build_custom, params={"scale": 3}), generator)
    assert calls == [2, 3]


@pytest.mark.slow
def test_weighted_total_logs_every_term_and_removing_a_key_removes_it(generator, batch):
    weights = {"rec/mse": 0.5, "rec/l1": 2.0, "spec/sc": 1.5, "spec/logmag": 0.25, "spec/linmag": 0.1, "spec/mel": 0.3}
    cfg = tiny_experiment(name="spectral", loss_weights=weights)
    cfg.objective.stft["n_mels"] = 4
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Empty filters detected")
        logs = trainer_for(cfg, generator).test_step(batch)
    assert set(logs) == {"loss", *weights}
    total = sum(w * float(logs[name]) for name, w in weights.items())
    assert float(logs["loss"]) == pytest.approx(total, rel=1e-5)
    inputs, targets = batch
    preds = generator(inputs)
    assert float(logs["rec/mse"]) == pytest.approx(float(tf.reduce_mean(tf.square(preds - targets))), rel=1e-5)

    ablated = tiny_experiment(name="spectral", loss_weights={"rec/mse": 0.5, "spec/sc": 1.5})
    logs2 = trainer_for(ablated, generator).test_step(batch)
    assert set(logs2) == {"loss", "rec/mse", "spec/sc"}
    assert float(logs2["spec/sc"]) == pytest.approx(float(logs["spec/sc"]), rel=1e-5)


def test_spectral_objective_needs_a_spectral_term(generator):
    with pytest.raises(ValueError, match=r"spec/\* term.*experiments/spectral.py"):
        build_trainer(tiny_experiment(name="spectral", loss_weights={"rec/mse": 1.0}), generator)


def test_spectral_resolution_longer_than_stitched_segment_names_the_fix(generator):
    cfg = tiny_experiment(name="spectral", loss_weights={"spec/sc": 1.0})
    assert stitched_segment_length(cfg) == STEPS * FRAME - (STEPS - 1) * 3
    cfg.objective.stft = {"fft_sizes": (128,), "hop_lengths": (32,), "win_lengths": (128,)}
    with pytest.raises(ValueError, match=r"fft_size=128.*57 samples(.|\n)*objective.stft(.|\n)*data.sequence_length"):
        build_trainer(cfg, generator)


@pytest.mark.slow
def test_training_steps_judge_random_segments_and_validation_whole_sequences(generator, batch):
    cfg = tiny_experiment(name="spectral", loss_weights={"spec/sc": 1.0})
    cfg.objective.stft = {**TINY_STFT, "segment_frames": 4}
    assert stitched_segment_length(cfg) == 4 * FRAME - 3 * 3
    trainer = trainer_for(cfg, generator)
    inputs, targets = batch
    ctx = trainer.training_context(trainer.generator(inputs), targets)  # step 0's segments
    seg_target, seg_pred = ctx.segment_audio(4)
    assert seg_pred.shape == (3, 4 * FRAME - 3 * 3)
    expected = float(_spec_sc(cfg, seg_target, seg_pred))
    whole = float(trainer.test_step(batch)["spec/sc"])
    assert whole == pytest.approx(float(_spec_sc(cfg, ctx.target_audio, ctx.pred_audio)), rel=1e-5)
    assert expected != pytest.approx(whole, rel=1e-3)
    assert float(trainer.train_step(batch)["spec/sc"]) == pytest.approx(expected, rel=1e-5)
    later = trainer.training_context(trainer.generator(inputs), targets)  # step 1 draws other segments
    assert not np.array_equal(later.segment_audio(4)[0].numpy(), seg_target.numpy())


def _spec_sc(cfg, target_audio, pred_audio):
    from advaudio import losses

    options = losses.stft_options(cfg)
    return losses.multi_resolution_stft_components(target_audio, pred_audio, components=("sc",), **options)["sc"]


def test_segment_shorter_than_a_resolution_names_the_fix(generator):
    cfg = tiny_experiment(name="spectral", loss_weights={"spec/sc": 1.0})
    cfg.objective.stft = {**TINY_STFT, "segment_frames": 1}
    with pytest.raises(ValueError, match=r"fft_size=32.*12 samples(.|\n)*objective.stft.segment_frames"):
        build_trainer(cfg, generator)


@pytest.mark.slow
def test_spectral_train_step_reduces_its_loss(generator, batch):
    cfg = tiny_experiment(name="spectral", loss_weights={"spec/sc": 1.0, "spec/logmag": 1.0})
    cfg.train.learning_rate = 1e-2
    trainer = trainer_for(cfg, generator)
    step = tf.function(trainer.train_step)
    first = float(trainer.test_step(batch)["loss"])
    for _ in range(15):
        logs = step(batch)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert float(trainer.test_step(batch)["loss"]) < first
    assert int(trainer.step_counter) == 15


# --- scheduled sampling ----------------------------------------------------------


@pytest.mark.parametrize("schedule", ["constant", "linear", "inverse_sigmoid"])
@pytest.mark.slow
def test_scheduled_sampling_with_p_zero_is_teacher_forcing_exactly(generator, batch, schedule):
    teacher = trainer_for(tiny_experiment(), generator)
    sampled = trainer_for(
        tiny_experiment(regime="scheduled_sampling", sampling_probability=0.0, sampling_schedule=schedule), generator
    )
    inputs, targets = batch
    np.testing.assert_array_equal(
        sampled.predict_frames(inputs, targets, training=True).numpy(),
        teacher.predict_frames(inputs, targets, training=True).numpy(),
    )
    for _ in range(2):
        logs_t, logs_s = teacher.train_step(batch), sampled.train_step(batch)
        assert float(logs_s["loss"]) == float(logs_t["loss"])
        assert float(logs_s["sampling/p"]) == 0.0
    for a, b in zip(teacher.generator.get_weights(), sampled.generator.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_unroll_without_feedback_matches_the_sequence_model(generator, batch):
    inputs, _ = batch
    never = tf.zeros(inputs.shape[:2], tf.bool)
    np.testing.assert_allclose(
        base.scheduled_sampling_unroll(generator, inputs, never).numpy(), generator(inputs).numpy(), atol=1e-5
    )


@pytest.mark.slow
def test_unroll_feeds_back_own_predictions_where_masked(generator, batch):
    inputs, _ = batch
    mask = tf.constant(np.random.default_rng(1).random(inputs.shape[:2]) < 0.5)
    got = base.scheduled_sampling_unroll(generator, inputs, mask)
    np.testing.assert_allclose(got.numpy(), manual_unroll(generator, inputs, mask).numpy(), atol=1e-6)
    assert not np.allclose(got.numpy(), generator(inputs).numpy(), atol=1e-3)  # the feedback changed something
    compiled = tf.function(base.scheduled_sampling_unroll)  # the while_loop path used in training
    np.testing.assert_allclose(compiled(generator, inputs, mask).numpy(), got.numpy(), atol=1e-6)


def test_scheduled_sampling_with_p_one_feeds_back_every_step(generator, batch):
    sampled = trainer_for(
        tiny_experiment(regime="scheduled_sampling", sampling_probability=1.0, sampling_schedule="constant"), generator
    )
    inputs, targets = batch
    always = tf.ones(inputs.shape[:2], tf.bool)
    np.testing.assert_allclose(
        sampled.predict_frames(inputs, targets, training=True).numpy(),
        manual_unroll(sampled.generator, inputs, always).numpy(),
        atol=1e-6,
    )


def fed_back_positions(generator, inputs, preds, atol=1e-4):
    """`[batch, steps]` bool: where the generator was fed its own previous prediction instead of the
    true frame, recovered from the predictions it made (at each step exactly one of the two inputs
    reproduces the prediction)."""
    inputs, preds = np.asarray(inputs), np.asarray(preds)
    fed = np.zeros(inputs.shape[:2], bool)
    pred, states = generator.step(inputs[:, 0], generator.initial_states(inputs.shape[0]))
    for t in range(1, inputs.shape[1]):
        from_true, states_true = generator.step(inputs[:, t], states)
        from_own, states_own = generator.step(preds[:, t - 1], states)
        error_true = np.abs(np.asarray(from_true) - preds[:, t]).max(axis=1)
        error_own = np.abs(np.asarray(from_own) - preds[:, t]).max(axis=1)
        assert np.all(np.minimum(error_true, error_own) < atol), "neither input reproduces the prediction"
        fed[:, t] = error_own < error_true
        states = [tf.where(fed[:, t, None], own, true) for own, true in zip(states_own, states_true)]
    return fed


@pytest.mark.parametrize("p", [0.0, 0.3, 0.8, 1.0])
def test_scheduled_sampling_frames_feed_back_at_rate_p(generator, p):
    trainer = trainer_for(tiny_experiment(regime="scheduled_sampling", sampling_probability=p), generator)
    inputs = tf.constant(np.random.default_rng(1).normal(size=(64, STEPS, FRAME)).astype(np.float32))
    preds = trainer.scheduled_sampling_frames(inputs, tf.constant(p), training=False)
    fed = fed_back_positions(trainer.generator, inputs, preds)[:, 1:]  # step 0 has nothing to feed back
    n = fed.size  # 64 * 5 independent draws: the rate is within 4 binomial standard deviations of p
    assert abs(fed.mean() - p) <= 4 * np.sqrt(p * (1 - p) / n)  # exact for p = 0 and p = 1
    again = trainer.scheduled_sampling_frames(inputs, tf.constant(p), training=False)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(preds))  # the same draws within a step


def test_sampling_schedules_hand_values():
    def p(step, schedule):
        return float(base.sampling_probability(step, 0.4, schedule, 100))

    assert [p(s, "constant") for s in (0, 50, 1000)] == pytest.approx([0.4, 0.4, 0.4])
    assert [p(s, "linear") for s in (0, 25, 100, 1000)] == pytest.approx([0.0, 0.1, 0.4, 0.4])
    assert p(50, "inverse_sigmoid") == pytest.approx(0.2)
    assert p(0, "inverse_sigmoid") == pytest.approx(0.4 / (1 + np.exp(5)), rel=1e-5)
    assert p(100, "inverse_sigmoid") == pytest.approx(0.4 / (1 + np.exp(-5)), rel=1e-5)
    with pytest.raises(ValueError, match="sampling_schedule"):
        base.sampling_probability(0, 0.4, "cosine", 100)


@pytest.mark.slow
def test_scheduled_sampling_logs_the_scheduled_p(generator, batch):
    cfg = tiny_experiment(regime="scheduled_sampling", sampling_probability=0.5, sampling_schedule="linear", sampling_ramp_steps=4)
    trainer = trainer_for(cfg, generator)
    step = tf.function(trainer.train_step)
    seen = [float(step(batch)["sampling/p"]) for _ in range(3)]
    assert seen == pytest.approx([0.0, 0.125, 0.25])


# --- free-running ----------------------------------------------------------------


def test_free_run_gradient_reaches_the_first_unrolled_step(generator, batch):
    inputs, _ = batch
    _, states = generator.call_with_states(inputs[:, :2])
    first = tf.Variable(inputs[:, 2])
    with tf.GradientTape(persistent=True) as tape:
        rollout = base.free_run(generator, first, states, steps=4)
        last = tf.reduce_sum(tf.square(rollout[:, -1]))  # loss on the last rollout frame only
        # reference: the same rollout in Python, once with and once without gradient through the fed-back frames
        frame, s, ref = first, states, []
        for _ in range(4):
            frame, s = generator.step(frame, s)
            ref.append(frame)
        ref_last = tf.reduce_sum(tf.square(ref[-1]))
        frame, s = first, states
        for _ in range(4):
            frame, s = generator.step(tf.stop_gradient(frame) if frame is not first else frame, s)
        cut_last = tf.reduce_sum(tf.square(frame))
    np.testing.assert_allclose(rollout.numpy(), tf.stack(ref, axis=1).numpy(), atol=1e-6)
    grad, ref_grad, cut_grad = (tape.gradient(v, first).numpy() for v in (last, ref_last, cut_last))
    assert np.abs(grad).max() > 0
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-4, atol=1e-7)
    assert not np.allclose(grad, cut_grad, rtol=1e-3, atol=1e-7)  # the fed-back frames carry gradient


@pytest.mark.slow
def test_free_running_trains_on_the_rollout_after_a_true_prefix(generator, batch):
    cfg = tiny_experiment(name="spectral", regime="free_running", free_run_prefix=2, free_run_steps=3,
                          loss_weights={"spec/sc": 1.0, "rec/mse": 1.0})
    cfg.objective.stft = {"fft_sizes": (16,), "hop_lengths": (4,), "win_lengths": (12,)}
    trainer = trainer_for(cfg, generator)
    inputs, targets = batch
    preds, rollout_targets = trainer.regime_frames(inputs, targets, training=True)
    assert preds.shape == rollout_targets.shape == (3, 3, FRAME)
    # Locate the random start from the targets, then rebuild the rollout by hand.
    (start,) = [s for s in range(STEPS - 5 + 1) if np.array_equal(targets[:, s + 2 : s + 5].numpy(), rollout_targets.numpy())]
    prefix_preds, states = trainer.generator.call_with_states(inputs[:, start : start + 2])
    frame, expected = prefix_preds[:, -1], []
    for _ in range(3):
        frame, states = trainer.generator.step(frame, states)
        expected.append(frame)
    np.testing.assert_allclose(preds.numpy(), tf.stack(expected, axis=1).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="regime_frames"):
        trainer.predict_frames(inputs, targets, training=True)
    logs = tf.function(trainer.train_step)(batch)
    assert set(logs) == {"loss", "spec/sc", "rec/mse", "grad_norm/gen"}
    assert all(np.isfinite(float(v)) for v in logs.values()) and float(logs["grad_norm/gen"]) > 0


def test_free_running_checks_sizes_and_warns_on_mse_only(generator):
    with pytest.raises(ValueError, match="free_run_prefix.*data.sequence_length"):
        trainer_for(tiny_experiment(regime="free_running", free_run_prefix=4, free_run_steps=3), generator)
    with pytest.warns(UserWarning, match="repeated"):
        trainer_for(tiny_experiment(regime="free_running", free_run_prefix=2, free_run_steps=3), generator)
    with pytest.raises(ValueError, match="objective.regime"):
        trainer_for(tiny_experiment(regime="professor_forcing"), generator)


@pytest.mark.slow
def test_spectral_training_gradient_is_computed_with_the_value_and_equals_autodiff(generator, batch, monkeypatch):
    """A training step's spec/* terms use the gradient computed with their values (the exact
    recomputing path is poisoned here, so using it would give NaN), and it is autodiff's gradient."""
    from advaudio import losses

    monkeypatch.setattr(losses, "_exact_gradient", lambda y_true, y_pred, *args: tf.fill(tf.shape(y_pred), np.nan))
    cfg = tiny_experiment(name="spectral", loss_weights={"spec/sc": 1.0, "spec/logmag": 0.5, "rec/mse": 0.3})
    trainer = trainer_for(cfg, generator)
    inputs, targets = batch
    variables = trainer.generator.trainable_variables

    def gradients(make_context):
        with tf.GradientTape() as tape:
            preds = trainer.generator(inputs, training=True)
            loss = trainer.weighted_total(trainer.reconstruction_losses(make_context(preds)))
        return float(loss), tape.gradient(loss, variables)

    loss, fused = gradients(lambda preds: trainer.training_context(preds, targets))
    reference_loss, reference = gradients(lambda preds: base.LossContext(preds, targets, cfg))  # no training flag
    assert loss == pytest.approx(reference_loss, rel=1e-6)
    for got, expected in zip(fused, reference):
        assert np.isfinite(got.numpy()).all()
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-6)

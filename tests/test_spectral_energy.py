"""spec/energy in training: the config check, two generations per step in the same regime, logging, validation."""
import numpy as np
import pytest
import tensorflow as tf

from advaudio import config as config_lib
from advaudio import losses
from advaudio.models import build_generator
from advaudio.objectives import build_trainer
from advaudio.objectives.checks import check_frame_objective

FRAME, STEPS, NOISE = 12, 6, 3
TINY_STFT = {"fft_sizes": (32, 16), "hop_lengths": (8, 4), "win_lengths": (24, 16)}


def energy_experiment(noise_dim=NOISE, **objective) -> config_lib.Experiment:
    cfg = config_lib.Experiment()
    cfg.data.frame_length, cfg.data.sequence_length, cfg.data.batch_size = FRAME, STEPS, 3
    cfg.model.units, cfg.model.noise_dim = 6, noise_dim
    cfg.generate.stitch, cfg.generate.crossfade_length = "crossfade", 3
    cfg.objective.name = "spectral"
    cfg.objective.loss_weights = {"spec/energy": 1.0, "rec/mse": 0.5}
    cfg.objective.stft = dict(TINY_STFT)
    for key, value in objective.items():
        setattr(cfg.objective, key, value)
    return cfg


def make_trainer(cfg):
    tf.keras.utils.set_random_seed(0)
    return build_trainer(cfg, build_generator(cfg.model, cfg.data))


@pytest.fixture(scope="module")
def batch():
    frames = np.random.default_rng(0).normal(size=(3, STEPS + 1, FRAME)).astype(np.float32)
    return tf.constant(frames[:, :-1]), tf.constant(frames[:, 1:])


def test_config_check_refuses_a_deterministic_generator_naming_the_key_and_fix():
    with pytest.raises(ValueError, match=r"spec/energy(.|\n)*model.noise_dim=0(.|\n)*--set model.noise_dim="):
        check_frame_objective(energy_experiment(noise_dim=0))
    check_frame_objective(energy_experiment())  # a stochastic generator passes
    with pytest.raises(ValueError, match="model.noise_dim"):  # and so does the trainer itself
        cfg = energy_experiment()
        build_trainer(energy_experiment(noise_dim=0), build_generator(cfg.model.__class__(units=6), cfg.data))


@pytest.mark.slow
def test_train_step_trains_on_the_energy_of_two_generations(batch):
    trainer = make_trainer(energy_experiment())
    logs = {k: float(v) for k, v in tf.function(trainer.train_step)(batch).items()}
    assert all(np.isfinite(v) for v in logs.values()), logs
    assert logs["spec/energy"] == pytest.approx(logs["energy/attractive"] - logs["energy/repulsive"], rel=1e-5, abs=1e-6)
    assert logs["energy/repulsive"] > 0  # independent noise: the two generations differ
    assert logs["loss"] == pytest.approx(logs["spec/energy"] + 0.5 * logs["rec/mse"], rel=1e-5)
    validation = {k: float(v) for k, v in trainer.test_step(batch).items()}
    again = {k: float(v) for k, v in trainer.test_step(batch).items()}
    assert validation == again and validation["energy/repulsive"] > 0  # fixed validation noise


@pytest.mark.slow
def test_the_step_s_terms_are_the_energy_of_its_two_generations(batch):
    """The logged value is spectral_energy_distance of the target and the two regime generations, stitched."""
    trainer = make_trainer(energy_experiment())
    inputs, targets = batch
    step = trainer.step_counter.numpy()
    preds, regime_targets, ctx = trainer.training_generations(inputs, targets)
    second = trainer.regime_frames(inputs, targets, training=True, noise_draw=1)[0]
    np.testing.assert_array_equal(ctx.generations[1].numpy(), second.numpy())
    assert not np.allclose(preds.numpy(), second.numpy(), atol=1e-4)
    expected = losses.spectral_energy_distance(
        ctx._stitch(targets), ctx._stitch(preds), ctx._stitch(second), **losses.stft_options(trainer.experiment)
    )
    logs = trainer.train_step(batch)
    assert trainer.step_counter.numpy() == step + 1
    assert float(logs["spec/energy"]) == pytest.approx(float(expected["energy"]), rel=1e-4)


@pytest.mark.parametrize("regime", ["scheduled_sampling", "free_running"])
def test_second_generation_shares_the_regime_s_draws_but_not_the_noise(batch, regime):
    cfg = energy_experiment(regime=regime, sampling_probability=1.0, sampling_schedule="constant", free_run_prefix=1,
                            free_run_steps=5)
    trainer = make_trainer(cfg)
    inputs, targets = batch
    first, first_targets = trainer.regime_frames(inputs, targets, training=True)
    second, second_targets = trainer.regime_frames(inputs, targets, training=True, noise_draw=1)
    np.testing.assert_array_equal(first_targets.numpy(), second_targets.numpy())  # same free-running start
    assert not np.allclose(first.numpy(), second.numpy(), atol=1e-4)
    if regime == "scheduled_sampling":  # p = 1: every frame fed back in both, so only the noise tells them apart
        again = trainer.scheduled_sampling_frames(inputs, tf.constant(1.0), True, noise_draw=1)
        np.testing.assert_allclose(again.numpy(), second.numpy(), atol=1e-6)


@pytest.mark.slow
def test_gan_trains_with_the_energy_term_too(batch):
    cfg = energy_experiment()
    cfg.objective.name = "gan_denoise"
    cfg.objective.loss_weights = {"spec/energy": 1.0, "adv/gen": 1.0}
    cfg.objective.adversarial.discriminator_params = dict(scales=1, channels=4, max_channels=8, downsample_factors=(2,))
    cfg.objective.adversarial.d_start_step = 0
    trainer = make_trainer(cfg)
    logs = {k: float(v) for k, v in trainer.train_step(batch).items()}
    assert all(np.isfinite(v) for v in logs.values()), logs
    assert logs["energy/repulsive"] > 0 and logs["d/loss"] > 0
    assert logs["loss"] == pytest.approx(logs["spec/energy"] + logs["adv/gen"], rel=1e-5)
    validation = {k: float(v) for k, v in trainer.test_step(batch).items()}
    assert validation["loss"] == pytest.approx(validation["spec/energy"], rel=1e-5) and "energy/attractive" in validation


@pytest.mark.slow
def test_free_running_generations_share_one_fold_with_the_same_gradients(batch, monkeypatch):
    """Both rollouts of a free-running energy step use one fold_feedback() (one fold product and one fold
    gradient per step); the loss and every gradient equal those of two separately folded rollouts."""
    trainer = make_trainer(energy_experiment(regime="free_running", free_run_prefix=1, free_run_steps=5))
    inputs, targets = batch
    generator = trainer.generator
    calls = []
    fold = generator.fold_feedback
    monkeypatch.setattr(generator, "fold_feedback", lambda *a, **k: calls.append(1) or fold(*a, **k))

    def loss_and_gradients(shared: bool):
        calls.clear()
        with tf.GradientTape() as tape:
            if shared:
                ctx = trainer.training_generations(inputs, targets)[2]
            else:
                first, regime_targets = trainer.regime_frames(inputs, targets, training=True)
                second = trainer.regime_frames(inputs, targets, training=True, noise_draw=1)[0]
                ctx = trainer.training_context(first, regime_targets, second)
            loss = trainer.weighted_total(trainer.reconstruction_losses(ctx))
        return [loss] + tape.gradient(loss, generator.trainable_variables), len(calls)

    shared, shared_calls = loss_and_gradients(True)
    separate, separate_calls = loss_and_gradients(False)
    assert (shared_calls, separate_calls) == (1, 2)
    for a, b in zip(shared, separate):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)

"""Config checks of the objectives built on FrameTrainer, run by `config.validate` before any data is read.

Each objective registers its check with its factory (`OBJECTIVES.register(name, check=...)`); the
built-ins compose `check_frame_objective` with their own. A check raises ValueError whose message has
one line per problem, each naming the key, the value and the valid choices or the nearest one. Options a
run does not use are not checked (the sampling schedule's ramp under teacher forcing, say), names are.
"""
from __future__ import annotations

import math

from advaudio import config as config_lib
from advaudio.objectives.base import REGIMES, SAMPLING_SCHEDULES
from advaudio.registry import LOSS_TERMS, nearest


def _choice(key: str, value, choices) -> list[str]:
    if value in choices:
        return []
    return [f"{key}={value!r} is not one of {', '.join(choices)}.{nearest(value, choices)}"]


def regime_problems(experiment: config_lib.Experiment) -> list[str]:
    """`objective.regime` and the options of the regime in use."""
    objective, data = experiment.objective, experiment.data
    problems = _choice("objective.regime", objective.regime, REGIMES)
    problems += _choice("objective.sampling_schedule", objective.sampling_schedule, SAMPLING_SCHEDULES)
    if objective.regime == "scheduled_sampling":
        if not 0.0 <= objective.sampling_probability <= 1.0:
            problems.append(f"objective.sampling_probability={objective.sampling_probability!r} must be in [0, 1]")
        if objective.sampling_ramp_steps < 0:
            problems.append(f"objective.sampling_ramp_steps={objective.sampling_ramp_steps!r} must be >= 0")
    if objective.regime == "free_running":
        prefix, steps, length = objective.free_run_prefix, objective.free_run_steps, data.sequence_length
        for key, value in (("objective.free_run_prefix", prefix), ("objective.free_run_steps", steps)):
            if value < 1:
                problems.append(f"{key}={value!r} must be >= 1")
        if prefix >= 1 and steps >= 1 and prefix + steps > length:
            problems.append(
                f"objective.free_run_prefix={prefix} + objective.free_run_steps={steps} must be <= "
                f"data.sequence_length={length}; lower them or raise data.sequence_length"
            )
    return problems


def loss_weight_problems(experiment: config_lib.Experiment, own_terms: tuple[str, ...] = ()) -> list[str]:
    """`objective.loss_weights`: non-empty, finite weights >= 0, every name a term this objective can use
    (the registered loss terms, plus `own_terms` the objective computes itself, e.g. the GAN's adv/*)."""
    weights, name = experiment.objective.loss_weights, experiment.objective.name
    label = repr(name) if isinstance(name, str) else "this objective"
    if not weights:
        return ["objective.loss_weights is empty; give at least one term, e.g. {'rec/mse': 1.0}"]
    usable = sorted(set(LOSS_TERMS.names()) | set(own_terms))
    problems = []
    for term, weight in weights.items():
        if term not in usable:
            hint = " (adv/* terms need a discriminator: objective 'gan_denoise')" if str(term).startswith("adv/") else ""
            problems.append(
                f"objective.loss_weights: {term!r} is not a term objective {label} can use.{nearest(term, usable)}"
                f"{hint} Terms: {', '.join(usable)}"
            )
        elif isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
            problems.append(f"objective.loss_weights[{term!r}]={weight!r} must be a finite number >= 0")
    for term in weights:  # a term's own check, registered with it (spec/energy: model.noise_dim > 0)
        term_check = LOSS_TERMS.check_of(term) if term in LOSS_TERMS else None
        if term_check is not None:
            problems += list(term_check(experiment) or [])
    return problems


def stft_problems(experiment: config_lib.Experiment) -> list[str]:
    """`objective.stft` through the losses' own checks; the resolutions against the stitched segment
    only when a spec/* term is weighted."""
    from advaudio.losses import (
        SEGMENT_OPTION,
        STFT_OPTIONS,
        check_resolutions,
        stft_options,
        stft_resolutions,
        stft_segment_frames,
    )

    try:
        resolutions = stft_resolutions(stft_options(experiment))
        stft_segment_frames(experiment)
        check_resolutions(*resolutions)
        if any(str(term).startswith("spec/") for term in experiment.objective.loss_weights):
            from advaudio.objectives.spectral import stitched_segment_length

            check_resolutions(*resolutions, stitched_segment_length(experiment))
    except (ValueError, TypeError) as err:
        unknown = [k for k in experiment.objective.stft if k not in STFT_OPTIONS + (SEGMENT_OPTION,)]
        hints = "".join(nearest(k, STFT_OPTIONS + (SEGMENT_OPTION,)) for k in unknown)
        return [f"{err}{hints}"]
    return []


def params_problems(experiment: config_lib.Experiment) -> list[str]:
    """The built-in objectives take no `objective.params` (custom objectives may)."""
    params = experiment.objective.params
    if params:
        return [f"objective.params={params!r}: objective {experiment.objective.name!r} takes no params"]
    return []


def check_frame_objective(experiment: config_lib.Experiment, own_terms: tuple[str, ...] = ()) -> None:
    """Every check a FrameTrainer-based objective shares: regime, loss weights, STFT options, params.

    Raises:
        ValueError: one line per problem.
    """
    problems = params_problems(experiment) + regime_problems(experiment)
    weight_problems = loss_weight_problems(experiment, own_terms)
    problems += weight_problems
    if not weight_problems:  # the STFT check stitches with the configured terms
        problems += stft_problems(experiment)
    if problems:
        raise ValueError("\n".join(problems))


def check_gan_denoise(experiment: config_lib.Experiment) -> None:
    """The denoising GAN's checks: the shared ones (with adv/gen, adv/feat as its own terms), its
    `objective.adversarial` section, the adversarial loss and the discriminator's name and params
    (by signature: nothing is built).

    Raises:
        ValueError: one line per problem.
    """
    from advaudio.objectives.gan_denoise import GanDenoiseTrainer, check_adversarial_config, discriminator_input_length
    from advaudio.registry import ADVERSARIAL_LOSSES, DISCRIMINATORS

    adv = experiment.objective.adversarial
    problems = []
    try:
        check_frame_objective(experiment, own_terms=GanDenoiseTrainer.adversarial_terms)
    except ValueError as err:
        problems += str(err).splitlines()
    if adv.loss not in ADVERSARIAL_LOSSES:
        problems.append(f"objective.adversarial.loss={adv.loss!r}: {ADVERSARIAL_LOSSES.unknown_message(adv.loss)}")
    problems += _choice("objective.adversarial.input", adv.input, ("frames", "stitched"))
    for key in ("d_learning_rate", "d_clipnorm"):
        if not getattr(adv, key) > 0:
            problems.append(f"objective.adversarial.{key}={getattr(adv, key)!r} must be > 0")
    for key in ("d_start_step", "gradient_penalty"):
        if getattr(adv, key) < 0:
            problems.append(f"objective.adversarial.{key}={getattr(adv, key)!r} must be >= 0")
    for key in ("d_beta_1", "d_beta_2"):
        if not 0.0 <= getattr(adv, key) < 1.0:
            problems.append(f"objective.adversarial.{key}={getattr(adv, key)!r} must be in [0, 1)")
    for key in ("real_share", "fake_share", "noisy_share", "noise_share"):
        if getattr(adv, key) < 0:
            problems.append(f"objective.adversarial.{key}={getattr(adv, key)!r} must be >= 0")
    try:
        param_check = DISCRIMINATORS.check_of(adv.discriminator)
    except KeyError as err:
        problems.append(f"objective.adversarial.discriminator={adv.discriminator!r}: {err.args[0]}")
    else:
        try:
            if param_check is not None:
                param_check(adv.discriminator_params)
        except ValueError as err:
            problems.append(f"objective.adversarial.discriminator_params: {err}")
    if not problems:  # these assume valid names and numbers
        for check in (check_adversarial_config, discriminator_input_length):
            try:
                check(experiment)
            except ValueError as err:
                problems.append(str(err))
                break
    if problems:
        raise ValueError("\n".join(problems))

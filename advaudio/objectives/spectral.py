"""The spectral objective: multi-resolution STFT terms on the stitched waveforms.

The experiment file sets the terms and their weights (`objective.loss_weights`,
e.g. `{'spec/sc': 1.0, 'spec/logmag': 1.0}`, see experiments/spectral.py); this
builder never rewrites them, so the config a run saves is the config it trained.
It checks at build time that a spectral term is present and that every STFT
resolution fits the stitched segment, instead of failing at the first step.
"""
from __future__ import annotations

from advaudio import config as config_lib
from advaudio.losses import check_resolutions, stft_options, stft_resolutions, stft_segment_frames
from advaudio.objectives.base import FrameTrainer, regime_segment_frames
from advaudio.objectives.checks import check_frame_objective
from advaudio.registry import OBJECTIVES
from advaudio.stitching import resolve_method, stitched_length


def stitched_segment_length(experiment: config_lib.Experiment) -> int:
    """Samples of the stitched waveform the spectral terms see in one training example
    (`objective.stft.segment_frames` of the frames the regime predicts, or all of them)."""
    data, generate = experiment.data, experiment.generate
    hop = config_lib.frame_hop(data)
    method = resolve_method(generate.stitch, data.frame_length, hop)
    frames = regime_segment_frames(experiment)
    segment = stft_segment_frames(experiment)
    if segment is not None:
        frames = min(frames, segment)
    return stitched_length(method, frames, data.frame_length, hop, generate.crossfade_length)


def check_spectral_config(experiment: config_lib.Experiment) -> None:
    """Raises ValueError if no spec/* term is weighted or a resolution exceeds the stitched segment."""
    weights = experiment.objective.loss_weights
    if not any(name.startswith("spec/") for name in weights):
        raise ValueError(
            "objective 'spectral' needs at least one spec/* term in objective.loss_weights, got "
            f"{sorted(weights)}; e.g. --set \"objective.loss_weights={{'spec/sc': 1.0, 'spec/logmag': 1.0}}\" "
            "or start from experiments/spectral.py"
        )
    check_resolutions(*stft_resolutions(stft_options(experiment)), stitched_segment_length(experiment))


def check_spectral(experiment: config_lib.Experiment) -> None:
    """Every check of the objective, without building anything (`config.validate` runs it)."""
    check_frame_objective(experiment)
    check_spectral_config(experiment)


@OBJECTIVES.register("spectral", check=check_spectral)
def build_spectral(generator, experiment, **params) -> FrameTrainer:
    """Weighted spec/* (and optionally rec/*) terms; options in `objective.stft`."""
    if params:
        raise TypeError(f"objective 'spectral' takes no objective.params, got {sorted(params)}")
    check_spectral_config(experiment)
    return FrameTrainer(generator, experiment, name="spectral_trainer")

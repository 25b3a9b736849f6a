"""The MSE baseline: the 2016 objective, done right (teacher-forced next-frame MSE)."""
from __future__ import annotations

from advaudio.objectives.base import FrameTrainer
from advaudio.objectives.checks import check_frame_objective
from advaudio.registry import OBJECTIVES


@OBJECTIVES.register("mse", check=check_frame_objective)
def build_mse(generator, experiment, **params) -> FrameTrainer:
    """Weighted reconstruction terms (default `{'rec/mse': 1.0}`) on predicted frames."""
    if params:
        raise TypeError(f"objective 'mse' takes no objective.params, got {sorted(params)}")
    return FrameTrainer(generator, experiment, name="mse_trainer")

"""Objectives: each turns the experiment config into a trainable FrameTrainer.

Importing this package registers the built-in objectives in
`registry.OBJECTIVES`; an experiment file may register its own or set
`objective.name` to a callable `(generator, experiment, **params) -> FrameTrainer`.
"""
from __future__ import annotations

from advaudio.objectives import gan_denoise, mse, spectral  # noqa: F401  (registers the built-ins)
from advaudio.registry import OBJECTIVES


def build_trainer(experiment, generator):
    """Builds the configured objective's trainer around `generator`.

    Call inside `strategy.scope()`.
    """
    objective = experiment.objective
    return OBJECTIVES.build(objective.name, generator, experiment, **objective.params)

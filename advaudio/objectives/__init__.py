"""Objectives: each turns the experiment config into a trainable FrameTrainer.

Importing this package registers the built-in objectives in
`registry.OBJECTIVES`; an experiment file may register its own or set
`objective.name` to a callable `(generator, experiment, **params) -> FrameTrainer`.
"""
from __future__ import annotations

import importlib

from advaudio.registry import OBJECTIVES

_BUILT_IN = ("mse", "spectral", "gan_denoise")

for _module in _BUILT_IN:
    try:
        importlib.import_module(f"advaudio.objectives.{_module}")
    except ModuleNotFoundError as err:  # a module not written yet in this checkout
        if err.name != f"advaudio.objectives.{_module}":
            raise


def build_trainer(experiment, generator):
    """Builds the configured objective's trainer around `generator`.

    Call inside `strategy.scope()`.
    """
    objective = experiment.objective
    return OBJECTIVES.build(objective.name, generator, experiment, **objective.params)

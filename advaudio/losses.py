"""Loss functions on frames and waveforms, and the named loss terms objectives combine.

Pure functions carry their formula in the docstring; `LOSS_TERMS` maps a
namespaced term name (`rec/mse`, `spec/sc`, ...) to a factory that builds the
term from the experiment config.
"""
from __future__ import annotations

import keras
from keras import ops

from advaudio.registry import LOSS_TERMS


def mean_squared_error(y_true, y_pred):
    """mean((y_true - y_pred)^2) over every element."""
    return ops.mean(ops.square(y_true - y_pred))


def mean_absolute_error(y_true, y_pred):
    """mean(|y_true - y_pred|) over every element."""
    return ops.mean(ops.abs(y_true - y_pred))


@LOSS_TERMS.register("rec/mse")
def rec_mse_term(experiment):
    """MSE between predicted and target frames `[batch, steps, frame_length]`."""
    return lambda ctx: mean_squared_error(ctx.target_frames, ctx.pred_frames)


@LOSS_TERMS.register("rec/l1")
def rec_l1_term(experiment):
    """L1 between predicted and target frames."""
    return lambda ctx: mean_absolute_error(ctx.target_frames, ctx.pred_frames)

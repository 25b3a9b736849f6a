"""Tests for advaudio/checkpoints.py: writing, pruning, the index, finding and loading weights."""
import json
import math

import numpy as np
import pytest

from advaudio import config as config_lib
from advaudio.checkpoints import (
    checkpoint_entry,
    load_generator,
    read_index,
    save_generator_checkpoint,
)
from advaudio.models import build_generator


@pytest.fixture(scope="module")
def experiment():
    cfg = config_lib.Experiment(name="tiny")
    cfg.data.frame_length = 8
    cfg.model.units = 4
    cfg.model.layers = 1
    return cfg


def first_weight(generator):
    return generator.get_weights()[0].copy()


def save_epochs(run_dir, experiment, val_losses, keep_last, eligible=None, best_by="val_loss", scores=None):
    """Saves one checkpoint per val loss with distinct weights; returns the weights saved per epoch."""
    config_lib.save_json(experiment, run_dir / "config.json")
    generator = build_generator(experiment.model, experiment.data)
    saved = {}
    for epoch, val in enumerate(val_losses, start=1):
        generator.set_weights([w + epoch for w in generator.get_weights()])
        save_generator_checkpoint(run_dir, generator, epoch=epoch, step=10 * epoch, val_loss=val, keep_last=keep_last,
                                  eligible=True if eligible is None else eligible[epoch - 1], best_by=best_by,
                                  score=None if scores is None else scores[epoch - 1])
        saved[epoch] = first_weight(generator)
    return saved


def test_best_is_the_best_eligible_epoch(tmp_path, experiment):
    # A GAN: epochs 1-2 are the reconstruction-only warm-up (lowest val loss), D trains from epoch 3.
    saved = save_epochs(tmp_path, experiment, [1.0, 0.5, 3.0, 2.0, 2.5], keep_last=5,
                        eligible=[False, False, True, True, True])
    best = json.loads((tmp_path / "checkpoints" / "index.json").read_text())["best"]
    assert (best["epoch"], best["eligible"]) == (4, True)
    np.testing.assert_array_equal(load_generator(tmp_path, "best")[0].get_weights()[0], saved[4])


def test_before_any_eligible_epoch_best_is_the_best_of_the_others(tmp_path, experiment):
    save_epochs(tmp_path, experiment, [2.0, 1.0], keep_last=5, eligible=[False, False])
    best = json.loads((tmp_path / "checkpoints" / "index.json").read_text())["best"]
    assert (best["epoch"], best["eligible"]) == (2, False)
    save_generator_checkpoint(tmp_path, build_generator(experiment.model, experiment.data), epoch=3, step=30,
                              val_loss=9.0, keep_last=5, eligible=True)
    assert json.loads((tmp_path / "checkpoints" / "index.json").read_text())["best"]["epoch"] == 3


def test_best_last_and_pruning(tmp_path, experiment):
    saved = save_epochs(tmp_path, experiment, [3.0, 1.0, 2.0], keep_last=2)
    folder = tmp_path / "checkpoints"
    assert not (folder / "generator-epoch0001.weights.h5").exists()
    assert (folder / "generator-epoch0002.weights.h5").is_file()
    assert (folder / "generator-epoch0003.weights.h5").is_file()
    index = json.loads((folder / "index.json").read_text())
    assert index["best"] == {"epoch": 2, "val_loss": 1.0, "path": "checkpoints/generator-best.weights.h5", "step": 20,
                             "eligible": True, "best_by": "val_loss", "score": 1.0}
    assert [e["epoch"] for e in index["epochs"]] == [2, 3]
    assert index["epochs"][-1] == {"epoch": 3, "path": "checkpoints/generator-epoch0003.weights.h5", "step": 30, "val_loss": 2.0,
                                   "eligible": True, "best_by": "val_loss", "score": 2.0}
    assert not list(folder.glob("tmp-*")) and not list(folder.glob("*.tmp"))

    assert tmp_path / checkpoint_entry(tmp_path, "best")["path"] == folder / "generator-best.weights.h5"
    assert tmp_path / checkpoint_entry(tmp_path, "last")["path"] == folder / "generator-epoch0003.weights.h5"
    assert tmp_path / checkpoint_entry(tmp_path, 2)["path"] == folder / "generator-epoch0002.weights.h5"
    assert tmp_path / checkpoint_entry(tmp_path, "2")["path"] == folder / "generator-epoch0002.weights.h5"

    for which, epoch in [("best", 2), ("last", 3), (3, 3)]:
        generator, info = load_generator(tmp_path, which)
        np.testing.assert_array_equal(first_weight(generator), saved[epoch])
        assert info["epoch"] == epoch and info["step"] == 10 * epoch


def test_missing_checkpoints_name_what_exists(tmp_path, experiment):
    save_epochs(tmp_path, experiment, [1.0, 2.0], keep_last=1)
    with pytest.raises(FileNotFoundError, match="available: best, last, 2"):
        checkpoint_entry(tmp_path, 1)
    with pytest.raises(ValueError, match="best"):
        checkpoint_entry(tmp_path, "worst")
    with pytest.raises(FileNotFoundError, match="none"):
        checkpoint_entry(tmp_path / "elsewhere", "best")


def test_without_validation_the_latest_is_best_and_nan_never_is(tmp_path, experiment):
    save_epochs(tmp_path, experiment, [None, None], keep_last=3)
    assert read_index(tmp_path)["best"]["epoch"] == 2
    other = tmp_path / "nan"
    other.mkdir()
    save_epochs(other, experiment, [2.0, math.nan, 1.5], keep_last=3)
    index = read_index(other)
    assert index["best"]["epoch"] == 3
    assert [e["epoch"] for e in index["epochs"]] == [1, 2, 3]


@pytest.mark.parametrize("best_by, scores, best_epoch", [
    ("gen/seam_ratio", [2.0, 1.1, 0.8, 1.3], 2),  # closest to 1 on a log scale: |log 1.1| < |log 0.8| < |log 1.3|
    ("gen/kid_mfcc", [0.5, 0.2, 0.3, -0.01], 4),  # lower is better (an unbiased estimate may dip below 0)
    ("gen/level_drift_db", [-8.0, 3.0, -2.0, 5.0], 3),  # closest to 0 dB
    ("gen/composite", [math.nan, 1.5, math.nan, 0.9], 4),  # NaN (silent output) is never best
])
def test_best_by_a_generation_metric_follows_its_direction(tmp_path, experiment, best_by, scores, best_epoch):
    # The validation losses would choose epoch 1; best_by overrides them.
    save_epochs(tmp_path, experiment, [0.1, 0.5, 0.6, 0.7], keep_last=4, best_by=best_by, scores=scores)
    index = read_index(tmp_path)
    assert index["best"]["epoch"] == best_epoch and index["best"]["best_by"] == best_by
    assert index["best"]["score"] == scores[best_epoch - 1]
    assert [e["score"] for e in index["epochs"]] == pytest.approx(scores, nan_ok=True)


def test_some_epoch_is_best_even_when_every_score_is_nan(tmp_path, experiment):
    save_epochs(tmp_path, experiment, [1.0, 1.0], keep_last=2, best_by="gen/composite", scores=[math.nan, math.nan])
    assert read_index(tmp_path)["best"]["epoch"] == 2  # the latest, so generation has a checkpoint to load


def test_best_by_a_generation_metric_needs_its_score(tmp_path, experiment):
    with pytest.raises(ValueError, match="gen/mr_stft"):
        save_epochs(tmp_path, experiment, [1.0], keep_last=1, best_by="gen/mr_stft", scores=[None])


def test_a_resumed_run_that_changes_best_by_judges_by_the_new_choice(tmp_path, experiment):
    save_epochs(tmp_path, experiment, [0.1, 0.2], keep_last=3)
    generator = build_generator(experiment.model, experiment.data)
    save_generator_checkpoint(tmp_path, generator, epoch=3, step=30, val_loss=0.9, keep_last=3,
                              best_by="gen/mr_stft", score=2.0)
    best = read_index(tmp_path)["best"]
    assert best["epoch"] == 3 and best["best_by"] == "gen/mr_stft"

"""Generator weight checkpoints in a run folder: writing (training) and finding and loading (generation).

Layout (the run-folder contract): `checkpoints/generator-epoch0003.weights.h5`
every epoch (the last `keep_last` kept), `checkpoints/generator-best.weights.h5`
(best by `train.best_by`: validation loss by default, or a gen/* value of the
generation check) and `checkpoints/index.json`:
`{"best": {"epoch", "val_loss", "path", "step", "eligible", "best_by", "score"}, "epochs": [{"epoch", "path", "step",
"val_loss", "eligible", "best_by", "score"}, ...]}` with paths relative to the run folder; `score` is the value of
`best_by` that epoch.
"""
from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

CHECKPOINT_DIR = "checkpoints"
INDEX_FILE = "index.json"
BEST_FILE = "generator-best.weights.h5"


def epoch_file(epoch: int) -> str:
    return f"generator-epoch{epoch:04d}.weights.h5"


def read_index(run_dir: str | Path) -> dict:
    """The run's checkpoints/index.json, or an empty index if there is none yet."""
    path = Path(run_dir) / CHECKPOINT_DIR / INDEX_FILE
    if not path.is_file():
        return {"best": None, "epochs": []}
    return json.loads(path.read_text())


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _badness(best_by: str, value: float | None) -> float | None:
    """`value` of `best_by` as a distance from ideal (lower is better; generation_check.DIRECTIONS)."""
    if value is None:
        return None
    from advaudio.evaluation.generation_check import badness

    return badness(best_by, value)


def is_better(val_loss: float | None, best: dict | None, eligible: bool = True, best_by: str = "val_loss") -> bool:
    """Whether this epoch, whose `best_by` value is `val_loss`, replaces `best`.

    An eligible epoch always beats an ineligible best, and an ineligible one
    never beats an eligible best (e.g. the GAN's reconstruction-only warm-up
    is not the GAN, however low its validation loss). Otherwise None (no
    validation) makes the latest epoch the best; NaN is never best, except
    that some epoch must be: a NaN epoch replaces a NaN best (the latest).
    "Better" follows `best_by`'s direction: lower, closer to 1 (ratios) or to 0.
    """
    score = _badness(best_by, val_loss)
    previous = None if best is None else _badness(best_by, best.get("score", best.get("val_loss")))
    best_eligible = best is not None and best.get("eligible", True)
    if best is not None and eligible != best_eligible:
        return eligible and (score is None or math.isfinite(score))
    if score is None:
        return True
    if not math.isfinite(score):
        return best is None or (previous is not None and not math.isfinite(previous))
    if best is None or previous is None or not math.isfinite(previous):
        return True
    return score < previous


def save_generator_checkpoint(run_dir, generator, epoch: int, step: int, val_loss: float | None, keep_last: int,
                              eligible: bool = True, best_by: str = "val_loss", score: float | None = None) -> dict:
    """Writes this epoch's generator weights, updates index.json, prunes old epochs.

    Args:
        run_dir: the run folder.
        generator: the FrameGRU being trained.
        epoch: 1-based epoch number just finished.
        step: optimizer steps so far.
        val_loss: validation loss of this epoch (None without validation; the
            latest epoch is then the best).
        keep_last: how many per-epoch files to keep (the best is kept apart).
        eligible: whether this epoch trained the whole objective
            (`FrameTrainer.counts_for_best`); "best" is the best eligible
            epoch, or the best of the others while there is none.
        best_by: what "best" means: "val_loss", or a gen/* key of the generation
            check (`generation_check.DIRECTIONS` gives its direction).
        score: this epoch's value of `best_by` (ignored for "val_loss").
    Returns:
        The updated index.
    """
    folder = Path(run_dir) / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = epoch_file(epoch)
    tmp = folder / ("tmp-" + name)  # keras wants the .weights.h5 suffix
    generator.save_weights(str(tmp))
    os.replace(tmp, folder / name)

    index = read_index(run_dir)
    val = None if val_loss is None else float(val_loss)
    chosen = val if best_by == "val_loss" else (None if score is None else float(score))
    if best_by != "val_loss" and chosen is None:
        raise ValueError(f"train.best_by={best_by!r} needs this epoch's score; the generation check gave none")
    entry = {"epoch": int(epoch), "path": f"{CHECKPOINT_DIR}/{name}", "step": int(step), "val_loss": val,
             "eligible": bool(eligible), "best_by": best_by, "score": chosen}
    epochs = [e for e in index.get("epochs", []) if e["epoch"] != epoch] + [entry]
    epochs.sort(key=lambda e: e["epoch"])
    best = index.get("best")
    if best is not None and best.get("best_by", "val_loss") != best_by:
        best = None  # a resumed run that changed train.best_by: judge from now on by the new choice
    if is_better(chosen, best, eligible, best_by):
        tmp_best = folder / ("tmp-" + BEST_FILE)
        shutil.copyfile(folder / name, tmp_best)
        os.replace(tmp_best, folder / BEST_FILE)
        index["best"] = {"epoch": int(epoch), "val_loss": val, "path": f"{CHECKPOINT_DIR}/{BEST_FILE}", "step": int(step),
                         "eligible": bool(eligible), "best_by": best_by, "score": chosen}
    keep = max(1, int(keep_last))
    for old in epochs[:-keep]:
        (Path(run_dir) / old["path"]).unlink(missing_ok=True)
    index["epochs"] = epochs[-keep:]
    _write_atomic(folder / INDEX_FILE, json.dumps(index, indent=2) + "\n")
    return index


def checkpoint_entry(run_dir: str | Path, which: str | int = "best") -> dict:
    """The index entry for `which`: "best", "last", or an epoch number (int or digits).

    Raises:
        FileNotFoundError: no such checkpoint; the message lists what exists.
    """
    index = read_index(run_dir)
    epochs = index.get("epochs", [])
    available = ", ".join(["best", "last"] + [str(e["epoch"]) for e in epochs])
    if which == "best":
        entry = index.get("best")
    elif which == "last":
        entry = epochs[-1] if epochs else None
    else:
        try:
            epoch = int(which)
        except (TypeError, ValueError):
            raise ValueError(f"checkpoint must be 'best', 'last' or an epoch number, got {which!r}") from None
        entry = next((e for e in epochs if e["epoch"] == epoch), None)
    if entry is None or not (Path(run_dir) / entry["path"]).is_file():
        raise FileNotFoundError(
            f"no checkpoint {which!r} in {Path(run_dir) / CHECKPOINT_DIR} (available: {available if epochs else 'none'})"
        )
    return dict(entry)


def load_generator(run_dir: str | Path, which: str | int = "best"):
    """Rebuilds the run's generator from config.json and loads a checkpoint.

    Returns:
        (FrameGRU, info) with info = {"which", "epoch", "step", "val_loss", "path"}.
    """
    from advaudio import config as config_lib
    from advaudio.models import build_generator

    run_dir = Path(run_dir)
    experiment = config_lib.load_json(run_dir / "config.json")
    entry = checkpoint_entry(run_dir, which)
    path = run_dir / entry["path"]
    generator = build_generator(experiment.model, experiment.data)
    generator.load_weights(str(path))
    info = {"which": str(which), "epoch": entry["epoch"], "step": entry["step"], "val_loss": entry.get("val_loss"), "path": str(path)}
    return generator, info

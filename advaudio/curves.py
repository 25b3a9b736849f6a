"""Learning-curve plots of a run's log.csv, redrawn after every epoch."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


GENERATION_PREFIX = "gen/"  # the per-epoch generation check (evaluation/generation_check.py), not training


def series_label(key: str) -> str:
    """The legend label of a log column: validation, the per-epoch generation check, or training."""
    if key.startswith("val_"):
        return "valid"
    if key.startswith(GENERATION_PREFIX):
        return "generated (check)"
    return "train"


def plot_training_curves(rows: list[dict], path: Path) -> None:
    """One run's curves.png: one panel per logged quantity, training and validation values together.

    Args:
        rows: log rows (`{"epoch": int, "loss": float, "val_loss": float, ...}`).
        path: the PNG to write (replaced atomically).
    """
    if not rows:
        return
    names = sorted({k for row in rows for k in row if k != "epoch" and not k.startswith("val_")})
    names.sort(key=lambda k: (k != "loss", k))
    cols = min(3, len(names))
    nrows = -(-len(names) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.0 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for key, style in ((name, "-"), (f"val_{name}", "--")):
            points = [(row["epoch"] + 1, row[key]) for row in rows if key in row]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, style, marker="o", markersize=3, label=series_label(key))
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    tmp = Path(path).with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)

"""Learning-curve plots of a run's log.csv, redrawn after every epoch."""
from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

GENERATION_PREFIX = "gen/"  # the per-epoch generation check (evaluation/generation_check.py), not training
SERIES_COLORS = {"train": "C0", "valid": "C1", "generated (check)": "C2"}  # one colour per series_label
COLUMNS = 3  # panels per row
PANEL_INCHES = (4.2, 3.0)  # width, height of one panel, margins included
# Fixed margins in inches instead of tight_layout, which measured every label of every panel again on each
# redraw (a flagship log has ~25 panels: 7.6 s per plot against ~3.7 s, beside two training runs).
MARGIN_INCHES = {"left": 0.55, "right": 0.15, "top": 0.65, "bottom": 0.45}  # top: the figure's legend
PANEL_SPACE = {"wspace": 0.3, "hspace": 0.55}  # between panels, as fractions of a panel
DPI = 90


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
    cols = min(COLUMNS, len(names))
    nrows = -(-len(names) // cols)
    width, height = PANEL_INCHES[0] * cols, PANEL_INCHES[1] * nrows
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    fig.subplots_adjust(
        left=MARGIN_INCHES["left"] / width,
        right=1 - MARGIN_INCHES["right"] / width,
        top=1 - MARGIN_INCHES["top"] / height,
        bottom=MARGIN_INCHES["bottom"] / height,
        **PANEL_SPACE,
    )
    axes = fig.subplots(nrows, cols, squeeze=False)
    styles = {}  # label -> line, one figure legend for all panels (a legend per panel hid the curves)
    for ax, name in zip(axes.flat, names):
        for key, style in ((name, "-"), (f"val_{name}", "--")):
            points = [(row["epoch"] + 1, row[key]) for row in rows if key in row]
            if points:
                xs, ys = zip(*points)
                label = series_label(key)
                (line,) = ax.plot(xs, ys, style, color=SERIES_COLORS[label], marker="o", markersize=3)
                styles.setdefault(label, line)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.legend(list(styles.values()), list(styles), loc="upper center", ncols=len(styles), frameon=False)
    tmp = Path(path).with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=DPI)
    tmp.replace(path)

"""Tests for advaudio/curves.py: one run's learning-curve plot."""
import matplotlib.image as mpimg

from advaudio import curves


def test_series_labels_name_what_each_column_is():
    assert curves.series_label("loss") == "train"
    assert curves.series_label("rec/mse") == "train"
    assert curves.series_label("val_loss") == "valid"
    assert curves.series_label("gen/kid_mfcc") == "generated (check)"


def test_plot_writes_one_png_with_a_panel_per_quantity(tmp_path):
    rows = [
        {"epoch": 0, "loss": 2.0, "val_loss": 2.5, "gen/seam_ratio": 3.0},
        {"epoch": 1, "loss": 1.0, "val_loss": 1.5},  # a column may be missing in some epochs
    ]
    path = tmp_path / "curves.png"
    curves.plot_training_curves(rows, path)
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 300  # two panels side by side
    assert not list(tmp_path.glob("*.tmp.png"))
    curves.plot_training_curves([], tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()

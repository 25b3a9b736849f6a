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


def test_each_series_has_its_own_colour(tmp_path):
    """Training, validation and the generation check are told apart by colour (one legend for the figure)."""
    rows = [{"epoch": 0, "loss": 2.0, "val_loss": 2.5, "gen/seam_ratio": 3.0},
            {"epoch": 1, "loss": 1.0, "val_loss": 1.5, "gen/seam_ratio": 2.0}]
    path = tmp_path / "curves.png"
    curves.plot_training_curves(rows, path)

    def count(png, hex_colour):
        """Pixels of `png` within 8 levels of `hex_colour` in every channel."""
        pixels = (mpimg.imread(png)[..., :3] * 255).round().reshape(-1, 3)
        rgb = [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]
        return int((abs(pixels - rgb).max(axis=1) <= 8).sum())

    train, valid, generated = (count(path, c) for c in ("#1f77b4", "#ff7f0e", "#2ca02c"))  # matplotlib's C0-C2
    assert min(train, valid, generated) > 50, (train, valid, generated)
    only_train = tmp_path / "train.png"
    curves.plot_training_curves([{"epoch": 0, "loss": 1.0}, {"epoch": 1, "loss": 0.5}], only_train)
    assert count(only_train, "#1f77b4") > 50 and count(only_train, "#2ca02c") == 0
    assert count(only_train, "#ff7f0e") == 0

"""Every file in experiments/ runs end to end (--smoke) on tiny synthetic audio."""
import ast
import json
from pathlib import Path

import pytest

from advaudio import config as C
from advaudio import run as run_lib

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.py"))


def test_there_are_experiments():
    names = {p.stem for p in EXPERIMENTS}
    assert {"mse_baseline", "spectral", "mse_spectral", "gan_denoise"} <= names


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_file_is_documented_and_side_effect_free(path):
    module = ast.parse(path.read_text())
    docstring = ast.get_docstring(module)
    assert docstring and f"python -m advaudio.run experiments/{path.name}" in docstring, \
        "the docstring must say what the experiment tests and the exact command that runs it"
    cfg, _ = C.load_experiment(path)
    C.validate(cfg)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_runs_end_to_end(path, tmp_path, cache_dir):
    code = run_lib.main([str(path), "--smoke", "--set", "data.default_minutes=0.1",
                         "--set", f"data.cache_dir={cache_dir}", "--out", str(tmp_path)])
    assert code == 0
    (run_dir,) = [p for p in tmp_path.glob("*/*") if p.is_dir()]
    rows = (run_dir / "log.csv").read_text().splitlines()
    assert len(rows) == 3  # header + 2 epochs
    cfg = json.loads((run_dir / "config.json").read_text())
    for term in cfg["objective"]["loss_weights"]:
        assert term in rows[0], f"loss term {term} is not logged"
    assert list((run_dir / "samples").glob("sample_*.wav"))

"""Every file in experiments/ runs end to end (--smoke) on tiny synthetic audio."""
import ast
import json
from pathlib import Path

import pytest
import tensorflow as tf

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


GAN_KEYS = ("adv/gen", "adv/feat", "d/loss", "d/acc_real", "d/acc_fake", "d/acc_noisy", "d/acc_noise", "d/win",
            "grad_norm/gen", "grad_norm/disc")


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_runs_end_to_end(path, tmp_path, cache_dir):
    gan = C.load_experiment(path)[0].objective.name == "gan_denoise"
    # GANs: D on from step 3, so epoch 1 (steps 1-2) is reconstruction-only warm-up.
    extra = ["--set", "objective.adversarial.d_start_step=2"] if gan else []
    code = run_lib.main([str(path), "--smoke", "--set", "data.default_minutes=0.1", *extra,
                         "--set", f"data.cache_dir={cache_dir}", "--out", str(tmp_path)])
    assert code == 0
    (run_dir,) = [p for p in tmp_path.glob("*/*") if p.is_dir()]
    rows = (run_dir / "log.csv").read_text().splitlines()
    assert len(rows) == 3  # header + 2 epochs
    header = rows[0].split(",")
    cfg = C.load_json(run_dir / "config.json")
    for term in cfg.objective.loss_weights:  # every term logged on its own
        assert term in header, f"loss term {term} is not logged"
        if not term.startswith("adv/"):
            assert f"val_{term}" in header, f"loss term {term} is not validated"
    assert list((run_dir / "samples").glob("sample_*.wav"))
    if cfg.objective.name == "gan_denoise":
        assert set(GAN_KEYS) <= set(header)
        state = tf.train.load_checkpoint(str(run_dir / "checkpoints" / "state"))
        steps = {name: int(state.get_tensor(f"opt_{name}/_iterations/.ATTRIBUTES/VARIABLE_VALUE"))
                 for name in ("generator", "discriminator")}
        # --smoke: 2 epochs x 2 steps; D switched on after 2 generator-only steps -> 2 D updates.
        assert steps == {"generator": 4, "discriminator": 2}
        index = json.loads((run_dir / "checkpoints" / "index.json").read_text())
        assert [e["eligible"] for e in index["epochs"]] == [False, True]  # the warm-up epoch is not the GAN
        assert index["best"]["epoch"] == 2

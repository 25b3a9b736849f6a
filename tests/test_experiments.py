"""Every file in experiments/ runs end to end (--smoke) on tiny synthetic audio."""
import ast
import builtins
import io
import json
import os
import random
import shutil
import socket
import sys
from pathlib import Path

import numpy as np

import pytest
import tensorflow as tf

from advaudio import config as C
from advaudio import run as run_lib
from advaudio.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.py"))


def test_there_are_experiments():
    names = {p.stem for p in EXPERIMENTS}
    assert {"mse_baseline", "spectral", "mse_spectral", "gan_denoise"} <= names


def registries() -> dict:
    """Every Registry of the loaded advaudio modules, by kind -> its names (built-ins loaded first)."""
    found = {}
    for _ in range(2):  # loading built-ins imports modules that may hold more registries
        for module_name, module in list(sys.modules.items()):
            if module_name.split(".")[0] == "advaudio" and module is not None:
                for value in list(vars(module).values()):
                    if isinstance(value, Registry):
                        found[value.kind] = tuple(value.names())
    return found


@pytest.fixture
def side_effects(monkeypatch):
    """Spies that record every file write, directory change, network use and TensorFlow op."""
    from tensorflow.python import pywrap_tfe
    from tensorflow.python.eager import execute

    seen = []
    real_open = builtins.open

    def spy_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+"):
            seen.append(f"open({file!r}, {mode!r})")
        return real_open(file, mode, *args, **kwargs)

    def recorder(label, real, refuse=False):
        def spy(*args, **kwargs):
            seen.append(f"{label}{args[:2]!r}")
            if refuse:
                raise OSError(f"{label} refused by the test")
            return real(*args, **kwargs)

        return spy

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)
    real_os_open = os.open
    monkeypatch.setattr(os, "open", lambda path, flags, *a, **k: (
        seen.append(f"os.open({path!r})") if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) else None
    ) or real_os_open(path, flags, *a, **k))
    for name in ("mkdir", "makedirs", "remove", "unlink", "rename", "replace", "rmdir", "symlink"):
        monkeypatch.setattr(os, name, recorder(f"os.{name}", getattr(os, name)))
    monkeypatch.setattr(shutil, "rmtree", recorder("shutil.rmtree", shutil.rmtree))
    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, recorder(f"socket.{name}", getattr(socket.socket, name), refuse=True))
    monkeypatch.setattr(socket, "getaddrinfo", recorder("socket.getaddrinfo", socket.getaddrinfo, refuse=True))
    monkeypatch.setattr(pywrap_tfe, "TFE_Py_FastPathExecute",
                        recorder("TF op", pywrap_tfe.TFE_Py_FastPathExecute))
    monkeypatch.setattr(execute, "quick_execute", recorder("TF op", execute.quick_execute))
    return seen


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_file_is_documented_and_side_effect_free(path, side_effects, monkeypatch):
    module = ast.parse(path.read_text())
    docstring = ast.get_docstring(module)
    assert docstring and f"python -m advaudio.run experiments/{path.name}" in docstring, \
        "the docstring must say what the experiment tests and the exact command that runs it"
    before = registries(), dict(os.environ), list(sys.path), np.random.get_state()[1].copy(), random.getstate()
    recorded = len(side_effects)  # the spies themselves may have been set up with a few calls
    cfg, _ = C.load_experiment(path)  # imports the file and calls get_config()
    during = side_effects[recorded:]
    assert not during, f"importing {path.name} or calling get_config() wrote, connected or ran TF ops: {during}"
    declared = getattr(sys.modules[f"advaudio_experiment_{path.stem}"], "REGISTERED", {})
    after = registries()
    added = {key: sorted(set(names) - set(before[0].get(key, ()))) for key, names in after.items()}
    assert {k: v for k, v in added.items() if v} == declared, "registrations at import must be declared in REGISTERED"
    assert after.keys() >= before[0].keys() and all(set(before[0][k]) <= set(after[k]) for k in before[0])
    assert dict(os.environ) == before[1] and list(sys.path) == before[2], "environment or sys.path changed"
    assert (np.random.get_state()[1] == before[3]).all() and random.getstate() == before[4], "global RNG touched"
    monkeypatch.undo()  # validation may import and write caches; it is not the experiment's import
    C.validate(cfg)


def test_side_effect_spies_see_what_they_must(side_effects, tmp_path):
    """The spies above are the test: each kind of side effect is recorded."""
    import tensorflow as tf

    (tmp_path / "x.txt").write_text("x")
    os.makedirs(tmp_path / "d")
    tf.constant(1.0) + 1.0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 9))
    kinds = " ".join(side_effects)
    assert "open(" in kinds and "os.makedirs" in kinds and "TF op" in kinds and "socket" in kinds


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


GAN_KEYS = ("adv/gen", "adv/feat", "d/loss", "d/acc_real", "d/acc_fake", "d/acc_noisy", "d/acc_noise", "d/win",
            "grad_norm/gen", "grad_norm/disc")


GEN_KEYS = ("gen/frame_repetition", "gen/seam_ratio", "gen/flatness_ratio", "gen/pitch_ratio", "gen/onset_rate_ratio",
            "gen/mr_stft", "gen/kid_mfcc", "gen/level_drift_db", "gen/hop_pulse_db", "gen/hop_periodicity", "gen/composite")


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
@pytest.mark.slow
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
    # The generation check scored a few free-running seconds every epoch, and "best" follows train.best_by.
    assert set(GEN_KEYS) <= set(header)
    gen_rows = [dict(zip(header, row.split(","))) for row in rows[1:]]
    assert all(0.0 < float(row["gen/mr_stft"]) < float("inf") for row in gen_rows)
    index = json.loads((run_dir / "checkpoints" / "index.json").read_text())
    assert index["best"]["best_by"] == cfg.train.best_by
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

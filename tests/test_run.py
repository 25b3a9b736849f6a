"""The run command: run folder contents, SIGKILL + --resume equals an uninterrupted run, clear errors."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from advaudio import run as run_lib

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = str(ROOT / "experiments" / "mse_baseline.py")


def tiny_overrides(cache_dir):
    return ["--set", "data.default_minutes=0.1", "--set", f"data.cache_dir={cache_dir}",
            "--set", "data.frame_length=80", "--set", "data.sequence_length=4", "--set", "data.window_shift=80",
            "--set", "model.units=8"]  # frames of 80: no crossfade to shrink (it is derived, and concat uses none)


def env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


def run_dir_of(output: str) -> Path:
    for line in output.splitlines():
        if line.startswith("run folder: "):
            return Path(line[len("run folder: "):].strip())
    raise AssertionError(f"no 'run folder:' line in output:\n{output}")


def start(args, out_dir):
    return subprocess.Popen([sys.executable, "-m", "advaudio.run", *args, "--out", str(out_dir)], cwd=ROOT, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One in-process smoke run of the MSE baseline; returns its run folder."""
    tmp = tmp_path_factory.mktemp("smoke")
    out = tmp / "runs"
    code = run_lib.main([EXPERIMENT, "--smoke", *tiny_overrides(tmp / "cache"), "--set", "generate.count=2",
                         "--out", str(out)])
    assert code == 0
    (run_dir,) = list((out / "mse_baseline").iterdir())
    return run_dir


@pytest.mark.slow
def test_run_folder_has_everything(smoke_run):
    names = {p.name for p in smoke_run.iterdir()}
    assert {"config.json", "experiment.py", "stats.json", "data.json", "reference", "checkpoints", "log.csv",
            "tensorboard", "curves.png", "samples", "overrides.json"} <= names
    config = json.loads((smoke_run / "config.json").read_text())
    assert config["data"]["frame_length"] == 80 and config["model"]["units"] == 8  # --set after --smoke
    assert (smoke_run / "experiment.py").read_text() == Path(EXPERIMENT).read_text()
    rows = (smoke_run / "log.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,") and "val_loss" in rows[0] and len(rows) == 1 + 2
    samples = sorted((smoke_run / "samples").glob("sample_*.wav"))
    assert len(samples) == 2
    sidecar = json.loads(samples[0].with_suffix(".json").read_text())
    assert sidecar["sample_rate"] == 16000
    assert (smoke_run / "curves.png").read_bytes()[:4] == b"\x89PNG"
    stats = json.loads((smoke_run / "stats.json").read_text())
    assert stats  # statistics saved for de-normalisation
    assert list((smoke_run / "tensorboard").iterdir())


def test_unknown_key_and_missing_file_fail_before_training(tmp_path, capsys):
    assert run_lib.main([EXPERIMENT, "--set", "train.epoch=3", "--out", str(tmp_path)]) == 2
    assert "Did you mean 'train.epochs'" in capsys.readouterr().err
    assert run_lib.main([EXPERIMENT, "--smoke", "--set", f"data.source={tmp_path}/nope.wav",
                         "--out", str(tmp_path)]) == 2
    assert "nope.wav" in capsys.readouterr().err
    assert not (tmp_path / "mse_baseline").exists()  # nothing half-written


@pytest.mark.slow
def test_non_finite_loss_stops_with_a_clear_message(tmp_path, capsys):
    code = run_lib.main([EXPERIMENT, "--smoke", *tiny_overrides(tmp_path / "cache"),
                         "--set", "train.learning_rate=1e30", "--set", "train.clipnorm=None",
                         "--set", "train.epochs=2", "--set", "train.steps_per_epoch=20", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "non-finite" in err and "train.learning_rate" in err


def last_weights(run_dir):
    from advaudio import checkpoints

    generator, info = checkpoints.load_generator(run_dir, "last")
    return [np.asarray(w) for w in generator.get_weights()], info


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_equals_uninterrupted_run(tmp_path):
    args = [EXPERIMENT, "--smoke", *tiny_overrides(tmp_path / "cache"), "--set", "train.epochs=3",
            "--set", "train.steps_per_epoch=150"]
    straight = start(args, tmp_path / "straight")
    killed = start(args, tmp_path / "killed")
    # Kill the second run (SIGKILL: no clean-up) once its first epoch is saved, inside epoch 2.
    deadline = time.time() + 300
    run_dir = None
    while time.time() < deadline:
        candidates = list((tmp_path / "killed" / "mse_baseline").glob("*/checkpoints/state/ckpt-1.index"))
        if candidates:
            run_dir = candidates[0].parents[2]
            break
        assert killed.poll() is None, killed.communicate()[0]
        time.sleep(0.02)
    assert run_dir is not None
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert not (run_dir / "checkpoints" / "state" / "ckpt-3.index").exists()
    assert not (run_dir / "samples").exists()
    straight_out = straight.communicate(timeout=600)[0]
    assert straight.returncode == 0, straight_out

    resumed = subprocess.run([sys.executable, "-m", "advaudio.run", "--resume", str(run_dir)], cwd=ROOT, env=env(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout
    assert "resuming at epoch" in resumed.stdout

    epochs = [line.split(",")[0] for line in (run_dir / "log.csv").read_text().splitlines()[1:]]
    assert epochs == ["0", "1", "2"]  # logs intact: no epoch lost or repeated
    straight_dir = run_dir_of(straight_out)
    (w_straight, info_straight), (w_resumed, info_resumed) = last_weights(straight_dir), last_weights(run_dir)
    assert info_resumed["step"] == info_straight["step"] == 3 * 150  # optimiser step counter intact
    for a, b in zip(w_straight, w_resumed):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    straight_log = (straight_dir / "log.csv").read_text().splitlines()
    resumed_log = (run_dir / "log.csv").read_text().splitlines()
    assert straight_log == resumed_log
    assert sorted(p.name for p in (run_dir / "samples").glob("*.wav"))


def test_resume_of_a_non_run_folder_says_so(tmp_path, capsys):
    assert run_lib.main(["--resume", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err

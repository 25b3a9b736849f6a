"""Tests for `python -m advaudio.generate` on a hand-built run folder."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from advaudio import config as config_lib
from advaudio.checkpoints import save_generator_checkpoint
from advaudio.data import Stats
from advaudio.generate import main
from advaudio.models import build_generator

REPO = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 8000


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder as advaudio.run writes it: config.json, stats.json, two epochs of checkpoints."""
    root = tmp_path_factory.mktemp("run")
    source = root / "source.wav"
    rng = np.random.default_rng(0)
    sf.write(str(source), (0.3 * np.sin(np.arange(2 * SAMPLE_RATE) * 0.2) + 0.01 * rng.normal(size=2 * SAMPLE_RATE)),
             SAMPLE_RATE, subtype="FLOAT")
    cfg = config_lib.Experiment(name="tiny_cli")
    cfg.data.source = str(source)
    cfg.data.sample_rate = SAMPLE_RATE
    cfg.data.frame_length = 16
    cfg.data.sequence_length = 2
    cfg.data.window_shift = 16
    cfg.model.units = 8
    cfg.model.layers = 1
    cfg.generate.seed_frames = 2
    cfg.generate.seconds = 0.05
    cfg.generate.crossfade_length = 4
    run = root / "runs" / "tiny_cli" / "20260101-000000"
    run.mkdir(parents=True)
    config_lib.save_json(cfg, run / "config.json")
    Stats("standard", mean=0.0, std=0.2).save(run / "stats.json")
    generator = build_generator(cfg.model, cfg.data)
    for epoch in (1, 2):
        generator.set_weights([w + 0.01 * epoch for w in generator.get_weights()])
        save_generator_checkpoint(run, generator, epoch=epoch, step=5 * epoch, val_loss=1.0 / epoch, keep_last=3)
    return run


@pytest.mark.slow
def test_cli_from_a_file_with_every_option(run_dir, tmp_path, capsys):
    seed_file = tmp_path / "seed.wav"
    sf.write(str(seed_file), 0.1 * np.sin(np.arange(4000) * 0.3), 16000)  # resampled to the run's 8 kHz
    out = tmp_path / "out"
    paths = main([str(run_dir), "--seconds", "0.1", "--count", "2", "--stitch", "crossfade", "--seed-from",
                  str(seed_file), "--checkpoint", "1", "--out", str(out)])
    assert paths == [out / "sample_000.wav", out / "sample_001.wav"]
    printed = capsys.readouterr().out
    assert "epoch 1" in printed and "frame" in printed  # the progress bar counts frames
    for path in paths:
        info = sf.info(str(path))
        assert (info.samplerate, info.frames) == (SAMPLE_RATE, 800)
        sidecar = json.loads(path.with_suffix(".json").read_text())
        assert sidecar["checkpoint_epoch"] == 1 and sidecar["model_step"] == 5
        assert sidecar["checkpoint"] == "checkpoints/generator-epoch0001.weights.h5"
        assert sidecar["stitch"] == "crossfade" and sidecar["seed_split"] == "file"
        assert (out / "seeds" / path.name).is_file()
    assert not (run_dir / "samples").exists()


@pytest.mark.slow
def test_cli_set_changes_generate_options_for_this_call_only(run_dir, tmp_path):
    plain = main([str(run_dir), "--seconds", "0.1", "--count", "1", "--out", str(tmp_path / "plain")])
    dithered = main([str(run_dir), "--seconds", "0.1", "--count", "1", "--out", str(tmp_path / "dithered"),
                     "--set", "generate.dither=0.5", "--set", "generate.subtype=FLOAT"])
    sidecar = json.loads(dithered[0].with_suffix(".json").read_text())
    assert sidecar["dither"] == 0.5 and json.loads(plain[0].with_suffix(".json").read_text())["dither"] == 0.0
    assert sf.info(str(dithered[0])).subtype == "FLOAT"
    assert not np.allclose(sf.read(str(plain[0]))[0], sf.read(str(dithered[0]))[0], atol=1e-3)
    assert json.loads((run_dir / "config.json").read_text())["generate"]["dither"] == 0.0  # the run is untouched
    with pytest.raises(SystemExit, match=r"only generate\.\* options.*data.frame_length=3"):
        main([str(run_dir), "--set", "data.frame_length=3"])
    with pytest.raises(SystemExit, match="generate.ditherr"):
        main([str(run_dir), "--set", "generate.ditherr=0.1"])


def test_cli_rejects_bad_requests_with_a_message(run_dir, tmp_path):
    with pytest.raises(SystemExit, match="available: best, last, 1, 2"):
        main([str(run_dir), "--checkpoint", "7"])
    with pytest.raises(SystemExit, match="overlap_add"):
        main([str(run_dir), "--stitch", "overlap"])
    with pytest.raises(SystemExit, match="--seconds"):
        main([str(run_dir), "--seconds", "0"])
    with pytest.raises(SystemExit, match="train"):
        main([str(run_dir), "--seed-from", "train"])
    with pytest.raises(SystemExit, match="not a run folder"):
        main([str(tmp_path)])


@pytest.mark.slow
def test_cli_subprocess_seeds_from_the_test_split(run_dir):
    """The real entry point: reads the test split through advaudio.data and writes into the run folder."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-m", "advaudio.generate", str(run_dir), "--seed-from", "test"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    sample = run_dir / "samples" / "sample_000.wav"
    assert str(sample) in result.stdout
    assert sf.info(str(sample)).frames == 400  # 0.05 s at 8 kHz, from config.json
    sidecar = json.loads(sample.with_suffix(".json").read_text())
    assert sidecar["seed_split"] == "test" and sidecar["checkpoint_epoch"] == 2  # best: the lower val loss
    assert sidecar["run"] == str(run_dir) and sidecar["experiment"] == "tiny_cli"


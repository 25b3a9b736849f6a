"""Every config key, given a bad value on the command line, stops `python -m advaudio.run` before any work.

Exit status 2, one line per problem naming the key, the value and the valid choices or the nearest
one, no traceback, and nothing written under --out. Options that are not in use do not block a run.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from advaudio import config as C
from advaudio import run as run_lib

ROOT = Path(__file__).resolve().parents[1]
GAN = str(ROOT / "experiments" / "gan_denoise.py")  # uses every section, the GAN's included
KEYS = [key for _, _, key in C._leaf_fields(C.Experiment())]

SCHEDULED = "objective.regime=scheduled_sampling"
FREE = "objective.regime=free_running"
TFDS = "data.source=tfds:some_dataset"
CROSSFADE = "generate.stitch=crossfade"
REVISION = "generate.revision=bidirectional"

# (key, overrides (the bad one last), what the message must also say). Every key of the config has a case;
# supporting overrides put the key in use where it is only checked in use.
CASES = [
    ("name", ["name=a/b"], "name='a/b' must be a non-empty folder name"),
    ("data.source", ["data.source=/no/such/file.wav"], "is neither 'default'"),
    ("data.sample_rate", ["data.sample_rate=0"], "data.sample_rate=0 must be >= 1"),
    ("data.frame_length", ["data.frame_length=0"], "data.frame_length=0 must be >= 1"),
    ("data.frame_hop", ["data.frame_hop=5000"], "data.frame_hop=5000 must be between 1 and data.frame_length=4000"),
    ("data.sequence_length", ["data.sequence_length=0"], "data.sequence_length=0 must be >= 1"),
    ("data.window_shift", ["data.window_shift=-3"], "data.window_shift=-3 must be >= 1"),
    ("data.batch_size", ["data.batch_size=0"], "data.batch_size=0 must be >= 1"),
    ("data.split", ["data.split=(0.5, 0.3, 0.3)"], "summing to 1"),
    ("data.normalization", ["data.normalization=standart"], "Did you mean 'standard'?"),
    ("data.split_seed", ["data.split_seed=-1"], "data.split_seed=-1 must be >= 0"),
    ("data.on_bad_file", ["data.on_bad_file=skp"], "Did you mean 'skip'?"),
    ("data.default_minutes", ["data.default_minutes=0"], "data.default_minutes=0.0 must be > 0"),
    ("data.default_seed", ["data.default_seed=-2"], "data.default_seed=-2 must be >= 0"),
    ("data.tfds_data_dir", [TFDS, "data.tfds_data_dir=/no/such/folder"], "is not a folder"),
    ("data.tfds_split", [TFDS, "data.tfds_split=''"], "data.tfds_split='' must name"),
    ("data.tfds_audio_key", [TFDS, "data.tfds_audio_key=''"], "data.tfds_audio_key='' must name"),
    ("data.cache_dir", [f"data.cache_dir={GAN}"], "is a file; give a folder"),
    ("model.cell", ["model.cell=gur"], "Did you mean 'gru'?"),
    ("model.layers", ["model.layers=0"], "model.layers=0 must be >= 1"),
    ("model.units", ["model.units=0"], "model.units=0 must be >= 1"),
    ("model.skip_connections", ["model.skip_connections=1"], "expected True or False"),
    ("model.gate_bias", ["model.gate_bias=1e999"], "model.gate_bias=inf must be a finite number"),
    ("model.noise_dim", ["model.noise_dim=-1"], "model.noise_dim=-1 must be >= 0"),
    ("model.layer_noise", ["model.layer_noise=1"], "expected True or False"),
    ("model.encoder", ["model.encoder=stft_con"], "Did you mean 'stft_conv'?"),
    ("model.encoder_params", ["model.encoder_params={'bins': 3}"], "given but model.encoder is 'none'"),
    ("objective.name", ["objective.name=gan_denose"], "Did you mean 'gan_denoise'? Valid objectives: gan_denoise, mse"),
    ("objective.loss_weights", ["objective.loss_weights={'rec/ms': 1.0, 'adv/gen': 1.0}"],
     "'rec/ms' is not a term objective 'gan_denoise' can use. Did you mean 'rec/mse'?"),
    ("objective.loss_weights", ["objective.name=mse", "objective.loss_weights={'adv/gen': 1.0}"],
     "adv/* terms need a discriminator"),
    ("objective.loss_weights", ["objective.loss_weights={'spec/sc': -1.0, 'adv/gen': 1.0}"],
     "objective.loss_weights['spec/sc']=-1.0 must be a finite number >= 0"),
    ("objective.stft", ["objective.stft={'fft_size': (512,)}"], "Did you mean 'fft_sizes'?"),
    ("objective.regime", ["objective.regime=free_runing"], "Did you mean 'free_running'?"),
    ("objective.sampling_probability", [SCHEDULED, "objective.sampling_probability=1.5"], "must be in [0, 1]"),
    ("objective.sampling_schedule", ["objective.sampling_schedule=linar"], "Did you mean 'linear'?"),
    ("objective.sampling_ramp_steps", [SCHEDULED, "objective.sampling_ramp_steps=-1"], "must be >= 0"),
    ("objective.free_run_prefix", [FREE, "objective.free_run_prefix=0"], "objective.free_run_prefix=0 must be >= 1"),
    ("objective.free_run_steps", [FREE, "objective.free_run_steps=100"], "must be <= data.sequence_length=50"),
    ("objective.adversarial.discriminator", ["objective.adversarial.discriminator=wavefrom"],
     "Did you mean 'waveform'?"),
    ("objective.adversarial.discriminator_params", ["objective.adversarial.discriminator_params={'chanels': 8}"],
     "unknown parameter 'chanels'. Did you mean 'channels'?"),
    ("objective.adversarial.loss", ["objective.adversarial.loss=hing"],
     "Did you mean 'hinge'? Valid adversarial losses: hinge"),
    ("objective.adversarial.gradient_penalty", ["objective.adversarial.gradient_penalty=-1"], "must be >= 0"),
    ("objective.adversarial.gradient_penalty",
     ["objective.adversarial.loss=wasserstein_gp", "objective.adversarial.gradient_penalty=0"], "gradient_penalty > 0"),
    ("objective.adversarial.input", ["objective.adversarial.input=frame"], "Did you mean 'frames'?"),
    ("objective.adversarial.stitched_frames", ["objective.adversarial.stitched_frames=0"],
     "must be between 1 and the 8 frames"),  # the rollout of the flagship's 8 free-running frames
    ("objective.adversarial.real_share", ["objective.adversarial.real_share=0"], "needs real_share > 0"),
    ("objective.adversarial.fake_share", ["objective.adversarial.fake_share=-1"], "fake_share=-1.0 must be >= 0"),
    ("objective.adversarial.noisy_share", ["objective.adversarial.noisy_share=-1"], "noisy_share=-1.0 must be >= 0"),
    ("objective.adversarial.noise_share", ["objective.adversarial.noise_share=-1"], "noise_share=-1.0 must be >= 0"),
    ("objective.adversarial.snr_db", ["objective.adversarial.snr_db=(20, 0)"], "low <= high"),
    ("objective.adversarial.d_steps", ["objective.adversarial.d_steps=0"], "d_steps must be >= 1"),
    ("objective.adversarial.d_start_step", ["objective.adversarial.d_start_step=-1"], "d_start_step=-1 must be >= 0"),
    ("objective.adversarial.d_learning_rate", ["objective.adversarial.d_learning_rate=0"], "must be > 0"),
    ("objective.adversarial.d_beta_1", ["objective.adversarial.d_beta_1=1.0"], "d_beta_1=1.0 must be in [0, 1)"),
    ("objective.adversarial.d_beta_2", ["objective.adversarial.d_beta_2=-0.1"], "d_beta_2=-0.1 must be in [0, 1)"),
    ("objective.adversarial.d_clipnorm", ["objective.adversarial.d_clipnorm=0"], "d_clipnorm=0.0 must be > 0"),
    ("objective.adversarial.d_examples", ["objective.adversarial.d_examples=0"], "must be >= 1 or None"),
    ("objective.params", ["objective.params={'x': 1}"], "takes no params"),
    ("train.epochs", ["train.epochs=0"], "train.epochs=0 must be >= 1"),
    ("train.steps_per_epoch", ["train.steps_per_epoch=0"], "train.steps_per_epoch=0 must be >= 1 (or None)"),
    ("train.validation_steps", ["train.validation_steps=0"], "train.validation_steps=0 must be >= 1 (or None)"),
    ("train.learning_rate", ["train.learning_rate=0"], "train.learning_rate=0.0 must be > 0"),
    ("train.beta_1", ["train.beta_1=1"], "train.beta_1=1.0 must be in [0, 1)"),
    ("train.beta_2", ["train.beta_2=-0.5"], "train.beta_2=-0.5 must be in [0, 1)"),
    ("train.clipnorm", ["train.clipnorm=0"], "train.clipnorm=0.0 must be > 0 (or None)"),
    ("train.seed", ["train.seed=-1"], "train.seed=-1 must be >= 0"),
    ("train.distribute", ["train.distribute=mirored"], "Did you mean 'mirrored'? Valid distribution strategies"),
    ("train.cpu_replicas", ["train.distribute=mirrored", "train.cpu_replicas=0"], "train.cpu_replicas=0 must be >= 1"),
    ("train.keep_checkpoints", ["train.keep_checkpoints=0"], "train.keep_checkpoints=0 must be >= 1"),
    ("train.jit_compile", ["train.jit_compile=yes"], "expected True or False"),
    ("train.best_by", ["train.best_by=val_los"], "did you mean 'val_loss'?"),
    ("train.generation_check.seconds", ["train.generation_check.seconds=-1"], "train.generation_check.seconds=-1.0"),
    ("train.generation_check.count", ["train.generation_check.count=-1"], ".count=-1 must be >= 0"),
    ("train.generation_check.seed_split", ["train.generation_check.seed_split=train"],
     "train.generation_check.seed_split='train' must be one of valid, test"),
    ("generate.seconds", ["generate.seconds=0"], "generate.seconds=0.0 must be > 0"),
    ("generate.count", ["generate.count=0"], "generate.count=0 must be >= 1"),
    ("generate.stitch", ["generate.stitch=crosfade"], "Did you mean 'crossfade'?"),
    ("generate.crossfade_length", [CROSSFADE, "data.frame_hop=None", "generate.crossfade_length=3000"],
     "generate.crossfade_length=3000 must be between 0 and 2000 for frames of 4000 every 4000 samples"),
    ("generate.window", ["generate.window=han"], "Did you mean 'hann'?"),
    ("generate.seed_frames", ["generate.seed_frames=0"], "generate.seed_frames=0 must be >= 1"),
    ("generate.seed_from", ["generate.seed_from=train"], "never seeds from the training split"),
    ("generate.seed_from", ["generate.seed_from=/no/such/seed.wav"], "must be valid, test or an existing audio file"),
    ("generate.dither", ["generate.dither=-0.1"], "generate.dither=-0.1 must be >= 0"),
    ("generate.feedback", ["generate.feedback=stiched"], "Did you mean 'stitched'?"),
    ("generate.format", ["generate.format=mp3"], "generate.format='mp3' is not one of ('wav', 'flac')"),
    ("generate.subtype", ["generate.subtype=PCM_8"], "generate.subtype='PCM_8' is not one of"),
    ("generate.subtype", ["generate.format=flac", "generate.subtype=FLOAT"], "cannot be written as FLAC"),
    ("generate.loudness", ["generate.loudness=lufs"], "generate.loudness='lufs' is not one of ('none', 'peak', 'rms')"),
    ("generate.sample_seed", ["generate.sample_seed=-1"], "generate.sample_seed=-1 must be >= 0"),
    ("generate.temperature", ["model.noise_dim=2", "generate.temperature=-1"], "generate.temperature=-1.0 must be >= 0"),
    ("generate.temperature", ["model.layer_noise=True", "generate.temperature=-1"],
     "generate.temperature=-1.0 must be >= 0"),
    ("generate.revision", ["generate.revision=bidirectonal"], "Did you mean 'bidirectional'?"),
    ("generate.revision_params", ["generate.revision_params=3"], "expected a dict"),
    ("generate.revision_window", [REVISION, "generate.revision_window=0"], "generate.revision_window must be >= 1"),
    ("generate.revision_hop", [REVISION, "generate.revision_hop=100"], "1 <= generate.revision_hop <= revision_window"),
    ("revise.from_run", ["revise.from_run=3"], "revise.from_run: 3 is not a string or None"),
    ("revise.from_run", ["revise.from_run=/no/such/run"], "generate.revision is 'none'"),
    ("revise.checkpoint", [REVISION, "revise.from_run={run}", "revise.checkpoint=bst"],
     "revise.checkpoint='bst': checkpoint must be 'best', 'last' or an epoch number"),
    ("revise.loss_weights", [REVISION, "revise.loss_weights={'adv/gen': 1.0}"], "add a rec/* or spec/* term"),
    ("revise.epochs", [REVISION, "revise.epochs=0"], "revise.epochs must be >= 1, got 0"),
    ("revise.steps_per_epoch", [REVISION, "revise.steps_per_epoch=0"], "revise.steps_per_epoch must be >= 1, got 0"),
    ("revise.learning_rate", ["revise.learning_rate=fast"], "not a Python literal (expected a number)"),
    ("revise.rollouts", [REVISION, "revise.rollouts=0"], "revise.rollouts must be >= 1, got 0"),
    ("revise.validation_windows", [REVISION, "revise.validation_windows=0"], "revise.validation_windows must be >= 1"),
    ("revise.rollout_share", [REVISION, "revise.rollout_share=1.5"], "revise.rollout_share must be in [0, 1]"),
    ("revise.prefix_frames", [REVISION, "revise.prefix_frames=0"], "revise.prefix_frames must be >= 1, got 0"),
    ("revise.noise_std", [REVISION, "revise.noise_std=-1"], "revise.noise_std"),
    ("revise.clicks_per_frame", [REVISION, "revise.clicks_per_frame=-1"], "revise.clicks_per_frame"),
    ("revise.click_amplitude", [REVISION, "revise.click_amplitude=-1"], "revise.click_amplitude"),
    ("revise.best_by", [REVISION, "revise.best_by=lowest"], "revise.best_by must be one of"),
]
CASES = [case for case in CASES if case[0] in KEYS]  # fields another change adds or removes


def test_every_config_key_has_a_bad_value_case():
    missing = sorted(set(KEYS) - {key for key, _, _ in CASES})
    assert not missing, f"add a bad-value case (and its check in config.validate) for {missing}"


def set_args(overrides):
    return [arg for assignment in overrides for arg in ("--set", assignment)]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A run folder with a config and no checkpoints (a source for revise.from_run)."""
    run = tmp_path_factory.mktemp("source_run")
    C.save_json(C.Experiment(), run / "config.json")
    return run


@pytest.mark.parametrize("key, overrides, message", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_value_stops_the_run_before_any_work(key, overrides, message, tmp_path, capsys, finished_run):
    out = tmp_path / "runs"
    overrides = [o.replace("{run}", str(finished_run)) for o in overrides]
    code = run_lib.main([GAN, *set_args(overrides), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.strip().splitlines()
    assert 1 <= len(lines) <= 2 and all(line.startswith("error: ") for line in lines), captured.err
    assert key.rsplit(".", 1)[-1] in captured.err and message in captured.err, captured.err
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists()  # no run folder, no orphan


def test_several_bad_values_are_reported_together(tmp_path, capsys):
    code = run_lib.main([GAN, *set_args(["objective.adversarial.loss=hing", "train.distribute=mirored",
                                         "generate.window=han"]), "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 3
    assert "'hinge'" in err and "'mirrored'" in err and "'hann'" in err
    assert "losss" not in err  # the plural of "adversarial loss"


def test_every_experiment_file_validates():
    for path in sorted((ROOT / "experiments").glob("*.py")):
        cfg, _ = C.load_experiment(path)
        C.validate(cfg)
        C.validate(C.smoke(cfg))


# ------------------------------------------------------------------ options not in use, derived defaults


def test_small_frames_with_concat_stitching_ignore_an_unused_crossfade():
    cfg = C.Experiment()
    C.apply_overrides(cfg, ["data.frame_length=64", "generate.crossfade_length=256"])  # auto -> concat
    C.validate(cfg)
    cfg.generate.stitch = "overlap_add"
    C.validate(cfg)
    cfg.generate.stitch = "crossfade"  # now it is used, and 256 does not fit frames of 64
    with pytest.raises(C.ConfigError, match="generate.crossfade_length=256 must be between 0 and 32"):
        C.validate(cfg)


def test_unset_crossfade_is_derived_from_the_frame():
    from advaudio.stitching import crossfade_samples, stitched_length

    assert C.Generate().crossfade_length is None
    assert crossfade_samples(None, 4000, 4000) == 256  # the default where it fits
    assert crossfade_samples(None, 64, 64) == 32  # half a frame of 64
    assert crossfade_samples(None, 400, 300) == 100  # frames of 400 every 300 overlap by 100
    cfg = C.Experiment()
    C.apply_overrides(cfg, ["data.frame_length=64", "generate.stitch=crossfade"])
    C.validate(cfg)
    # 3 whole frames of 64 crossfaded over 32 samples at 2 seams: 3 * 64 - 2 * 32
    assert stitched_length("crossfade", 3, 64, 64, cfg.generate.crossfade_length) == 128


def test_gan_options_do_not_block_another_objective():
    cfg = C.Experiment()  # mse: the adversarial section is not used
    C.apply_overrides(cfg, ["objective.adversarial.loss=hing", "objective.adversarial.d_steps=0"])
    C.validate(cfg)


# ------------------------------------------------------------------ --resume


def test_resume_of_a_folder_whose_experiment_no_longer_validates(tmp_path, capsys):
    run_dir = tmp_path / "gan_denoise" / "20260101-000000"
    run_dir.mkdir(parents=True)
    (run_dir / "experiment.py").write_text(Path(GAN).read_text())
    (run_dir / run_lib.OVERRIDES_FILE).write_text(json.dumps(
        {"name": "gan_denoise", "overrides": ["objective.adversarial.loss=hing"], "smoke": True}))
    before = sorted(p.name for p in run_dir.iterdir())
    assert run_lib.main(["--resume", str(run_dir)]) == 2
    captured = capsys.readouterr()
    assert f"{run_dir} cannot be resumed" in captured.err and "no longer validates" in captured.err
    assert "objective.adversarial.loss='hing'" in captured.err and "Did you mean 'hinge'?" in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert sorted(p.name for p in run_dir.iterdir()) == before  # nothing written


# ------------------------------------------------------------------ the real command line


def env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


@pytest.mark.slow
@pytest.mark.parametrize("overrides, message", [
    (["objective.name=foo"], "objective.name='foo': unknown objective 'foo'"),
    (["objective.adversarial.loss=hing", "data.frame_length=64", "data.frame_hop=None"], "Did you mean 'hinge'?"),
])
def test_command_line_exits_2_without_traceback_or_folder(overrides, message, tmp_path):
    out = tmp_path / "runs"
    result = subprocess.run([sys.executable, "-m", "advaudio.run", GAN, *set_args(overrides), "--out", str(out)],
                            cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2 and all(line.startswith("error: ") for line in lines), result.stderr  # no TF noise
    assert not out.exists()

"""Config: experiment files, typed `--set` overrides, JSON round trip, smoke."""
import re
from pathlib import Path

import pytest

from advaudio import config as C


@pytest.fixture
def cfg():
    return C.Experiment()


def test_overrides_parse_literals_and_check_types(cfg):
    C.apply_overrides(cfg, ["train.epochs=3", "train.learning_rate=1e-4", "data.split=(0.7, 0.2, 0.1)",
                            "objective.loss_weights={'rec/mse': 1.0, 'spec/sc': 0.5}", "data.frame_hop=None",
                            "model.skip_connections=True", "train.learning_rate=2"])
    assert cfg.train.epochs == 3
    assert cfg.train.learning_rate == 2.0 and isinstance(cfg.train.learning_rate, float)
    assert cfg.data.split == (0.7, 0.2, 0.1)
    assert cfg.objective.loss_weights == {"rec/mse": 1.0, "spec/sc": 0.5}
    assert cfg.data.frame_hop is None and cfg.model.skip_connections is True


def test_bare_word_and_quoted_strings_both_work(cfg):
    C.apply_override(cfg, "data.source=/a/b.wav")
    assert cfg.data.source == "/a/b.wav"
    C.apply_override(cfg, "data.source='/c/d.wav'")
    assert cfg.data.source == "/c/d.wav"
    C.apply_override(cfg, "data.source=tfds:nsynth")
    assert cfg.data.source == "tfds:nsynth"
    C.apply_override(cfg, "data.source=123")  # a folder named 123 stays a string
    assert cfg.data.source == "123"
    C.apply_override(cfg, "objective.name=spectral")
    assert cfg.objective.name == "spectral"


@pytest.mark.parametrize("assignment, message", [
    ("train.epochs=2.5", "expected an integer"),
    ("train.epochs=many", "not a Python literal"),
    ("model.skip_connections=1", "True or False"),
    ("data.split=(0.5, 0.5)", "expected 3 values"),
    ("train.epoch=3", "Did you mean 'train.epochs'"),
    ("data.frame_lenght=400", "Did you mean 'data.frame_length'"),
    ("train=3", "is a section"),
    ("train.epochs", "KEY=VALUE"),
])
def test_bad_overrides_fail_with_a_fix(cfg, assignment, message):
    before = C.to_dict(cfg)
    with pytest.raises(C.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        C.apply_override(cfg, assignment)
    assert C.to_dict(cfg) == before  # nothing half-applied


def test_nested_adversarial_keys(cfg):
    C.apply_override(cfg, "objective.adversarial.d_steps=2")
    C.apply_override(cfg, "objective.adversarial.snr_db=(5, 10)")
    assert cfg.objective.adversarial.d_steps == 2
    assert cfg.objective.adversarial.snr_db == (5.0, 10.0)


def test_json_round_trip(tmp_path, cfg):
    C.apply_overrides(cfg, ["data.split=(0.6, 0.2, 0.2)", "train.distribute=mirrored"])
    C.save_json(cfg, tmp_path / "config.json")
    back = C.load_json(tmp_path / "config.json")
    assert back == cfg


def test_load_experiment_file(tmp_path):
    path = tmp_path / "my_exp.py"
    path.write_text("from advaudio.config import Experiment, Train\n"
                    "def get_config():\n    return Experiment(train=Train(epochs=4))\n")
    cfg, source = C.load_experiment(path)
    assert cfg.train.epochs == 4 and cfg.name == "my_exp" and "get_config" in source


@pytest.mark.parametrize("text, message", [
    ("x = 1\n", "defines no get_config"),
    ("def get_config():\n    return {}\n", "not an Experiment"),
])
def test_bad_experiment_files(tmp_path, text, message):
    path = tmp_path / "bad.py"
    path.write_text(text)
    with pytest.raises(C.ConfigError, match=message):
        C.load_experiment(path)
    with pytest.raises(C.ConfigError, match="does not exist"):
        C.load_experiment(tmp_path / "missing.py")


def test_smoke_shrinks_everything(cfg):
    C.smoke(cfg)
    assert cfg.data.frame_length <= 400 and cfg.model.units <= 16
    assert cfg.train.steps_per_epoch == 2 and cfg.train.epochs <= 2
    assert cfg.data.default_minutes <= 0.5
    # the longest free-running rollout that fits (spectral terms on it need the length)
    assert cfg.objective.free_run_prefix == 1 and cfg.objective.free_run_steps == cfg.data.sequence_length - 1


def test_smoke_measures_whole_sequences_instead_of_too_short_segments(cfg):
    cfg.objective.stft = {"fft_sizes": (1024,), "hop_lengths": (120,), "win_lengths": (600,), "segment_frames": 4}
    C.smoke(cfg)
    assert cfg.objective.stft == {"fft_sizes": (1024,), "hop_lengths": (120,), "win_lengths": (600,), "segment_frames": None}


def test_example_span_and_hop():
    data = C.Data(frame_length=400, frame_hop=None, sequence_length=8)
    assert C.frame_hop(data) == 400 and C.example_span(data) == 9 * 400
    data = C.Data(frame_length=400, frame_hop=100, sequence_length=8)
    assert C.example_span(data) == 8 * 100 + 400


README = Path(__file__).resolve().parents[1] / "README.md"
# Keys whose names are the public contract: experiment files and scripts rely on them.
CONTRACT = {"data.source", "data.sample_rate", "data.frame_length", "data.frame_hop", "data.sequence_length",
            "data.window_shift", "data.batch_size", "data.split", "data.normalization", "model.cell",
            "model.layers", "model.units", "model.skip_connections", "objective.name", "train.epochs",
            "train.steps_per_epoch", "train.learning_rate", "train.seed", "train.distribute",
            "generate.seconds", "generate.stitch", "generate.seed_frames"}


def documented(text: str) -> set:
    """The `inline code` spans of a piece of Markdown (not fenced blocks)."""
    return set(re.findall(r"(?<!`)`([^`\n]+)`(?!`)", text))


def test_every_key_is_documented_in_public_contract():
    readme = README.read_text()
    section = readme.split("### Config keys", 1)[1].split("\n## ", 1)[0]
    contract_paragraph = section.split("The public contract", 1)[1].split("\n\n", 1)[0]
    keys = {key for _, _, key in C._leaf_fields(C.Experiment())}
    assert CONTRACT <= keys, f"contract keys missing from the config: {sorted(CONTRACT - keys)}"
    assert not CONTRACT - documented(contract_paragraph), "README's public contract lost keys"
    undocumented = sorted(keys - documented(section))
    assert not undocumented, f"README's 'Config keys' section does not name {undocumented}"


@pytest.mark.parametrize("assignments, message", [
    (["data.frame_hop=1500"], "data.frame_hop=1500 must be between 1 and data.frame_length=1000"),
    (["data.split=(0.5, 0.3, 0.3)"], "summing to 1"),
    (["generate.stitch=crossfade", "generate.crossfade_length=600"],
     "generate.crossfade_length=600 must be between 0 and 500 for frames of 1000 every 1000 samples"),
    (["data.normalization='zscore'"], "data.normalization='zscore' is not one of standard, minmax"),
])
def test_validate_catches_cross_field_mistakes(assignments, message):
    cfg = C.Experiment()
    cfg.data.frame_length = 1000
    C.validate(cfg)
    C.apply_overrides(cfg, assignments)
    with pytest.raises(C.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        C.validate(cfg)


def test_crossfade_limit_follows_the_frame_overlap():
    cfg = C.Experiment()
    cfg.data.frame_length, cfg.data.frame_hop, cfg.generate.crossfade_length = 1000, 800, 200
    cfg.generate.stitch = "crossfade"
    C.validate(cfg)
    cfg.generate.crossfade_length = 201  # only 200 samples overlap
    with pytest.raises(C.ConfigError, match="between 0 and 200"):
        C.validate(cfg)


def test_validate_checks_types_set_by_experiment_files():
    cfg = C.Experiment()
    cfg.train.epochs = "3"  # an experiment file is not parsed by --set
    with pytest.raises(C.ConfigError, match="train.epochs: expected an integer"):
        C.validate(cfg)
    cfg = C.Experiment()
    cfg.train.learning_rate = 1  # lossless conversions are made
    assert C.validate(cfg).train.learning_rate == 1.0 and isinstance(cfg.train.learning_rate, float)


def test_bad_bool_literal_names_the_choices(cfg):
    with pytest.raises(C.ConfigError, match="expected True or False"):
        C.apply_override(cfg, "train.jit_compile=yes")

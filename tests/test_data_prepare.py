"""prepare(): source -> validated, split, normalised audio and its description (advaudio/data/prepare.py)."""
import json

import numpy as np
import pytest
import soundfile as sf

from advaudio.config import Data
from advaudio.data import DataError, Recording, Stats, num_examples, prepare
from advaudio.registry import SOURCES

SMALL = dict(frame_length=40, sequence_length=4, window_shift=40, batch_size=2)  # span 200 samples


@pytest.fixture(scope="module")
def default_prepared(tmp_path_factory):
    data = Data(default_minutes=0.05, cache_dir=str(tmp_path_factory.mktemp("cache")), **SMALL)
    return data, prepare(data)


def test_default_source_end_to_end(default_prepared):
    data, p = default_prepared
    assert p.sample_rate == 16000
    d = p.description
    assert set(d) >= {"source", "sample_rate", "fingerprint", "seconds", "files"}
    assert d["source"] == "default" and d["sample_rate"] == 16000
    assert len(d["fingerprint"]) == 64 and int(d["fingerprint"], 16) >= 0
    assert d["seconds"] == {"train": 2.4, "valid": 0.3, "test": 0.3}
    assert set(d["files"]) == {"train", "valid", "test"}
    json.dumps(d)  # data.json-ready
    assert abs(float(p.train.signal.mean())) < 1e-4 and abs(float(p.train.signal.std()) - 1.0) < 1e-3
    assert p.train.signal.dtype == np.float32
    assert all(num_examples(s, data) > 0 for s in (p.train, p.valid, p.test))
    again = prepare(data)  # cached, deterministic
    assert again.description["fingerprint"] == d["fingerprint"] and again.stats == p.stats


def write_with_loud_tail(path, sr=8000):
    """8 s: the first 6.4 s (train) quiet, the rest (valid/test) 10x louder and offset."""
    t = np.arange(8 * sr) / sr
    x = 0.05 * np.sin(2 * np.pi * 220 * t)
    x[int(0.8 * len(x)) :] = 0.5 * np.sin(2 * np.pi * 330 * t[int(0.8 * len(x)) :]) + 0.2
    sf.write(path, x.astype(np.float32), sr, subtype="FLOAT")
    return x.astype(np.float32)


@pytest.mark.parametrize("kind", ["standard", "minmax"])
def test_stats_come_from_training_split_only(tmp_path, kind):
    raw = write_with_loud_tail(tmp_path / "a.wav")
    data = Data(source=str(tmp_path / "a.wav"), sample_rate=8000, normalization=kind, **SMALL)
    p = prepare(data)
    train_raw = raw[: int(0.8 * len(raw))]
    assert p.stats == Stats.from_signal(train_raw, kind)
    # valid/test use the same (training) statistics, whatever their own level
    np.testing.assert_allclose(p.valid.signal, p.stats.normalize(raw[int(0.8 * len(raw)) : int(0.9 * len(raw))]), rtol=1e-6)
    np.testing.assert_allclose(p.stats.denormalize(p.test.signal), raw[int(0.9 * len(raw)) :], atol=1e-6)
    if kind == "minmax":
        assert p.train.signal.min() == pytest.approx(-1.0) and p.train.signal.max() == pytest.approx(1.0)
    assert p.valid.signal.std() > 5 * p.train.signal.std()


@pytest.mark.slow
def test_resampled_to_data_rate(tmp_path):
    write_with_loud_tail(tmp_path / "a.wav", sr=8000)
    p = prepare(Data(source=str(tmp_path / "a.wav"), sample_rate=16000, **SMALL))
    assert p.sample_rate == 16000 and p.description["sample_rate"] == 16000
    assert p.description["seconds"]["train"] == pytest.approx(6.4)


def test_too_short_says_how_many_seconds_are_needed(tmp_path):
    sf.write(tmp_path / "short.wav", np.sin(np.arange(1500) / 5).astype(np.float32), 8000)
    data = Data(source=str(tmp_path / "short.wav"), sample_rate=8000, **SMALL)
    # span 200 samples = 0.025 s per split; the 0.1 splits of 1500 samples hold 150 samples only
    with pytest.raises(DataError, match=r"short\.wav is too short.*0\.025 s.*at least 0\.250 s"):
        prepare(data)


def test_folder_split_by_file_and_short_file_message(tmp_path):
    for i in range(5):
        sf.write(tmp_path / f"f{i}.wav", np.sin(np.arange(2000) * (i + 1) / 7).astype(np.float32), 8000)
    data = Data(source=str(tmp_path), sample_rate=8000, split_seed=1, **SMALL)
    p = prepare(data)
    files = p.description["files"]
    assert sorted(files["train"] + files["valid"] + files["test"]) == sorted(str(tmp_path / f"f{i}.wav") for i in range(5))
    assert p.description["split_by"] == "file" and len(p.train.segments) == 3
    assert prepare(data).description["files"] == files  # deterministic from split_seed
    long_data = Data(source=str(tmp_path), sample_rate=8000, split_seed=1, frame_length=500, sequence_length=4, batch_size=1)
    with pytest.raises(DataError, match=r"split \(files .*f\d\.wav.*0\.250 s.*0\.312 s"):
        prepare(long_data)


def test_bad_input_fails_before_training(tmp_path):
    x = np.sin(np.arange(8000) / 5).astype(np.float32)
    x[100] = np.inf
    sf.write(tmp_path / "inf.wav", x, 8000, subtype="FLOAT")
    with pytest.raises(DataError, match=r"inf\.wav.*NaN or inf"):
        prepare(Data(source=str(tmp_path / "inf.wav"), sample_rate=8000, **SMALL))
    sf.write(tmp_path / "zero.wav", np.zeros(8000, np.float32), 8000)
    with pytest.raises(DataError, match=r"zero\.wav.*silent"):
        prepare(Data(source=str(tmp_path / "zero.wav"), sample_rate=8000, **SMALL))
    # sound only outside the training part: the training split is silent, std 0 must not divide
    y = np.zeros(8000, np.float32)
    y[7000:] = np.sin(np.arange(1000) / 5)
    sf.write(tmp_path / "late.wav", y, 8000)
    with pytest.raises(DataError, match="training split .*late\\.wav.*silent"):
        prepare(Data(source=str(tmp_path / "late.wav"), sample_rate=8000, **SMALL))
    with pytest.raises(DataError, match="data.normalization"):
        prepare(Data(normalization="robust"))
    with pytest.raises(DataError, match="data.split"):
        prepare(Data(split=(0.5, 0.5, 0.0)))


def test_prepare_dispatches_through_the_source_registry():
    def ramp_source(data):
        return Recording([("ramp", np.sin(np.arange(4000) / 3).astype(np.float32))], by_file=False, source="ramp")

    SOURCES.register("test_ramp", ramp_source, overwrite=True)
    p = prepare(Data(source="test_ramp", sample_rate=8000, **SMALL))
    assert p.description["files"]["test"] == ["ramp"] and p.train.samples == 3200

"""Audio sources: files of every format, folders, globs, TFDS, bad input (advaudio/data/sources.py)."""

import numpy as np
import pytest
import soundfile as sf

from advaudio.config import Data
from advaudio.data import DataError, load_source, read_audio_file, source_kind
from advaudio.registry import SOURCES

SR = 8000


def sine(freq=440.0, seconds=0.5, sr=SR, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_hz(x, sr):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spectrum)]


def test_every_source_kind_is_registered():
    assert {"default", "file", "folder", "glob", "tfds"} <= set(SOURCES.names())


@pytest.mark.parametrize(
    "suffix,subtype",
    [("wav", "PCM_16"), ("flac", "PCM_16"), ("ogg", "VORBIS"), ("aiff", "PCM_16"), ("au", "PCM_16"), ("mp3", "MPEG_LAYER_III")],
)
@pytest.mark.slow
def test_reads_each_format_as_mono_at_the_data_rate(tmp_path, suffix, subtype):
    path = tmp_path / f"a.{suffix}"
    sf.write(path, sine(), SR, subtype=subtype)
    audio = read_audio_file(path, SR)
    assert audio.dtype == np.float32 and audio.ndim == 1
    # lossy codecs pad a little; the tone itself must survive
    assert abs(len(audio) - SR // 2) < 0.1 * SR
    assert abs(dominant_hz(audio, SR) - 440.0) < 20.0
    assert 0.25 < np.abs(audio).max() < 0.75


@pytest.mark.slow
def test_stereo_is_mixed_down_and_rate_converted(tmp_path):
    left, right = sine(440.0, 1.0, 8000, 0.4), sine(440.0, 1.0, 8000, 0.2)
    sf.write(tmp_path / "st.wav", np.stack([left, right], axis=1), 8000, subtype="FLOAT")
    audio = read_audio_file(tmp_path / "st.wav", 16000)
    assert len(audio) == 16000
    assert abs(dominant_hz(audio, 16000) - 440.0) < 5.0
    assert abs(np.abs(audio[1000:-1000]).max() - 0.3) < 0.02  # mean of the channels


@pytest.mark.parametrize("suffix", ["wav", "aiff", "au", "flac", "ogg"])
def test_truncated_file_names_file_and_fix(tmp_path, suffix):
    path = tmp_path / f"cut.{suffix}"
    sf.write(path, sine(seconds=1.0), SR, subtype="VORBIS" if suffix == "ogg" else "PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"(cannot read .*cut\.%s|cut\.%s is truncated).*re-export" % (suffix, suffix)):
        read_audio_file(path, SR)


def test_non_audio_empty_nan_and_silent_files(tmp_path):
    (tmp_path / "text.wav").write_text("this is not audio at all, just text " * 20)
    with pytest.raises(DataError, match=r"cannot read .*text\.wav as audio.*re-export"):
        read_audio_file(tmp_path / "text.wav", SR)
    with pytest.raises(DataError, match=r"notes\.txt.*not an audio file"):
        (tmp_path / "notes.txt").write_text("x")
        read_audio_file(tmp_path / "notes.txt", SR)
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), SR)
    with pytest.raises(DataError, match=r"empty\.wav.*no audio"):
        read_audio_file(tmp_path / "empty.wav", SR)
    bad = sine()
    bad[10] = np.nan
    bad[20] = np.inf
    sf.write(tmp_path / "nan.wav", bad, SR, subtype="FLOAT")
    with pytest.raises(DataError, match=r"nan\.wav.*2 NaN or inf"):
        read_audio_file(tmp_path / "nan.wav", SR)
    sf.write(tmp_path / "silent.wav", np.zeros(SR, np.float32), SR)
    with pytest.raises(DataError, match=r"silent\.wav.*silent"):
        read_audio_file(tmp_path / "silent.wav", SR)
    with pytest.raises(DataError, match="does not exist"):
        read_audio_file(tmp_path / "missing.wav", SR)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "music"
    (root / "sub").mkdir(parents=True)
    for i, f in enumerate([220.0, 330.0, 440.0, 550.0]):
        sf.write(root / ("sub" if i == 3 else "") / f"t{i}.wav", sine(f), SR)
    (root / "README.txt").write_text("ignored: not an audio extension")
    return root


def test_folder_and_glob_sources(folder):
    rec = load_source(Data(source=str(folder), sample_rate=SR))
    assert rec.by_file and len(rec.clips) == 4
    names = [str(folder / n) for n in ("sub/t3.wav", "t0.wav", "t1.wav", "t2.wav")]  # sorted paths, recursive
    assert [c[0] for c in rec.clips] == names
    rec = load_source(Data(source=str(folder / "*.wav"), sample_rate=SR))
    assert source_kind(str(folder / "*.wav")) == "glob" and len(rec.clips) == 3
    rec = load_source(Data(source=str(folder / "**" / "*.wav"), sample_rate=SR))
    assert len(rec.clips) == 4
    single = load_source(Data(source=str(folder / "t1.wav"), sample_rate=SR))
    assert not single.by_file and abs(dominant_hz(single.clips[0][1], SR) - 330.0) < 20


def test_bad_file_in_folder_skip_or_fail(folder):
    (folder / "broken.flac").write_bytes(b"fLaC" + bytes(100))
    with pytest.raises(DataError, match=r"broken\.flac.*on_bad_file='skip'"):
        load_source(Data(source=str(folder), sample_rate=SR, on_bad_file="fail"))
    with pytest.warns(UserWarning, match=r"broken\.flac"):
        rec = load_source(Data(source=str(folder), sample_rate=SR, on_bad_file="skip"))
    assert len(rec.clips) == 4 and any("broken.flac" in n for n in rec.notes)
    with pytest.raises(DataError, match="on_bad_file"):
        load_source(Data(source=str(folder), sample_rate=SR, on_bad_file="ignore"))


def test_unknown_sources_name_the_fix(tmp_path):
    with pytest.raises(DataError, match="neither 'default'"):
        load_source(Data(source=str(tmp_path / "nope.wav")))
    with pytest.raises(DataError, match="matches no files"):
        load_source(Data(source=str(tmp_path / "*.wav")))
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(DataError, match="holds no audio files"):
        load_source(Data(source=str(tmp_path / "empty_dir")))


@pytest.mark.slow
def test_tfds_source_reads_mocked_dataset_without_download():
    import tensorflow_datasets as tfds

    data = Data(source="tfds:speech_commands", sample_rate=16000, tfds_data_dir="/nonexistent/tfds")
    with tfds.testing.mock_data(num_examples=5):
        expected = [
            ex["audio"].astype(np.float32) / 32768.0
            for ex in tfds.as_numpy(tfds.load("speech_commands", split="train", download=False))
        ]
        rec = load_source(data)
    assert not rec.by_file and rec.source == "tfds:speech_commands/train"
    np.testing.assert_allclose(rec.clips[0][1], np.concatenate(expected), atol=1e-7)


@pytest.mark.slow
def test_tfds_unknown_name_and_missing_data(tmp_path):
    with pytest.raises(DataError, match="no dataset named 'no_such_audio_set'"):
        load_source(Data(source="tfds:no_such_audio_set", tfds_data_dir=str(tmp_path)))
    with pytest.raises(DataError, match=r"not prepared in .*tfds build speech_commands.*tfds_data_dir"):
        load_source(Data(source="tfds:speech_commands", tfds_data_dir=str(tmp_path)))

"""Tests for advaudio/synthesis.py: the compiled rollout, seeding, safe writing, and the 2016 regressions."""
import json

import keras
import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from advaudio import config as config_lib
from advaudio import synthesis
from advaudio.data import Stats
from advaudio.synthesis import (
    PEAK_TARGET,
    RMS_TARGET,
    choose_seed_positions,
    generate,
    generate_for_run,
    normalize_loudness,
    rollout_frames,
    seed_frames_at,
    to_pcm,
    write_audio,
)
from advaudio.models import FrameGRU
from advaudio.stitching import synthesis_window, window_power

F = 16  # frame length of the tiny models
SETTINGS = settings(max_examples=30, deadline=None)


def tiny_model(cell="gru", skip_connections=False, frame_length=F, units=8, layers=2, seed=0):
    keras.utils.set_random_seed(seed)
    model = FrameGRU(frame_length=frame_length, units=units, layers=layers, cell=cell, skip_connections=skip_connections)
    model.build((None, None, frame_length))
    return model


@pytest.fixture(scope="module")
def gru():
    return tiny_model()


@pytest.fixture(scope="module")
def seeds():
    return np.random.default_rng(0).normal(size=(3, 4, F)).astype(np.float32)


def keras_reference(model, seed_frames, num_frames, frame_hop=F, feedback="raw", dither=0.0, noise_seed=0,
                    window="hann"):
    """The rollout run one frame at a time through the Keras layers (`call_with_states`), in Python."""
    preds, states = model.call_with_states(seed_frames, model.initial_states(seed_frames.shape[0]))
    pred = preds[:, -1].numpy()
    w = synthesis_window(window, F)
    power = window_power(window)  # the normaliser sums w ** power
    # Overlap-add sums over the next frame's span, started from the seed frames.
    num = np.zeros((seed_frames.shape[0], F + seed_frames.shape[1] * frame_hop), np.float32)
    den = np.zeros(F + seed_frames.shape[1] * frame_hop, np.float32)
    for k in range(seed_frames.shape[1]):
        num[:, k * frame_hop : k * frame_hop + F] += w * seed_frames[:, k]
        den[k * frame_hop : k * frame_hop + F] += w**power
    position = seed_frames.shape[1] * frame_hop
    out = [pred]
    for step in range(num_frames - 1):
        fed = pred
        if feedback == "stitched" and frame_hop < F:
            grow = position + F - num.shape[1]
            if grow > 0:
                num = np.pad(num, [(0, 0), (0, grow)])
                den = np.pad(den, [(0, grow)])
            num[:, position : position + F] += w * pred
            den[position : position + F] += w**power
            fed = num[:, position : position + F] / den[position : position + F] ** (1 / power)
            position += frame_hop
        if dither:
            noise = tf.random.stateless_normal(fed.shape, seed=[noise_seed, step], alg="philox").numpy()
            fed = fed + dither * noise
        y, states = model.call_with_states(fed[:, None].astype(np.float32), states)
        pred = y[:, 0].numpy()
        out.append(pred)
    return np.stack(out, axis=1)


# --------------------------------------------------------------------------- rollout


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("jit,fold", [(True, True), (False, True), (True, False)])
@pytest.mark.parametrize("batch", [1, 3])  # batch 1 under XLA runs the paired weight products
@pytest.mark.slow
def test_rollout_equals_stepping_the_keras_model(cell, jit, fold, batch, seeds):
    model = tiny_model(cell, layers=3)
    seeds = seeds[:batch]
    assert synthesis.get_rollout(model, F, "raw", jit_compile=jit).foldable
    got = rollout_frames(model, seeds, 9, F, feedback="raw", jit_compile=jit, fold=fold)
    np.testing.assert_allclose(got, keras_reference(model, seeds, 9), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_unfoldable_rollout_equals_stepping_the_keras_model(seeds):
    model = tiny_model(skip_connections=True)  # the head sees the input frame: no folding
    assert not synthesis.get_rollout(model, F, "raw").foldable
    got = rollout_frames(model, seeds, 9, F, feedback="raw")
    np.testing.assert_allclose(got, keras_reference(model, seeds, 9), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="cannot be folded"):
        rollout_frames(model, seeds, 9, F, feedback="raw", fold=True)


@pytest.mark.slow
def test_stitched_feedback_feeds_the_overlap_added_signal(gru, seeds):
    hop = F // 2
    got = rollout_frames(gru, seeds, 9, hop, feedback="stitched")
    np.testing.assert_allclose(got, keras_reference(gru, seeds, 9, hop, "stitched"), rtol=1e-4, atol=1e-5)
    raw = rollout_frames(gru, seeds, 9, hop, feedback="raw")
    np.testing.assert_allclose(raw, keras_reference(gru, seeds, 9, hop, "raw"), rtol=1e-4, atol=1e-5)
    assert np.abs(raw[:, 1:] - got[:, 1:]).max() > 1e-3  # the option changes what is fed back
    # the equal-power window feeds back sum(w f) / sqrt(sum(w^2)), as its stitcher outputs
    sine = rollout_frames(gru, seeds, 9, hop, feedback="stitched", window="sine")
    np.testing.assert_allclose(sine, keras_reference(gru, seeds, 9, hop, "stitched", window="sine"), rtol=1e-4, atol=1e-5)
    assert np.abs(sine[:, 1:] - got[:, 1:]).max() > 1e-3


@pytest.mark.parametrize("fold", [True, False])
@pytest.mark.slow
def test_dither_is_fed_back_reproducibly(gru, seeds, fold):
    got = rollout_frames(gru, seeds, 6, F, feedback="raw", dither=0.3, seed=7, fold=fold)
    np.testing.assert_allclose(got, keras_reference(gru, seeds, 6, dither=0.3, noise_seed=7), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(got, rollout_frames(gru, seeds, 6, F, feedback="raw", dither=0.3, seed=7, fold=fold))
    np.testing.assert_allclose(rollout_frames(gru, seeds, 6, F, feedback="raw", dither=0.3, seed=7, jit_compile=False, fold=fold),
                               got, rtol=1e-4, atol=1e-5)
    other = rollout_frames(gru, seeds, 6, F, feedback="raw", dither=0.3, seed=8, fold=fold)
    clean = rollout_frames(gru, seeds, 6, F, feedback="raw", fold=fold)
    np.testing.assert_allclose(got[:, 0], clean[:, 0], rtol=1e-5, atol=1e-6)  # frame 0 only sees the seed
    assert np.abs(got[:, 1:] - other[:, 1:]).max() > 1e-3
    assert np.abs(got[:, 1:] - clean[:, 1:]).max() > 1e-3


@pytest.mark.parametrize("feedback,dither,hop,fold", [("raw", 0.0, F, True), ("raw", 0.1, F, True),
                                                     ("stitched", 0.2, F // 4, False)])
@pytest.mark.slow
def test_chunks_continue_seamlessly(gru, seeds, feedback, dither, hop, fold):
    whole = rollout_frames(gru, seeds, 10, hop, feedback=feedback, dither=dither, fold=fold)
    chunked = rollout_frames(gru, seeds, 10, hop, feedback=feedback, dither=dither, chunk_frames=3, fold=fold)
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_folded_weights_follow_weight_changes(seeds):
    model = tiny_model(units=4, layers=1)
    before = rollout_frames(model, seeds, 5, F, feedback="raw", fold=True)
    np.testing.assert_allclose(before, keras_reference(model, seeds, 5), rtol=1e-4, atol=1e-5)
    head = model.head.kernel
    head.assign(head.numpy()[:, ::-1])  # same values, permuted: must still refold
    after = rollout_frames(model, seeds, 5, F, feedback="raw", fold=True)
    np.testing.assert_allclose(after, keras_reference(model, seeds, 5), rtol=1e-4, atol=1e-5)
    assert np.abs(after - before).max() > 1e-3


@pytest.mark.slow
def test_cached_rollouts_do_not_keep_models_alive(seeds):
    import gc
    import weakref

    model = tiny_model(units=4, layers=1)
    rollout_frames(model, seeds, 2, F)
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


@pytest.mark.slow
def test_falls_back_to_graph_mode_when_xla_fails(seeds, monkeypatch, caplog):
    model = tiny_model(units=4, layers=1, seed=3)
    roll = synthesis.get_rollout(model, F, "raw")
    plain_function = roll._function
    compiled = []

    def failing_xla(name, fn, jit):
        if not jit:
            return plain_function(name, fn, jit)
        compiled.append(name)

        def fail(*_):
            raise tf.errors.UnimplementedError(None, None, "no XLA kernel for this op")

        return fail

    monkeypatch.setattr(roll, "_function", failing_xla)
    got = rollout_frames(model, seeds, 4, F, feedback="raw")
    assert not roll.jit_compile and "XLA compilation of the generation loop failed" in caplog.text
    assert compiled == ["warm_up"]  # tried once; the warm-up and the loop then ran in graph mode
    np.testing.assert_allclose(got, keras_reference(model, seeds, 4), rtol=1e-4, atol=1e-5)


def test_rollout_rejects_bad_options(gru, seeds):
    with pytest.raises(ValueError, match="feedback"):
        rollout_frames(gru, seeds, 2, F, feedback="stiched")
    with pytest.raises(ValueError, match="seed frames"):
        rollout_frames(gru, seeds[..., :-1], 2, F)
    with pytest.raises(ValueError, match="frame_hop"):
        rollout_frames(gru, seeds, 2, F + 1)


# --------------------------------------------------------------------------- generate


@pytest.mark.slow
def test_seed_is_excluded(gru, seeds):
    """The first output sample is the first predicted one, never a seed sample."""
    audio = generate(gru, seeds, num_frames=1, stitch_method="concat")
    np.testing.assert_allclose(audio, gru(seeds)[:, -1].numpy(), rtol=1e-5, atol=1e-6)
    audio = generate(gru, seeds, num_samples=3 * F, stitch_method="concat", chunk_frames=4)
    np.testing.assert_allclose(audio.reshape(3, 3, F), keras_reference(gru, seeds, 3), rtol=1e-4, atol=1e-5)
    assert not np.allclose(audio[:, :F], seeds[:, -1], atol=0.1)


@settings(max_examples=15, deadline=None)
@given(
    num_samples=st.integers(1, 200),
    method=st.sampled_from(["concat", "overlap_add", "crossfade", "auto"]),
    hop=st.sampled_from([F, F // 2, 12]),
)
@pytest.mark.slow
def test_duration_is_exact_to_the_sample(gru, seeds, num_samples, method, hop):
    # chunk_frames fixed: one compiled loop serves every length.
    audio = generate(gru, seeds, num_samples=num_samples, frame_hop=hop, stitch_method=method,
                     crossfade_length=2, chunk_frames=4)
    assert audio.shape == (3, num_samples) and audio.dtype == np.float32
    assert np.all(np.isfinite(audio))


@pytest.mark.slow
def test_overlap_add_output_is_the_stitched_rollout(gru, seeds):
    hop = F // 2
    audio = generate(gru, seeds, num_frames=5, frame_hop=hop, stitch_method="overlap_add", feedback="raw")
    frames = rollout_frames(gru, seeds, 5, hop, feedback="raw")
    w = synthesis_window("hann", F)
    num, den = np.zeros((3, 4 * hop + F)), np.zeros(4 * hop + F)
    for k in range(5):
        num[:, k * hop : k * hop + F] += w * frames[:, k]
        den[k * hop : k * hop + F] += w
    np.testing.assert_allclose(audio, num / den, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_batch_rows_are_independent(gru, seeds):
    batch = generate(gru, seeds, num_samples=50, chunk_frames=4)
    for i in range(3):
        np.testing.assert_allclose(batch[i : i + 1], generate(gru, seeds[i : i + 1], num_samples=50, chunk_frames=4),
                                   rtol=1e-4, atol=1e-5)
    assert np.abs(batch[0] - batch[1]).max() > 1e-3


def test_seed_positions_and_frames():
    positions = choose_seed_positions(1000, 5, 100, seed=3)
    assert positions == choose_seed_positions(1000, 5, 100, seed=3)
    assert positions != choose_seed_positions(1000, 5, 100, seed=4)
    assert all(0 <= p <= 900 for p in positions) and len(set(positions)) > 1
    assert choose_seed_positions(100, 2, 100, seed=0) == [0, 0]
    with pytest.raises(ValueError, match="seed_frames"):
        choose_seed_positions(99, 1, 100, seed=0)
    signal = np.arange(1000, dtype=np.float32)
    frames = seed_frames_at(signal, [5, 50], seed_frames=3, frame_length=8, frame_hop=4)
    assert frames.shape == (2, 3, 8)
    np.testing.assert_array_equal(frames[1, 2], signal[58:66])


# --------------------------------------------------------------------------- writing


def test_pcm_hand_values():
    np.testing.assert_array_equal(to_pcm(np.array([1.0, -1.0, 1.5, -1.5, 0.0, 0.5])),
                                  [32767, -32767, 32767, -32767, 0, 16384])
    assert to_pcm(np.array([1.0]), "PCM_24")[0] == 2**23 - 1
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="NaN"):
            to_pcm(np.array([0.0, bad]))


@SETTINGS
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=1, max_size=50),
       st.sampled_from(["PCM_16", "PCM_24"]))
def test_pcm_clips_never_wraps(values, subtype):
    x = np.array(values, np.float32)
    full = 2**15 - 1 if subtype == "PCM_16" else 2**23 - 1
    pcm = to_pcm(x, subtype).astype(np.int64)
    assert np.all(np.abs(pcm) <= full)
    assert np.all(np.sign(pcm) == np.sign(np.round(np.clip(x, -1, 1) * full)))  # no sign flips (wrapping)
    np.testing.assert_array_equal(pcm[x >= 1], full)
    np.testing.assert_array_equal(pcm[x <= -1], -full)
    inside = np.abs(x) <= 1
    assert np.all(np.abs(pcm[inside] / full - x[inside]) <= 0.5 / full + 1e-7)
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(pcm[order]) >= 0)  # monotonic


@SETTINGS
@given(st.lists(st.floats(-1, 1, width=32), min_size=1, max_size=50), st.integers(0, 49))
def test_nan_anywhere_is_an_error(values, where):
    x = np.array(values, np.float32)
    x[where % len(x)] = np.nan
    with pytest.raises(ValueError):
        to_pcm(x)


@pytest.mark.parametrize("suffix,subtype,rate", [("wav", "PCM_16", 16000), ("wav", "PCM_24", 22050),
                                                 ("wav", "FLOAT", 8000), ("flac", "PCM_16", 44100),
                                                 ("flac", "PCM_24", 12345)])
def test_written_files_hold_the_samples(tmp_path, suffix, subtype, rate):
    """The 2016 `astype` bug: the int16 file must hold the converted samples, at the right rate."""
    audio = (0.7 * np.sin(np.arange(1001) * 0.05)).astype(np.float32)
    audio[10] = 1.4  # clipped, not wrapped
    path = write_audio(tmp_path / f"a.{suffix}", audio, rate, subtype)
    info = sf.info(str(path))
    assert (info.samplerate, info.frames, info.channels, info.subtype) == (rate, 1001, 1, subtype)
    if subtype == "PCM_16":
        stored, _ = sf.read(str(path), dtype="int16")
        np.testing.assert_array_equal(stored, to_pcm(audio))
        assert stored[10] == 32767
    elif subtype == "PCM_24":
        stored, _ = sf.read(str(path), dtype="int32")
        np.testing.assert_array_equal(stored >> 8, to_pcm(audio, "PCM_24"))
    else:
        stored, _ = sf.read(str(path), dtype="float32")
        np.testing.assert_array_equal(stored, audio)


def test_write_rejects_bad_requests(tmp_path):
    audio = np.zeros(10, np.float32)
    with pytest.raises(ValueError, match="FLAC"):
        write_audio(tmp_path / "a.flac", audio, 8000, "FLOAT")
    with pytest.raises(ValueError, match=".wav or .flac"):
        write_audio(tmp_path / "a.mp3", audio, 8000)
    with pytest.raises(ValueError, match="subtype"):
        write_audio(tmp_path / "a.wav", audio, 8000, "PCM_8")
    with pytest.raises(ValueError, match="NaN"):
        write_audio(tmp_path / "a.wav", np.array([0.0, np.nan]), 8000)
    assert not (tmp_path / "a.wav").exists()


def test_loudness_normalisation_is_opt_in():
    quiet = (0.01 * np.sin(np.arange(800) * 0.1)).astype(np.float32)
    np.testing.assert_array_equal(normalize_loudness(quiet), quiet)  # default "none": a collapse stays audible as one
    np.testing.assert_allclose(np.max(np.abs(normalize_loudness(quiet, "peak"))), PEAK_TARGET, rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.mean(normalize_loudness(quiet, "rms") ** 2)), RMS_TARGET, rtol=1e-5)
    np.testing.assert_array_equal(normalize_loudness(np.zeros(5), "peak"), np.zeros(5))
    with pytest.raises(ValueError, match="loudness"):
        normalize_loudness(quiet, "lufs")


# --------------------------------------------------------------------------- runs


def tiny_experiment(frame_length=F, sample_rate=8000, units=8, layers=2):
    cfg = config_lib.Experiment(name="tiny")
    cfg.data.frame_length = frame_length
    cfg.data.sample_rate = sample_rate
    cfg.model.units = units
    cfg.model.layers = layers
    cfg.generate.seed_frames = 3
    cfg.generate.count = 2
    cfg.generate.seconds = 0.1237  # 989.6 samples at 8 kHz -> 990, not a whole number of frames
    return cfg


STATS = Stats("standard", mean=0.1, std=0.25)


@pytest.mark.slow
def test_generate_for_run_writes_samples_sidecars_and_seeds(tmp_path, gru):
    cfg = tiny_experiment()
    valid = np.random.default_rng(5).normal(size=4000).astype(np.float32)
    paths = generate_for_run(tmp_path, cfg, gru, seed_signal={"valid": valid}, stats=STATS,
                             checkpoint_info={"which": "best", "epoch": 3, "step": 120,
                                              "path": str(tmp_path / "checkpoints" / "c.weights.h5")})
    assert paths == [tmp_path / "samples" / "sample_000.wav", tmp_path / "samples" / "sample_001.wav"]
    span = (3 - 1) * F + F
    positions = choose_seed_positions(len(valid), 2, span, cfg.generate.sample_seed)
    expected = generate(gru, seed_frames_at(valid, positions, 3, F, F), num_samples=990)
    for i, path in enumerate(paths):
        info = sf.info(str(path))
        assert (info.samplerate, info.frames, info.subtype) == (8000, 990, "PCM_16")  # exact to the sample
        stored, _ = sf.read(str(path), dtype="int16")
        np.testing.assert_array_equal(stored, to_pcm(STATS.denormalize(expected[i])))  # de-normalised, not wrapped
        seed_audio, _ = sf.read(str(path.parent / "seeds" / path.name), dtype="int16")
        np.testing.assert_array_equal(seed_audio, to_pcm(STATS.denormalize(valid[positions[i] : positions[i] + span])))
        sidecar = json.loads(path.with_suffix(".json").read_text())
        assert sidecar["seed_split"] == "valid" and sidecar["seed_position"] == positions[i]
        assert sidecar["checkpoint"] == "checkpoints/c.weights.h5" and sidecar["model_step"] == 120
        assert sidecar["stitch"] == "concat" and sidecar["sample_rate"] == 8000 and sidecar["samples"] == 990
        assert sidecar["seconds"] == 990 / 8000 and sidecar["frame_length"] == F and sidecar["frame_hop"] == F
        assert sidecar["run"] == str(tmp_path) and sidecar["experiment"] == "tiny"


def test_generate_for_run_never_seeds_from_train(tmp_path, gru):
    with pytest.raises(ValueError, match="train"):
        generate_for_run(tmp_path, tiny_experiment(), gru, stats=STATS, seed_from="train")
    with pytest.raises(FileNotFoundError, match="valid, test"):
        generate_for_run(tmp_path, tiny_experiment(), gru, stats=STATS, seed_from=str(tmp_path / "none.wav"))
    cfg = tiny_experiment()
    cfg.generate.format, cfg.generate.subtype = "flac", "FLOAT"
    with pytest.raises(ValueError, match="FLAC"):  # before any generation
        generate_for_run(tmp_path, cfg, gru, stats=STATS, seed_signal={"valid": np.zeros(10, np.float32)})


@pytest.mark.slow
def test_missing_split_is_read_through_the_data_layer(tmp_path, gru, monkeypatch):
    class Split:
        signal = np.random.default_rng(6).normal(size=500).astype(np.float32)

    class Prepared:
        test = Split()

    calls = []
    monkeypatch.setattr("advaudio.data.prepare", lambda data_cfg: calls.append(data_cfg) or Prepared())
    cfg = tiny_experiment()
    paths = generate_for_run(tmp_path, cfg, gru, stats=STATS, seed_from="test", count=1, out_dir=tmp_path / "o")
    assert calls == [cfg.data] and paths == [tmp_path / "o" / "sample_000.wav"]
    assert json.loads((tmp_path / "o" / "sample_000.json").read_text())["seed_split"] == "test"


@pytest.fixture(scope="module")
def tone_model():
    """A tiny model trained in-process on a 440 Hz tone at 8 kHz (frames of 64, 16 units)."""
    keras.utils.set_random_seed(0)
    sample_rate, frame_length, freq, sequence = 8000, 64, 440.0, 8
    signal = np.sin(2 * np.pi * freq * np.arange(4 * sample_rate) / sample_rate).astype(np.float32)
    starts = np.random.default_rng(0).integers(0, len(signal) - (sequence + 1) * frame_length, size=512)
    examples = np.stack([signal[s : s + (sequence + 1) * frame_length].reshape(sequence + 1, frame_length) for s in starts])
    model = FrameGRU(frame_length=frame_length, units=16, layers=1)
    model.build((None, None, frame_length))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    model.fit(examples[:, :-1], examples[:, 1:], batch_size=32, epochs=20, verbose=0)
    return model, freq


def dominant_frequency(audio, sample_rate):
    padded = 8 * len(audio)  # zero-padding: bins of sample_rate / padded Hz
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio)), n=padded))
    return np.argmax(spectrum) * sample_rate / padded


@pytest.mark.parametrize("stitch_method,file_rate,fmt", [("auto", 16000, "wav"), ("concat", 8000, "flac")])
@pytest.mark.slow
def test_speed_and_pitch_are_preserved(tmp_path, tone_model, stitch_method, file_rate, fmt):
    """Seeded from a tone file (resampled to the run's 8 kHz if need be), the written file plays at 440 Hz."""
    model, freq = tone_model
    seed_file = tmp_path / "tone.wav"
    sf.write(str(seed_file), 0.25 * np.sin(2 * np.pi * freq * np.arange(file_rate) / file_rate), file_rate,
             subtype="FLOAT")
    cfg = tiny_experiment(frame_length=64)
    cfg.generate.seconds, cfg.generate.count, cfg.generate.format = 1.0, 1, fmt
    stats = Stats("standard", mean=0.0, std=0.25)  # the file's tone normalised to the training tone
    [path] = generate_for_run(tmp_path, cfg, model, stats=stats, seed_from=str(seed_file), stitch=stitch_method)
    assert path.suffix == f".{fmt}"
    audio, rate = sf.read(str(path), dtype="float32")
    assert rate == 8000 and len(audio) == 8000
    assert abs(dominant_frequency(audio, rate) - freq) <= 0.01 * freq
    assert np.std(audio[-2000:]) > 0.1  # still a tone at the end, not collapsed to silence
    assert json.loads(path.with_suffix(".json").read_text())["seed_split"] == "file"


@pytest.mark.slow
def test_a_crossfade_of_whole_frames_shifts_pitch(tone_model):
    """Why "auto" is concat for frames that do not overlap: the crossfade drops L samples a frame."""
    model, freq = tone_model
    seed = np.sin(2 * np.pi * freq * np.arange(2 * 64) / 8000).reshape(1, 2, 64).astype(np.float32)
    audio = generate(model, seed, num_samples=8000, stitch_method="crossfade", crossfade_length=8)[0]
    np.testing.assert_allclose(dominant_frequency(audio, 8000), freq * 64 / (64 - 8), rtol=0.01)

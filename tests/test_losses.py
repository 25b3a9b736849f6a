"""Tests for advaudio.losses: frame losses, the MR-STFT loss and the spec/* terms."""
import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from advaudio import config as config_lib
from advaudio import losses, spectrum
from advaudio.objectives.base import LossContext
from advaudio.registry import LOSS_TERMS

pytestmark = pytest.mark.filterwarnings("ignore:Empty filters detected")  # tiny FFTs, many mels

FLOOR = 1e-7
M0 = np.sqrt(FLOOR)  # the magnitude of a silent bin
TINY = dict(fft_sizes=(4,), hop_lengths=(4,), win_lengths=(4,))


def test_shared_frame_term_is_the_share_of_one_repeated_waveform():
    rng = np.random.default_rng(3)
    target = rng.standard_normal((4, 6, 32)).astype(np.float32)
    fresh = rng.standard_normal((4, 6, 32)).astype(np.float32)
    shared = 2.0 * rng.standard_normal(32).astype(np.float32)
    cfg = config_lib.Experiment(objective=config_lib.Objective(loss_weights={"rec/shared_frame": 1.0}))
    term = LOSS_TERMS.build("rec/shared_frame", cfg)

    def value(pred):
        return float(term(LossContext(tf.constant(pred), tf.constant(target), cfg)))

    # by hand: mean((mean_{b,t} pred - mean_{b,t} target)^2) / mean(target^2)
    pred = fresh + shared
    expected = np.mean((pred.mean(axis=(0, 1)) - target.mean(axis=(0, 1))) ** 2) / np.mean(target**2)
    assert value(pred) == pytest.approx(expected, rel=1e-5)
    # a waveform repeated in every frame dominates; frames of their own do not
    assert value(pred) > 3.0 and value(fresh) < 0.2
    assert value(target) == 0.0
    # the gradient of a repeated frame points along the shared waveform, and removing it lowers the term
    with tf.GradientTape() as tape:
        p = tf.Variable(np.broadcast_to(shared, target.shape).copy())
        loss = term(LossContext(p, tf.constant(target), cfg))
    grad = tape.gradient(loss, p).numpy()
    cosine = np.sum(grad[0, 0] * shared) / (np.linalg.norm(grad[0, 0]) * np.linalg.norm(shared))
    assert cosine > 0.95
    assert value(np.broadcast_to(shared, target.shape) - 0.1 * grad / np.abs(grad).max()) < value(
        np.broadcast_to(shared, target.shape))


def test_position_power_term_reads_frames_loud_and_quiet_at_the_same_places():
    rng = np.random.default_rng(7)
    cfg = config_lib.Experiment(data=config_lib.Data(frame_length=80),
                                objective=config_lib.Objective(loss_weights={"rec/position_power": 1.0}))
    term = LOSS_TERMS.build("rec/position_power", cfg)  # 40 bins of 2 samples

    def value(pred, target):
        return float(term(LossContext(tf.constant(pred, tf.float32), tf.constant(target, tf.float32), cfg)))

    target = rng.standard_normal((8, 16, 80))
    fresh = rng.standard_normal((8, 16, 80))
    envelope = 1.0 + 0.8 * np.sin(2 * np.pi * np.arange(80) / 20)  # loud and quiet at the same places in every frame
    assert value(fresh, target) < 0.02
    assert value(fresh * envelope, target) > 10 * value(fresh, target)
    assert value(100.0 * fresh * envelope, target) == pytest.approx(value(fresh * envelope, target), rel=1e-4)  # scale-free
    # a target whose frames carry the same profile (a beat locked to the frame grid): nothing to correct
    assert value(fresh * envelope, target * envelope) < 0.02
    # by hand: frames of 4 samples in 2 bins (frame_length 4 < 40 bins: one bin per sample is the cap, so 4 bins)
    tiny_cfg = config_lib.Experiment(data=config_lib.Data(frame_length=4))
    tiny = LOSS_TERMS.build("rec/position_power", tiny_cfg)
    pred = np.array([[[1.0, 2.0, 2.0, 1.0]]])
    flat = np.ones((1, 1, 4))
    p = np.array([1.0, 4.0, 4.0, 1.0])
    expected = np.mean((np.log(p) - np.log(p.mean())) ** 2)
    got = float(tiny(LossContext(tf.constant(pred, tf.float32), tf.constant(flat, tf.float32), tiny_cfg)))
    assert got == pytest.approx(expected, rel=1e-5)
    # a gradient step flattens the profile
    with tf.GradientTape() as tape:
        v = tf.Variable(fresh * envelope, dtype=tf.float32)
        loss = term(LossContext(v, tf.constant(target, tf.float32), cfg))
    grad = tape.gradient(loss, v).numpy()
    assert value(fresh * envelope - 0.05 * grad / np.abs(grad).max(), target) < value(fresh * envelope, target)


def overlap_experiment(frame_length=32, frame_hop=16, regime="free_running", free_run_steps=8):
    return config_lib.Experiment(
        data=config_lib.Data(frame_length=frame_length, frame_hop=frame_hop),
        objective=config_lib.Objective(loss_weights={"rec/overlap": 1.0}, regime=regime, free_run_steps=free_run_steps),
    )


def test_overlap_term_reads_how_much_consecutive_frames_disagree_where_they_overlap():
    rng = np.random.default_rng(5)
    cfg = overlap_experiment()
    term = LOSS_TERMS.build("rec/overlap", cfg)

    def value(pred):
        return float(term(LossContext(tf.constant(pred), tf.constant(pred), cfg)))

    # frames cut from one signal, as the data's are, agree exactly
    signal = rng.standard_normal((3, 16 * 7 + 32)).astype(np.float32)
    cut = np.stack([signal[:, 16 * t : 16 * t + 32] for t in range(7)], axis=1)
    assert value(cut) == 0.0
    # fresh frames are uncorrelated where they overlap (about 1), and the value does not depend on loudness
    fresh = rng.standard_normal((3, 7, 32)).astype(np.float32)
    assert 0.8 < value(fresh) < 1.2
    assert value(0.01 * fresh) == pytest.approx(value(fresh), rel=1e-4)
    assert value(np.zeros_like(fresh)) == 0.0  # finite on silence
    # by hand on a tiny case: two frames of 4 samples, hop 2 -> the end [3, 4] of frame 0 against the start [1, 0]
    tiny_cfg = overlap_experiment(frame_length=4, frame_hop=2)
    tiny = LOSS_TERMS.build("rec/overlap", tiny_cfg)
    pred = np.array([[[1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 5.0, 6.0]]], np.float32)
    expected = ((3 - 1) ** 2 + (4 - 0) ** 2) / (3**2 + 4**2 + 1**2 + 0**2)
    assert float(tiny(LossContext(tf.constant(pred), tf.constant(pred), tiny_cfg))) == pytest.approx(expected, rel=1e-6)
    # a gradient step moves the overlapping parts towards each other and lowers the term
    with tf.GradientTape() as tape:
        p = tf.Variable(fresh)
        loss = term(LossContext(p, p, cfg))
    grad = tape.gradient(loss, p).numpy()
    stepped = fresh - 0.5 * grad / np.abs(grad).max()
    assert value(stepped) < value(fresh)
    gap = np.abs(fresh[:, :-1, 16:] - fresh[:, 1:, :16]).mean()
    assert np.abs(stepped[:, :-1, 16:] - stepped[:, 1:, :16]).mean() < gap
    # samples no other frame overlaps (the first frame's start, the last frame's end) get no gradient
    assert np.all(grad[:, 0, :16] == 0) and np.all(grad[:, -1, 16:] == 0)


@pytest.mark.parametrize(
    "kwargs, fix",
    [
        (dict(frame_hop=None), r"data.frame_hop=None(.|\n)*--set data.frame_hop=16"),
        (dict(frame_hop=32), r"data.frame_hop=32(.|\n)*--set data.frame_hop=16"),
        (dict(free_run_steps=1), r"objective.free_run_steps=1(.|\n)*free_run_steps >= 2"),
    ],
)
def test_overlap_term_refuses_frames_that_do_not_overlap_naming_the_key_and_fix(kwargs, fix):
    with pytest.raises(ValueError, match=r"rec/overlap(.|\n)*" + fix):
        config_lib.validate(overlap_experiment(**kwargs))
    config_lib.validate(overlap_experiment())  # overlapping frames and two steps pass
    config_lib.validate(overlap_experiment(free_run_steps=1, regime="teacher_forcing"))  # steps of a whole sequence


def term_experiment(term, frame_length=4000, frame_hop=2000, free_run_steps=8):
    """An experiment weighting only `term`, free running `free_run_steps` frames (the spec/* terms' tests)."""
    return config_lib.Experiment(
        data=config_lib.Data(frame_length=frame_length, frame_hop=frame_hop),
        objective=config_lib.Objective(loss_weights={term: 1.0}, regime="free_running",
                                       free_run_steps=free_run_steps),
    )


def descend(term, cfg, start_frames, target_frames, step, iterations=5):
    """`iterations` gradient steps of `term` on `start_frames` toward `target_frames`, each moving the sample of
    largest gradient by `step` x the prediction's std (every gradient finite); returns the term's final value."""
    pred = tf.Variable(start_frames)
    for _ in range(iterations):
        with tf.GradientTape() as tape:
            loss = term(LossContext(pred, target_frames, cfg))
        grad = tape.gradient(loss, pred)
        assert np.all(np.isfinite(grad.numpy()))
        pred.assign_sub(step * float(tf.math.reduce_std(pred)) * grad / tf.reduce_max(tf.abs(grad)))
    return float(term(LossContext(pred, target_frames, cfg)))


def reference_floored_power(y):
    """The flatness spectrogram, literally (numpy, float64): periodic-Hann frames of 2048 every 512, not centred,
    power, floored 80 dB under each sequence's loudest bin: `[batch, samples]` -> `[batch, frames, bins]`."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(2048) / 2048)  # periodic Hann
    count = 1 + (y.shape[1] - 2048) // 512
    frames = np.stack([y[:, m * 512 : m * 512 + 2048] for m in range(count)], axis=1).astype(np.float64)
    power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2
    return np.maximum(power, power.max(axis=(1, 2), keepdims=True) * 1e-8)


def decaying_notes_every(seconds, period, start, sample_rate=16000, seed=0):
    """660 Hz notes decaying in 50 ms every `period` s from `start`, over quiet noise: attacks at known times."""
    y = 0.001 * np.random.default_rng(seed).standard_normal(int(seconds * sample_rate))
    for onset in np.arange(start, seconds, period):
        s = int(onset * sample_rate)
        t = np.arange(y.size - s) / sample_rate
        y[s:] += 0.5 * np.sin(2 * np.pi * 660 * t) * np.exp(-20 * t)
    return y.astype(np.float32)


def cut_frames(signal, frame_length, frame_hop, steps):
    """[batch, samples] -> [batch, steps, frame_length] frames cut from one signal, as the data's are."""
    return np.stack([signal[:, frame_hop * t : frame_hop * t + frame_length] for t in range(steps)], axis=1)


def test_onset_strength_is_librosas():
    import librosa

    y = decaying_notes_every(3.0, 0.4, 0.3)
    ours = losses.onset_strength(y[None], 16000).numpy()[0]
    # librosa pads its envelope by lag + n_fft / (2 hop) = 5 frames and pads the signal with zeros (ours reflects):
    # away from both ends the two are the same envelope.
    theirs = librosa.onset.onset_strength(y=y, sr=16000, hop_length=losses.FLUX_HOP_LENGTH)[5:]
    n = min(ours.size, theirs.size)
    np.testing.assert_allclose(ours[10 : n - 10], theirs[10 : n - 10], rtol=1e-3, atol=1e-3)
    assert ours.max() > 10  # an attack: a rise of tens of dB in many bands
    noise = np.random.default_rng(1).standard_normal((1, 48000)).astype(np.float32)
    assert losses.onset_strength(noise, 16000).numpy()[0, 10:-10].max() < 3  # noise only fluctuates


def test_sorted_distance_by_hand():
    # sorted [1, 2, 3] against [0, 1, 5]: (1 + 1 + 2) / 3
    assert float(losses.sorted_distance(tf.constant([3.0, 1.0, 2.0]), tf.constant([0.0, 5.0, 1.0]))) == (
        pytest.approx(4 / 3))
    assert float(losses.sorted_distance(tf.constant([[3.0, 1.0], [2.0, 7.0]]), tf.constant([7.0, 2.0, 1.0, 3.0]))) == 0


def test_flux_term_asks_attack_free_output_for_the_datas_attacks():
    cfg = term_experiment("spec/flux")
    term = LOSS_TERMS.build("spec/flux", cfg)
    samples = 7 * 2000 + 4000

    def frames(signal):
        return tf.constant(cut_frames(signal, 4000, 2000, 8))

    def value(target, pred):
        return float(term(LossContext(frames(pred), frames(target), cfg)))

    notes = np.stack([decaying_notes_every(samples / 16000, 0.3, 0.1 + 0.05 * b, seed=b) for b in range(2)])
    shifted = np.stack([decaying_notes_every(samples / 16000, 0.3, 0.2 + 0.03 * b, seed=5 + b) for b in range(2)])
    rng = np.random.default_rng(2)
    hiss = (rng.standard_normal(notes.shape) * notes.std()).astype(np.float32)
    assert value(notes, notes) == 0.0
    assert value(notes, 0.01 * notes) < 0.01  # gain does not matter
    attacks_elsewhere, no_attacks = value(notes, shifted), value(notes, hiss)
    assert 4 * attacks_elsewhere < no_attacks  # where the attacks fall does not matter; their absence does
    # gradient steps on the hiss lower the term
    assert descend(term, cfg, cut_frames(hiss, 4000, 2000, 8), frames(notes), 0.5) < value(notes, hiss)


def test_flux_term_refuses_sequences_too_short_for_its_spectrogram_naming_the_keys():
    with pytest.raises(ValueError, match=r"spec/flux(.|\n)*data.frame_length=32(.|\n)*free_run_steps"):
        config_lib.validate(term_experiment("spec/flux", frame_length=32, frame_hop=16))
    config_lib.validate(term_experiment("spec/flux"))


def chord_over_noise(seconds, noise_level, root_hz=220.0, phase_seed=0, noise_seed=0, sample_rate=16000):
    """A drone-like chord (three harmonic voices) over white noise of `noise_level` standard deviation."""
    rng = np.random.default_rng(phase_seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    y = sum(np.sin(2 * np.pi * root_hz * ratio * k * t + rng.uniform(0, 2 * np.pi)) / k
            for ratio in (1.0, 1.25, 1.5) for k in range(1, 5))
    y = 0.1 * y + noise_level * np.random.default_rng(noise_seed).standard_normal(t.size)
    return y.astype(np.float32)


def test_log_flatness_is_the_formula_literally():
    """Hann frames of 2048 every 512 (not centred), power, the floor 80 dB under the loudest bin, then
    mean log - log mean; and white noise near -0.58 (exponential periodogram bins), a chord far below."""
    y = np.stack([chord_over_noise(0.5, 0.003), chord_over_noise(0.5, 0.0, root_hz=330.0)])
    ours = losses.log_flatness(y).numpy()
    power = reference_floored_power(y)
    expected = np.log(power).mean(-1) - np.log(power.mean(-1))
    np.testing.assert_allclose(ours, expected, rtol=1e-3, atol=1e-3)
    assert expected[1].mean() < expected[0].mean() < -4  # a clean chord is more tonal than one over noise
    noise = np.random.default_rng(3).standard_normal((1, 16000)).astype(np.float32)
    assert np.mean(losses.log_flatness(noise).numpy()) == pytest.approx(-0.58, abs=0.05)
    np.testing.assert_allclose(losses.log_flatness(0.01 * y).numpy(), ours, atol=1e-3)  # gain does not matter


def test_flatness_term_asks_a_hissing_chord_for_the_datas_tonality():
    cfg = term_experiment("spec/flatness")
    term = LOSS_TERMS.build("spec/flatness", cfg)
    seconds = (7 * 2000 + 4000) / 16000

    def frames(signal):
        return tf.constant(cut_frames(signal, 4000, 2000, 8))

    def value(target, pred):
        return float(term(LossContext(frames(pred), frames(target), cfg)))

    data = np.stack([chord_over_noise(seconds, 0.002, phase_seed=b, noise_seed=b) for b in range(2)])
    other_chord = np.stack([chord_over_noise(seconds, 0.002, 262.0, 5 + b, 7 + b) for b in range(2)])
    hissing = np.stack([chord_over_noise(seconds, 0.03, phase_seed=b, noise_seed=9 + b) for b in range(2)])
    assert value(data, data) == 0.0
    assert value(data, 0.01 * data) < 0.01  # gain does not matter
    same_floor, hiss = value(data, other_chord), value(data, hissing)
    assert 5 * same_floor < hiss  # other notes over the data's floor cost little; a floor 24 dB up costs much
    # gradient steps on the hissing chord lower the term
    assert descend(term, cfg, cut_frames(hissing, 4000, 2000, 8), frames(data), 0.02) < value(data, hissing)


def test_flatness_term_refuses_sequences_too_short_for_its_spectrogram_naming_the_keys():
    with pytest.raises(ValueError, match=r"spec/flatness(.|\n)*data.frame_length=128(.|\n)*free_run_steps"):
        config_lib.validate(term_experiment("spec/flatness", frame_length=128, frame_hop=64))
    config_lib.validate(term_experiment("spec/flatness"))


def tones(seconds, freqs, phase_seed=0, noise_level=1e-3, sample_rate=16000):
    """Equal sines at `freqs` Hz with random phases over white noise: `[samples]` float32."""
    rng = np.random.default_rng(phase_seed)
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    y = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in freqs) / len(freqs)
    return (0.3 * y + noise_level * rng.standard_normal(t.size)).astype(np.float32)


DRONE_HZ = (123.5, 185.0, 246.9, 370.0)  # off the 8 Hz grid of a 16 kHz signal cut every 2000 samples
ON_GRID_HZ = (120.0, 184.0, 248.0, 368.0)  # the same partials moved to the nearest multiples of 8 Hz


def test_hop_periodicity_share_is_the_formula_literally():
    rng = np.random.default_rng(3)
    audio = rng.standard_normal((3, 5 * 40 + 17)).astype(np.float32)  # 5 whole hops of 40 and a remainder
    hops = audio[:, : 5 * 40].reshape(3, 5, 40).astype(np.float64)
    expected = np.sum(hops.mean(axis=1) ** 2, axis=-1) / np.mean(np.sum(hops ** 2, axis=-1), axis=1)
    np.testing.assert_allclose(losses.hop_periodicity_share(audio, 40).numpy(), expected, rtol=1e-5)
    frozen = np.tile(audio[:, :40], (1, 6))
    np.testing.assert_allclose(losses.hop_periodicity_share(frozen, 40).numpy(), 1.0, rtol=1e-5)


def test_hop_periodicity_term_prices_tones_on_the_frame_grid_and_not_the_datas_own():
    cfg = term_experiment(losses.PERIODICITY_TERM)
    term = LOSS_TERMS.build(losses.PERIODICITY_TERM, cfg)
    seconds = (7 * 2000 + 4000) / 16000

    def frames(signal):
        return tf.constant(cut_frames(signal, 4000, 2000, 8))

    def value(target, pred):
        return float(term(LossContext(frames(pred), frames(target), cfg)))

    data = np.stack([tones(seconds, DRONE_HZ, phase_seed=b) for b in range(2)])
    other_phases = np.stack([tones(seconds, DRONE_HZ, phase_seed=10 + b) for b in range(2)])
    on_grid = np.stack([tones(seconds, ON_GRID_HZ, phase_seed=b) for b in range(2)])
    share = losses.hop_periodicity_share
    assert float(tf.reduce_max(share(data, 2000))) < 0.2 and float(tf.reduce_min(share(on_grid, 2000))) > 0.95
    assert value(data, data) == 0.0 and value(data, other_phases) == 0.0  # only an excess over the data's counts
    assert value(data, on_grid) > 0.8  # within 3 Hz of the data's partials, but every hop the same waveform
    assert value(data, 0.01 * on_grid) == pytest.approx(value(data, on_grid), rel=1e-4)  # scale-free
    # gradient steps on the on-grid tones lower the term
    assert descend(term, cfg, cut_frames(on_grid, 4000, 2000, 8), frames(data), 0.5) < 0.8 * value(data, on_grid)


def test_hop_periodicity_term_refuses_sequences_shorter_than_two_hops_naming_the_keys():
    with pytest.raises(ValueError, match=r"rec/hop_periodicity(.|\n)*1 frames of 4000(.|\n)*free_run_steps"):
        config_lib.validate(term_experiment(losses.PERIODICITY_TERM, frame_hop=4000, free_run_steps=1))
    config_lib.validate(term_experiment(losses.PERIODICITY_TERM, frame_hop=4000, free_run_steps=2))


def partials(seconds, bins, phase_seed=0, noise_level=0.0, jitter_hz=0.0, noise_seed=0, sample_rate=16000):
    """Sines exactly on the flatness spectrogram's bins (`bins` x 16000 / 2048 Hz), random phases, over white noise;
    `jitter_hz`: each partial's frequency wobbles by that much at 3-7 Hz (its energy spread into the valleys)."""
    rng = np.random.default_rng(phase_seed)
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    y = np.zeros_like(t)
    for k in bins:
        rate = rng.uniform(3.0, 7.0)
        phase = 2 * np.pi * k * 16000 / 2048 * t + jitter_hz / rate * np.sin(2 * np.pi * rate * t)
        y += np.sin(phase + rng.uniform(0, 2 * np.pi)) / len(bins)
    return (0.3 * y + noise_level * np.random.default_rng(noise_seed).standard_normal(t.size)).astype(np.float32)


def test_bin_levels_distance_is_the_formula_literally():
    """Per bin of the flatness metric's floored power spectrogram, the sorted log levels over all frames of all
    sequences of target and prediction; the mean absolute difference over bins and values."""
    rng = np.random.default_rng(5)
    target = np.stack([chord_over_noise(0.4, 0.003, phase_seed=b) for b in range(2)])
    pred = (0.7 * target + 0.01 * rng.standard_normal(target.shape)).astype(np.float32)

    def sorted_levels(y):
        power = reference_floored_power(y)
        return np.sort(np.log(power).reshape(-1, power.shape[-1]), axis=0)  # [batch * frames, bins]

    expected = np.mean(np.abs(sorted_levels(target) - sorted_levels(pred)))
    assert float(losses.bin_levels_distance(target, pred)) == pytest.approx(expected, rel=1e-3)
    assert float(losses.bin_levels_distance(target, 2.0 * target)) == pytest.approx(np.log(4.0), rel=1e-3)  # gain


def test_bin_levels_term_prices_smeared_partials_not_their_phases():
    cfg = term_experiment("spec/bin_levels")
    term = LOSS_TERMS.build("spec/bin_levels", cfg)
    seconds = (7 * 2000 + 4000) / 16000
    notes = (14, 18, 21, 28, 36, 42)  # 109-328 Hz, on bins, at least 3 bins apart

    def frames(signal):
        return tf.constant(cut_frames(signal, 4000, 2000, 8))

    def value(target, pred):
        return float(term(LossContext(frames(pred), frames(target), cfg)))

    data = np.stack([partials(seconds, notes, phase_seed=b, noise_level=1e-3, noise_seed=b) for b in range(2)])
    other_phases = np.stack([partials(seconds, notes, 10 + b, noise_level=1e-3, noise_seed=b) for b in range(2)])
    smeared = np.stack([partials(seconds, notes, b, noise_level=1e-3, jitter_hz=15.0, noise_seed=b) for b in range(2)])
    assert value(data, data) == 0.0
    assert np.mean((other_phases - data) ** 2) > 0.5 * np.mean(data ** 2)  # far apart as waveforms...
    same, smear = value(data, other_phases), value(data, smeared)  # (the same noise floor under all three)
    assert same < 0.01 and smear > 0.15  # ...but each bin keeps its levels; energy spread into the valleys costs
    # Gradient steps on smeared partials over another draw of the noise lower the term. (Log levels make quiet
    # bins ill-conditioned: with a floor 54 dB under the partials instead of 34 these steps stall.)
    smeared = np.stack([partials(seconds, notes, b, noise_level=1e-3, jitter_hz=15.0, noise_seed=9 + b)
                        for b in range(2)])
    assert descend(term, cfg, cut_frames(smeared, 4000, 2000, 8), frames(data), 0.005) < 0.8 * value(data, smeared)


def test_bin_levels_term_refuses_sequences_too_short_for_its_spectrogram_naming_the_keys():
    with pytest.raises(ValueError, match=r"spec/bin_levels(.|\n)*data.frame_length=128(.|\n)*free_run_steps"):
        config_lib.validate(term_experiment("spec/bin_levels", frame_length=128, frame_hop=64))
    config_lib.validate(term_experiment("spec/bin_levels"))


def reference_magnitude(x, fft_size, hop_length, win_length, power_floor=FLOOR):
    """The formula, literally: centred zero-padded Hann of fft_size, reflect padding, rfft."""
    pad = fft_size // 2
    padded = np.pad(x, [(0, 0), (pad, pad)], mode="reflect")
    window = spectrum.centred_window(fft_size, win_length).astype(np.float64)
    count = 1 + (padded.shape[1] - fft_size) // hop_length
    frames = np.stack([padded[:, m * hop_length : m * hop_length + fft_size] for m in range(count)], axis=1)
    transform = np.fft.rfft(frames * window, axis=-1)
    return np.sqrt(np.maximum(transform.real**2 + transform.imag**2, power_floor))


def reference_components(y_true, y_pred, fft_sizes, hop_lengths, win_lengths, resolution_weights=None, sample_rate=16000, n_mels=8, log_epsilon=0.0):
    weights = resolution_weights or [1.0] * len(fft_sizes)
    out = {"sc": 0.0, "logmag": 0.0, "linmag": 0.0, "mel": 0.0}
    for fft, hop, win, w in zip(fft_sizes, hop_lengths, win_lengths, weights):
        t = reference_magnitude(y_true.astype(np.float64), fft, hop, win)
        p = reference_magnitude(y_pred.astype(np.float64), fft, hop, win)
        scale = w / len(fft_sizes)
        out["sc"] += scale * np.linalg.norm(t - p) / np.linalg.norm(t)
        out["logmag"] += scale * np.mean(np.abs(np.log(t + log_epsilon) - np.log(p + log_epsilon)))
        out["linmag"] += scale * np.mean(np.abs(t - p))
        bank = losses.mel_filterbank(sample_rate, fft, n_mels, 0.0, None).astype(np.float64)
        mt, mp = np.maximum(t @ bank, M0), np.maximum(p @ bank, M0)
        out["mel"] += scale * np.mean(np.abs(np.log(mt + log_epsilon) - np.log(mp + log_epsilon)))
    return out


def components(y_true, y_pred, **kw):
    kw.setdefault("components", losses.SPECTRAL_COMPONENTS)
    return {k: float(v) for k, v in losses.multi_resolution_stft_components(y_true, y_pred, **kw).items()}


def test_frame_losses_hand_computed():
    a = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    b = np.array([[1.0, 0.0], [1.0, 4.0]], np.float32)
    assert float(losses.mean_squared_error(a, b)) == pytest.approx((4 + 4) / 4)
    assert float(losses.mean_absolute_error(a, b)) == pytest.approx((2 + 2) / 4)


def test_hand_computed_silence_against_ones():
    values = components(np.ones((1, 4), np.float32), np.zeros((1, 4), np.float32), components=("sc", "logmag", "linmag"), **TINY)
    # target magnitudes [2, 1, m0] per frame, prediction m0 everywhere (2 frames each)
    sc = np.sqrt(2 * ((2 - M0) ** 2 + (1 - M0) ** 2)) / np.sqrt(2 * (4 + 1 + FLOOR))
    assert values["sc"] == pytest.approx(sc, rel=1e-5)
    assert values["logmag"] == pytest.approx((np.log(2 / M0) + np.log(1 / M0)) / 3, rel=1e-5)
    assert values["linmag"] == pytest.approx(((2 - M0) + (1 - M0)) / 3, rel=1e-5)


def test_hand_computed_doubled_signal():
    # Doubling doubles every unfloored magnitude: diff [2, 1, 0] vs target [2, 1, m0] per frame.
    values = components(np.ones((1, 4), np.float32), 2 * np.ones((1, 4), np.float32), components=("sc", "logmag"), **TINY)
    assert values["sc"] == pytest.approx(np.sqrt(5 / (5 + FLOOR)), rel=1e-6)
    assert values["logmag"] == pytest.approx(2 * np.log(2) / 3, rel=1e-5)


def test_resolution_weights_and_averaging():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 64)).astype(np.float32), rng.normal(size=(2, 64)).astype(np.float32)
    res = dict(fft_sizes=(16, 8), hop_lengths=(4, 2), win_lengths=(16, 6))
    single = [components(a, b, fft_sizes=(f,), hop_lengths=(h,), win_lengths=(w,))["sc"] for f, h, w in zip(*res.values())]
    weighted = components(a, b, resolution_weights=(3.0, 0.5), **res)["sc"]
    assert weighted == pytest.approx((3.0 * single[0] + 0.5 * single[1]) / 2, rel=1e-5)


@pytest.mark.parametrize("shape", [(3, 300), (3, 300, 1)])
def test_identical_inputs_give_exactly_zero(shape):
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    values = components(x, x, fft_sizes=(64, 128), hop_lengths=(16, 32), win_lengths=(40, 128))
    assert values == {"sc": 0.0, "logmag": 0.0, "linmag": 0.0, "mel": 0.0}


@pytest.mark.parametrize("target_is_silent", [True, False])
def test_silence_gives_finite_value_and_gradient(target_is_silent):
    target = np.zeros((2, 256), np.float32) if target_is_silent else np.random.default_rng(1).normal(size=(2, 256)).astype(np.float32)
    pred = tf.Variable(tf.zeros((2, 256)))
    with tf.GradientTape() as tape:
        values = losses.multi_resolution_stft_components(
            target, pred, fft_sizes=(64, 32), hop_lengths=(16, 8), win_lengths=(64, 20), components=losses.SPECTRAL_COMPONENTS
        )
        total = tf.add_n(list(values.values()))
    grad = tape.gradient(total, pred)
    assert np.isfinite(float(total))
    assert grad is not None and np.all(np.isfinite(grad.numpy()))
    if target_is_silent:
        assert float(total) == 0.0


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    extra_samples=st.integers(0, 300),
    fft_exp=st.integers(3, 6),
    hop=st.integers(1, 20),
    win_share=st.floats(0.3, 1.0),
    log_epsilon=st.sampled_from([0.0, 1e-3]),
)
@pytest.mark.slow
def test_matches_numpy_reference(seed, extra_samples, fft_exp, hop, win_share, log_epsilon):
    rng = np.random.default_rng(seed)
    fft = 2**fft_exp
    samples = 2 * fft + extra_samples  # the longest resolution must fit
    res = dict(fft_sizes=(fft, 2 * fft), hop_lengths=(hop, hop + 3), win_lengths=(max(1, int(win_share * fft)), 2 * fft))
    a = rng.normal(size=(2, samples)).astype(np.float32)
    b = (0.5 * a + rng.normal(size=(2, samples))).astype(np.float32)
    got = components(a, b, n_mels=8, log_epsilon=log_epsilon, **res)
    expected = reference_components(a, b, n_mels=8, log_epsilon=log_epsilon, **res)
    for name in losses.SPECTRAL_COMPONENTS:
        assert got[name] == pytest.approx(expected[name], rel=2e-4, abs=1e-6), name


def test_default_resolutions_match_reference_on_real_length():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(1, 4000)).astype(np.float32), rng.normal(size=(1, 4000)).astype(np.float32)
    got = components(a, b, components=("sc", "logmag"))
    expected = reference_components(a, b, losses.DEFAULT_FFT_SIZES, losses.DEFAULT_HOP_LENGTHS, losses.DEFAULT_WIN_LENGTHS)
    assert got["sc"] == pytest.approx(expected["sc"], rel=1e-4)
    assert got["logmag"] == pytest.approx(expected["logmag"], rel=1e-4)


def test_resolution_longer_than_segment_names_the_fix():
    with pytest.raises(ValueError, match=r"fft_size=2048.*1000 samples(.|\n)*objective.stft(.|\n)*data.sequence_length"):
        losses.multi_resolution_stft_components(np.zeros((1, 1000), np.float32), np.zeros((1, 1000), np.float32))
    with pytest.raises(ValueError, match="same non-zero length"):
        losses.MultiResolutionSTFTLoss(fft_sizes=(64,), hop_lengths=(8, 4), win_lengths=(64,))
    with pytest.raises(ValueError, match="win_length <= fft_size"):
        losses.MultiResolutionSTFTLoss(fft_sizes=(64,), hop_lengths=(8,), win_lengths=(128,))


@pytest.mark.slow
def test_loss_class_is_weighted_sum_and_round_trips():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 200)).astype(np.float32), rng.normal(size=(2, 200)).astype(np.float32)
    res = dict(fft_sizes=(64, 32), hop_lengths=(16, 8), win_lengths=(48, 32))
    loss = losses.MultiResolutionSTFTLoss(
        **res, sc_weight=0.5, logmag_weight=2.0, linmag_weight=0.25, mel_weight=1.5, n_mels=6, log_epsilon=1e-4, resolution_weights=(1.0, 2.0)
    )
    parts = components(a, b, n_mels=6, log_epsilon=1e-4, resolution_weights=(1.0, 2.0), **res)
    expected = 0.5 * parts["sc"] + 2.0 * parts["logmag"] + 0.25 * parts["linmag"] + 1.5 * parts["mel"]
    assert float(loss(a, b)) == pytest.approx(expected, rel=1e-5)
    config = keras.losses.serialize(loss)
    restored = keras.losses.deserialize(config)
    assert isinstance(restored, losses.MultiResolutionSTFTLoss)
    assert restored.get_config() == loss.get_config()
    assert float(restored(a, b)) == pytest.approx(float(loss(a, b)), rel=1e-6)
    again = losses.MultiResolutionSTFTLoss.from_config(loss.get_config())
    assert again.get_config() == loss.get_config()


@pytest.mark.slow
def test_default_loss_is_sc_plus_logmag():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(1, 2400)).astype(np.float32), rng.normal(size=(1, 2400)).astype(np.float32)
    parts = components(a, b, components=("sc", "logmag"))
    assert float(losses.MultiResolutionSTFTLoss()(a, b)) == pytest.approx(parts["sc"] + parts["logmag"], rel=1e-5)


@pytest.fixture(scope="module")
def spectral_experiment():
    cfg = config_lib.Experiment()
    cfg.data.frame_length = 40
    cfg.generate.stitch = "crossfade"
    cfg.generate.crossfade_length = 8
    cfg.objective.loss_weights = {"spec/sc": 1.0, "spec/logmag": 0.5, "spec/linmag": 0.1, "spec/mel": 0.2, "rec/mse": 1.0}
    cfg.objective.stft = {"fft_sizes": (64, 32), "hop_lengths": (16, 8), "win_lengths": (48, 32), "n_mels": 6}
    return cfg


@pytest.mark.slow
def test_spec_terms_use_stitched_audio_and_share_one_pass(spectral_experiment):
    rng = np.random.default_rng(5)
    pred = tf.constant(rng.normal(size=(2, 4, 40)).astype(np.float32))
    target = tf.constant(rng.normal(size=(2, 4, 40)).astype(np.float32))
    ctx = LossContext(pred, target, spectral_experiment)
    got = {name: float(LOSS_TERMS.build(name, spectral_experiment)(ctx)) for name in ("spec/sc", "spec/logmag", "spec/linmag", "spec/mel")}
    assert len(ctx.cache) == 1  # four terms, one spectrogram pass
    stitched_pred, stitched_target = ctx.pred_audio.numpy(), ctx.target_audio.numpy()
    assert stitched_pred.shape == (2, 4 * 40 - 3 * 8)  # judged across the seams, not per frame
    expected = reference_components(stitched_target, stitched_pred, (64, 32), (16, 8), (48, 32), n_mels=6)
    for name in ("sc", "logmag", "linmag", "mel"):
        assert got[f"spec/{name}"] == pytest.approx(expected[name], rel=2e-4), name


@pytest.mark.slow
def test_training_terms_compute_with_the_experiment_s_loss_class(spectral_experiment, monkeypatch):
    """The spec/* terms are MultiResolutionSTFTLoss(objective.stft, weights = loss_weights): one path for users and training."""
    calls = []
    original = losses.MultiResolutionSTFTLoss.components

    def spy(self, y_true, y_pred, names=None, training=False):
        calls.append((self.get_config(), names, training))
        return original(self, y_true, y_pred, names=names, training=training)

    monkeypatch.setattr(losses.MultiResolutionSTFTLoss, "components", spy)
    rng = np.random.default_rng(5)
    pred = tf.constant(rng.normal(size=(2, 4, 40)).astype(np.float32))
    target = tf.constant(rng.normal(size=(2, 4, 40)).astype(np.float32))
    names = ("spec/sc", "spec/logmag", "spec/linmag", "spec/mel")
    for training in (True, False):
        ctx = LossContext(pred, target, spectral_experiment, training=training)
        before = len(calls)
        got = {name: float(LOSS_TERMS.build(name, spectral_experiment)(ctx)) for name in names}
        config, requested, used_training = calls[-1]
        assert used_training is training and requested == ("sc", "logmag", "linmag", "mel")
        assert len(calls) == before + 1  # one pass for the four terms
        assert (config["sc_weight"], config["logmag_weight"], config["linmag_weight"], config["mel_weight"]) == (1.0, 0.5, 0.1, 0.2)
        assert (tuple(config["fft_sizes"]), config["n_mels"], config["sample_rate"]) == ((64, 32), 6, spectral_experiment.data.sample_rate)
        loss = losses.MultiResolutionSTFTLoss.from_config(config)
        weights = spectral_experiment.objective.loss_weights
        expected = float(original(loss, ctx.target_audio, ctx.pred_audio, names=requested)["sc"])
        assert got["spec/sc"] == pytest.approx(expected, rel=1e-5)
        assert float(loss(ctx.target_audio, ctx.pred_audio)) == pytest.approx(sum(weights[n] * got[n] for n in names), rel=1e-5)


def test_stft_options_reject_term_weights_and_unknown_keys(spectral_experiment):
    import copy

    cfg = copy.deepcopy(spectral_experiment)
    cfg.objective.stft = {"sc_weight": 2.0}
    with pytest.raises(ValueError, match="MultiResolutionSTFTLoss's arguments except its component weights(.|\n)*loss_weights"):
        LOSS_TERMS.build("spec/sc", cfg)
    cfg.objective.stft = {"fft_size": (64,)}
    with pytest.raises(ValueError, match="unknown objective.stft keys"):
        LOSS_TERMS.build("spec/sc", cfg)


@pytest.mark.slow
def test_unknown_lengths_at_trace_time_give_the_same_value():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(2, 300)).astype(np.float32), rng.normal(size=(2, 300)).astype(np.float32)
    res = dict(fft_sizes=(64, 32), hop_lengths=(16, 5), win_lengths=(48, 32))
    spec = tf.TensorSpec([None, None], tf.float32)
    dynamic = tf.function(lambda t, p: losses.multi_resolution_stft_components(t, p, **res), input_signature=[spec, spec])
    got = {k: float(v) for k, v in dynamic(a, b).items()}
    assert got == pytest.approx(components(a, b, components=("sc", "logmag"), **res), rel=1e-6)


# --------------------------------------------------------------------------- random segments


def frames_numbered(batch, steps, frame_length, offset=0.0):
    """Frames whose every sample holds its (sequence, frame) identity: 1000 * b + frame + offset."""
    ids = 1000.0 * np.arange(batch)[:, None] + np.arange(steps)[None] + offset
    return tf.constant(np.repeat(ids[..., None], frame_length, axis=-1).astype(np.float32))


def segment_experiment(segment_frames):
    cfg = config_lib.Experiment()
    cfg.data.frame_length = 40  # frame_hop None: concatenated frames, so stitched samples keep their ids
    cfg.objective.loss_weights = {"spec/sc": 1.0, "spec/logmag": 1.0}
    cfg.objective.stft = {"fft_sizes": (64, 32), "hop_lengths": (16, 8), "win_lengths": (48, 32),
                          "segment_frames": segment_frames}
    return cfg


def test_segments_are_the_same_random_run_of_frames_of_target_and_prediction():
    batch, steps, k = 64, 12, 4
    target, pred = frames_numbered(batch, steps, 40), frames_numbered(batch, steps, 40, offset=0.5)
    cfg = segment_experiment(k)
    seed = tf.constant([3, 7], tf.int64)
    seg_target, seg_pred = (a.numpy() for a in LossContext(pred, target, cfg, segment_seed=seed).segment_audio(k))
    assert seg_target.shape == seg_pred.shape == (batch, k * 40)
    frame_ids = seg_target[:, ::40] - 1000.0 * np.arange(batch)[:, None]  # [batch, k] frame numbers
    starts = frame_ids[:, 0]
    np.testing.assert_array_equal(frame_ids, starts[:, None] + np.arange(k))  # consecutive frames of its own sequence
    np.testing.assert_array_equal(seg_pred, seg_target + 0.5)  # the prediction's run is the target's
    assert set(starts) == set(range(steps - k + 1))  # every start that fits, the last one included
    again = LossContext(pred, target, cfg, segment_seed=seed).segment_audio(k)[0].numpy()
    np.testing.assert_array_equal(again, seg_target)  # reproducible from the seed
    other = LossContext(pred, target, cfg, segment_seed=tf.constant([3, 8], tf.int64)).segment_audio(k)[0].numpy()
    assert not np.array_equal(other, seg_target)


def test_segments_fall_back_to_whole_sequences():
    target, pred = frames_numbered(2, 5, 40), frames_numbered(2, 5, 40, offset=0.5)
    cfg = segment_experiment(4)
    seed = tf.constant([0, 0], tf.int64)
    for ctx, k in [(LossContext(pred, target, cfg), 4),  # no seed: validation
                   (LossContext(pred, target, cfg, segment_seed=seed), None),
                   (LossContext(pred, target, cfg, segment_seed=seed), 5)]:  # the whole sequence is the only run
        got = ctx.segment_audio(k)
        assert got[0] is ctx.target_audio and got[1] is ctx.pred_audio


@pytest.mark.slow
def test_spec_terms_with_segments_measure_the_segment():
    rng = np.random.default_rng(9)
    pred = tf.constant(rng.normal(size=(3, 8, 40)).astype(np.float32))
    target = tf.constant(rng.normal(size=(3, 8, 40)).astype(np.float32))
    cfg = segment_experiment(3)
    ctx = LossContext(pred, target, cfg, segment_seed=tf.constant([1, 2], tf.int64))
    got = {name: float(LOSS_TERMS.build(name, cfg)(ctx)) for name in ("spec/sc", "spec/logmag")}
    seg_target, seg_pred = (a.numpy() for a in ctx.segment_audio(3))
    assert seg_pred.shape == (3, 120)
    expected = reference_components(seg_target, seg_pred, (64, 32), (16, 8), (48, 32))
    for name in ("sc", "logmag"):
        assert got[f"spec/{name}"] == pytest.approx(expected[name], rel=2e-4), name
    whole = LossContext(pred, target, cfg)  # validation: the whole sequences
    full = float(LOSS_TERMS.build("spec/sc", cfg)(whole))
    assert full == pytest.approx(reference_components(whole.target_audio.numpy(), whole.pred_audio.numpy(),
                                                      (64, 32), (16, 8), (48, 32))["sc"], rel=2e-4)


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "4"])
def test_segment_frames_must_be_a_whole_number_of_frames(bad):
    with pytest.raises(ValueError, match="objective.stft.segment_frames must be a whole number"):
        LOSS_TERMS.build("spec/sc", segment_experiment(bad))


# --------------------------------------------------------------------------- chunks and the fused gradient

RES = dict(fft_sizes=(64, 32), hop_lengths=(16, 5), win_lengths=(48, 32))
NAMES = ("sc", "logmag", "linmag", "mel")


def plain_gradient(y_true, y_pred, coefficients, **kw):
    """Autodiff gradient of sum_c coefficients[c] * component_c, whole batch in one chunk."""
    y_pred = tf.constant(y_pred)
    with tf.GradientTape() as tape:
        tape.watch(y_pred)
        values = losses.multi_resolution_stft_components(y_true, y_pred, components=NAMES, n_mels=6, chunk_samples=None, **RES, **kw)
        total = tf.add_n([c * values[name] for name, c in zip(NAMES, coefficients)])
    return tape.gradient(total, y_pred).numpy()


def test_batch_chunks_cover_the_batch_in_whole_sequences():
    assert losses.batch_chunks(5, 300, 600) == [(0, 2), (2, 4), (4, 5)]
    assert losses.batch_chunks(3, 300, 100) == [(0, 1), (1, 2), (2, 3)]  # at least one sequence each
    assert losses.batch_chunks(4, 300, 10**6) == [(0, 4)]
    assert losses.batch_chunks(None, 300, 600) == losses.batch_chunks(4, None, 600) == [(0, None)]
    assert losses.batch_chunks(4, 300, None) == [(0, None)]


@pytest.mark.slow
def test_chunked_components_and_gradient_equal_the_whole_batch():
    rng = np.random.default_rng(11)
    a, b = rng.normal(size=(5, 300)).astype(np.float32), rng.normal(size=(5, 300)).astype(np.float32)
    b[3] = 0.0  # a silent sequence: floors and zero norms inside one chunk
    whole = components(a, b, n_mels=6, chunk_samples=None, **RES)
    chunked = components(a, b, n_mels=6, chunk_samples=600, **RES)  # groups of 2, 2 and 1 sequences
    assert chunked == pytest.approx(whole, rel=1e-5)
    assert whole == pytest.approx(reference_components(a, b, n_mels=6, **RES), rel=2e-4)
    coefficients = (1.0, 0.5, 0.1, 0.2)
    b_var = tf.constant(b)
    with tf.GradientTape() as tape:
        tape.watch(b_var)
        values = losses.multi_resolution_stft_components(a, b_var, components=NAMES, n_mels=6, chunk_samples=600, **RES)
        total = tf.add_n([c * values[name] for name, c in zip(NAMES, coefficients)])
    np.testing.assert_allclose(tape.gradient(total, b_var).numpy(), plain_gradient(a, b, coefficients), rtol=1e-4, atol=1e-7)


@pytest.fixture()
def poisoned_exact_path(monkeypatch):
    """The exact (recomputing) backward path returns NaN, so a test can see which path ran."""
    monkeypatch.setattr(losses, "_exact_gradient", lambda y_true, y_pred, *args: tf.fill(tf.shape(y_pred), np.nan))


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
@pytest.mark.slow
def test_weighted_components_gradient_is_computed_with_the_value(poisoned_exact_path, compiled):
    """Upstream gradients proportional to the weights (any scale) take the gradient computed with the
    values, and it equals autodiff of the plain formula; any other combination takes the exact path."""
    rng = np.random.default_rng(12)
    a, b = rng.normal(size=(3, 300)).astype(np.float32), rng.normal(size=(3, 300)).astype(np.float32)
    weights = (1.0, 0.5, 0.1, 0.2)
    options_key = tuple(sorted({**RES, "n_mels": 6}.items()))

    def gradient(coefficients):
        def run(y_pred):
            with tf.GradientTape() as tape:
                tape.watch(y_pred)
                values = losses.weighted_stft_components(a, y_pred, options_key, NAMES, weights)
                total = tf.add_n([c * values[name] for name, c in zip(NAMES, coefficients)])
            return values, tape.gradient(total, y_pred)

        values, grad = (tf.function(run) if compiled else run)(tf.constant(b))
        return {k: float(v) for k, v in values.items()}, grad.numpy()

    scaled = tuple(0.25 * w for w in weights)  # e.g. 1 / replicas
    values, grad = gradient(scaled)
    assert values == pytest.approx(components(a, b, n_mels=6, **RES), rel=1e-5)
    np.testing.assert_allclose(grad, plain_gradient(a, b, scaled), rtol=1e-4, atol=1e-7)
    _, other = gradient((1.0, 0.0, 0.0, 0.0))  # one component alone: not proportional
    assert np.isnan(other).all()


@pytest.mark.slow
def test_weighted_components_exact_path_equals_autodiff():
    rng = np.random.default_rng(13)
    a, b = rng.normal(size=(2, 300)).astype(np.float32), rng.normal(size=(2, 300)).astype(np.float32)
    options_key = tuple(sorted({**RES, "n_mels": 6}.items()))
    coefficients = (2.0, 0.0, 1.0, 0.0)  # not proportional to the weights below
    y_pred = tf.constant(b)
    with tf.GradientTape() as tape:
        tape.watch(y_pred)
        values = losses.weighted_stft_components(a, y_pred, options_key, NAMES, (1.0, 1.0, 1.0, 1.0))
        total = tf.add_n([c * values[name] for name, c in zip(NAMES, coefficients)])
    np.testing.assert_allclose(tape.gradient(total, y_pred).numpy(), plain_gradient(a, b, coefficients), rtol=1e-4, atol=1e-7)


@pytest.mark.slow
def test_chunk_samples_is_an_stft_option_checked_by_name(spectral_experiment):
    import copy

    cfg = copy.deepcopy(spectral_experiment)
    cfg.objective.stft = {**cfg.objective.stft, "chunk_samples": 100}  # one sequence per group
    assert losses.stft_options(cfg)["chunk_samples"] == 100
    rng = np.random.default_rng(5)
    pred = tf.constant(rng.normal(size=(2, 4, 40)).astype(np.float32))
    target = tf.constant(rng.normal(size=(2, 4, 40)).astype(np.float32))
    grouped = float(LOSS_TERMS.build("spec/sc", cfg)(LossContext(pred, target, cfg)))
    whole = float(LOSS_TERMS.build("spec/sc", spectral_experiment)(LossContext(pred, target, spectral_experiment)))
    assert grouped == pytest.approx(whole, rel=1e-5)
    for bad in (0, -5, 2.5, "many", True):
        cfg.objective.stft = {**spectral_experiment.objective.stft, "chunk_samples": bad}
        with pytest.raises(ValueError, match=r"objective.stft.chunk_samples must be a whole number"):
            LOSS_TERMS.build("spec/sc", cfg)


# --------------------------------------------------------------------------- the spectral energy distance


def reference_distance(a, b, fft_sizes, hop_lengths, win_lengths, names=("linmag", "logmag"), n_mels=6):
    """d(a, b) of the energy distance, from the numpy reference: the sum of its components."""
    parts = reference_components(a, b, fft_sizes, hop_lengths, win_lengths, n_mels=n_mels)
    return sum(parts[name] for name in names)


def energy(x, y1, y2, **kw):
    return {k: float(v) for k, v in losses.spectral_energy_distance(x, y1, y2, **kw).items()}


def test_energy_hand_computed_tiny_case():
    # Per STFT frame (2 frames each): x = ones -> [2, 1, m0]; y1 = zeros -> [m0, m0, m0]; y2 = x / 2 -> [1, .5, m0].
    x, y1, y2 = np.ones((1, 4), np.float32), np.zeros((1, 4), np.float32), 0.5 * np.ones((1, 4), np.float32)
    d_x_y1 = ((2 - M0) + (1 - M0)) / 3 + (np.log(2 / M0) + np.log(1 / M0)) / 3
    d_x_y2 = (1 + 0.5) / 3 + (np.log(2) + np.log(2)) / 3
    d_y1_y2 = ((1 - M0) + (0.5 - M0)) / 3 + (np.log(1 / M0) + np.log(0.5 / M0)) / 3
    got = energy(x, y1, y2, **TINY)
    assert got["attractive"] == pytest.approx(d_x_y1 + d_x_y2, rel=1e-5)
    assert got["repulsive"] == pytest.approx(d_y1_y2, rel=1e-5)
    # y2 lies between y1 and x in every bin, so d(x, y1) = d(x, y2) + d(y2, y1): the energy is 2 d(x, y2).
    assert got["energy"] == pytest.approx(d_x_y1 + d_x_y2 - d_y1_y2, rel=1e-4)
    assert got["energy"] == pytest.approx(2 * d_x_y2, rel=1e-4)


def test_energy_of_identical_generations_is_the_plain_attractive_terms():
    rng = np.random.default_rng(21)
    x, y = rng.normal(size=(3, 300)).astype(np.float32), rng.normal(size=(3, 300)).astype(np.float32)
    got = energy(x, y, y, **RES)
    plain = components(x, y, components=("linmag", "logmag"), **RES)
    assert got["repulsive"] == 0.0
    assert got["energy"] == pytest.approx(2 * (plain["linmag"] + plain["logmag"]), rel=1e-5)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**16), names=st.sampled_from([("linmag", "logmag"), ("linmag",), ("logmag", "mel")]))
@pytest.mark.slow
def test_energy_matches_numpy_reference_and_is_finite(seed, names):
    rng = np.random.default_rng(seed)
    x, y1, y2 = (rng.normal(size=(2, 300)).astype(np.float32) for _ in range(3))
    y2[1] = 0.0  # a silent generation: the floors keep it finite
    got = energy(x, y1, y2, components=names, n_mels=6, chunk_samples=300, **RES)  # one sequence per group
    expected = [reference_distance(a, b, *RES.values(), names=names) for a, b in ((x, y1), (x, y2), (y1, y2))]
    assert all(np.isfinite(v) for v in got.values())
    assert got["attractive"] == pytest.approx(expected[0] + expected[1], rel=2e-4)
    assert got["repulsive"] == pytest.approx(expected[2], rel=2e-4)
    assert got["energy"] == pytest.approx(expected[0] + expected[1] - expected[2], rel=2e-4, abs=1e-5)


def test_energy_repulsive_gradient_pushes_near_equal_samples_apart():
    rng = np.random.default_rng(22)
    base = rng.normal(size=(2, 300)).astype(np.float32)
    x = rng.normal(size=(2, 300)).astype(np.float32)
    y1 = tf.Variable(base + 1e-3 * rng.normal(size=base.shape).astype(np.float32))
    y2 = tf.Variable(base + 1e-3 * rng.normal(size=base.shape).astype(np.float32))
    before = energy(x, y1, y2, **RES)["repulsive"]
    # One gradient-descent step on the energy's repulsive part (-d(y1, y2)) alone.
    with tf.GradientTape() as tape:
        loss = -losses.spectral_energy_distance(x, y1, y2, **RES)["repulsive"]
    g1, g2 = tape.gradient(loss, [y1, y2])
    assert np.any(g1.numpy() != 0) and np.any(g2.numpy() != 0)
    y1.assign_sub(1e-3 * g1)
    y2.assign_sub(1e-3 * g2)
    assert energy(x, y1, y2, **RES)["repulsive"] > before


def test_energy_data_gets_no_gradient_and_bad_components_are_refused():
    x = tf.Variable(np.random.default_rng(23).normal(size=(1, 300)).astype(np.float32))
    y = tf.zeros((1, 300))
    with tf.GradientTape() as tape:
        value = losses.spectral_energy_distance(x, y, y + 0.1, **RES)["energy"]
    assert tape.gradient(value, x) is None
    with pytest.raises(ValueError, match="symmetric"):
        losses.spectral_energy_distance(x, y, y, components=("sc", "logmag"), **RES)

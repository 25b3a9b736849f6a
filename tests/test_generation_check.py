"""Tests of advaudio/evaluation/generation_check.py: the per-epoch generation check and its gen/* scores."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

from advaudio import config as config_lib
from advaudio import synthesis
from advaudio.data.stats import Stats
from advaudio.evaluation import generation_check, metrics

SR = 16000
FRAME = 400


def music(seconds, seed=0):
    """Decaying notes every 0.25 s over a drone, with a little noise (defined pitch, onsets, flatness)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = 0.1 * np.sin(2 * np.pi * 220 * t) + 0.005 * rng.standard_normal(t.size)
    for onset in np.arange(0.05, seconds, 0.25):
        s = int(onset * SR)
        y[s:] += 0.4 * np.sin(2 * np.pi * 660 * t[: y.size - s]) * np.exp(-30 * t[: y.size - s])
    return y


def test_composite_by_hand():
    scores = {"seam_ratio": 1.2, "flatness_ratio": 0.5, "pitch_ratio": 1.0, "onset_rate_ratio": 4.0,
              "frame_repetition": 0.5, "frame_repetition_data": -0.1, "level_drift_db": -3.0}
    # terms: 1 (seams at the edge), 1 (half as flat), 0, 2 (4x the onsets), (0.5 + 0.1) / 0.3 = 2, 3 / 6 = 0.5
    assert generation_check.composite(scores) == pytest.approx((1 + 1 + 0 + 2 + 2 + 0.5) / 6)
    assert math.isnan(generation_check.composite({**scores, "pitch_ratio": None}))  # silence: never best
    # A term counts at most COMPOSITE_TERM_CAP (3) tolerances: a pitch ratio of 0.65 is |log 0.65| / log 1.03
    # = 14.6 tolerances, counted as 3.
    assert generation_check.composite({**scores, "pitch_ratio": 0.65}) == pytest.approx((1 + 1 + 3 + 2 + 2 + 0.5) / 6)
    # A term left out (data without rhythm has no onset-rate ratio) neither counts nor makes the composite NaN.
    others = tuple(k for k in generation_check.COMPOSITE_TOLERANCES if k != "onset_rate_ratio")
    assert generation_check.composite({**scores, "onset_rate_ratio": None}, others) == pytest.approx(
        (1 + 1 + 0 + 2 + 0.5) / 5)


def test_one_term_far_off_does_not_outweigh_the_others():
    """An epoch that meets five targets and misses the pitch badly beats one that misses all six by 2x."""
    near = {"seam_ratio": 1.0, "flatness_ratio": 1.0, "pitch_ratio": 0.65, "onset_rate_ratio": 1.0,
            "frame_repetition": -0.1, "frame_repetition_data": -0.1, "level_drift_db": 0.0}
    far = {"seam_ratio": 1.2 ** 2, "flatness_ratio": 4.0, "pitch_ratio": 1.03 ** 2, "onset_rate_ratio": 4.0,
           "frame_repetition": 0.5, "frame_repetition_data": -0.1, "level_drift_db": 12.0}
    assert generation_check.composite(far) == pytest.approx(2.0)
    assert generation_check.composite(near) == pytest.approx(3 / 6)
    assert generation_check.composite(near) < generation_check.composite(far)


def drone(seconds, seed=0):
    """A chord with a little noise and no attacks (the default data's kind of signal)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    return 0.1 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.sin(2 * np.pi * 330 * t) + 0.005 * rng.standard_normal(t.size)


@pytest.mark.slow
def test_a_drone_reference_leaves_the_onset_term_out_of_the_composite():
    drone_scorer = generation_check.GenerationScorer(drone(6.0, seed=1), SR, FRAME, FRAME)
    assert "onset_rate_ratio" not in drone_scorer.composite_terms
    scores = drone_scorer.score(drone(3.0, seed=2)[None])
    assert scores["onset_rate_ratio"] is None and math.isfinite(scores["composite"])
    rhythm_scorer = generation_check.GenerationScorer(music(6.0, seed=1), SR, FRAME, FRAME)
    assert rhythm_scorer.composite_terms == tuple(generation_check.COMPOSITE_TOLERANCES)
    # Against music (4 onsets/s), a drone has about none (at most its start).
    assert rhythm_scorer.score(drone(3.0, seed=2)[None])["onset_rate_ratio"] <= 0.1


def test_badness_follows_each_direction():
    assert generation_check.badness("gen/seam_ratio", 2.0) == pytest.approx(generation_check.badness("gen/seam_ratio", 0.5))
    assert generation_check.badness("gen/kid_mfcc", -0.01) < generation_check.badness("gen/kid_mfcc", 0.0)
    assert generation_check.badness("gen/level_drift_db", -4.0) == 4.0
    assert math.isnan(generation_check.badness("val_loss", float("nan")))
    with pytest.raises(KeyError, match="gen/composite"):
        generation_check.badness("gen/nonsense", 1.0)


@pytest.fixture(scope="module")
def scorer():
    return generation_check.GenerationScorer(music(6.0, seed=1), SR, FRAME, FRAME)


@pytest.mark.slow
def test_real_audio_scores_near_the_data_and_a_frozen_loop_does_not(scorer):
    real = scorer.score(music(3.0, seed=2)[None])
    assert real["pitch_ratio"] == pytest.approx(1.0, abs=0.01)
    assert real["onset_rate_ratio"] == pytest.approx(1.0, abs=0.2)
    assert real["flatness_ratio"] == pytest.approx(1.0, abs=0.3)
    assert abs(real["level_drift_db"]) < 1.0
    frame = music(3.0, seed=2)[2000 : 2000 + FRAME]
    frozen = scorer.score(np.tile(frame, 3 * SR // FRAME)[None])
    assert frozen["frame_repetition"] == pytest.approx(1.0) and real["frame_repetition"] < 0.9
    assert frozen["kid_mfcc"] > real["kid_mfcc"] and frozen["mr_stft"] > real["mr_stft"]
    assert frozen["composite"] > real["composite"]


def test_hop_pulse_reads_a_frame_rate_pulse_and_is_no_composite_term(scorer):
    real = music(3.0, seed=2)
    # a dip halfway between frame centres, as uncorrelated overlapping frames overlap-added make it
    envelope = 1.0 - 0.6 * np.sin(np.pi * np.arange(real.size) / FRAME) ** 2
    steady, pulsing = scorer.score(real[None]), scorer.score((real * envelope)[None])
    assert steady["hop_pulse_db"] == pytest.approx(metrics.hop_pulse(real, FRAME))
    assert pulsing["hop_pulse_db"] > steady["hop_pulse_db"] + 6.0
    assert "hop_pulse" not in generation_check.COMPOSITE_TOLERANCES
    assert generation_check.badness("gen/hop_pulse_db", 2.0) < generation_check.badness("gen/hop_pulse_db", 5.0)


def test_hop_periodicity_reads_a_frozen_frame_and_is_no_composite_term(scorer):
    real = music(3.0, seed=2)
    frozen = np.tile(real[:FRAME], real.size // FRAME)
    steady, looped = scorer.score(real[None]), scorer.score(frozen[None])
    assert steady["hop_periodicity"] == pytest.approx(metrics.hop_periodicity(real, FRAME))
    assert steady["hop_periodicity"] < 0.5 and looped["hop_periodicity"] == pytest.approx(1.0)
    assert "hop_periodicity" not in generation_check.COMPOSITE_TOLERANCES
    assert generation_check.badness("gen/hop_periodicity", 0.2) < generation_check.badness("gen/hop_periodicity", 0.6)


def test_the_cached_mr_stft_is_the_metric_of_compare(scorer):
    audio = music(2.0, seed=3)
    assert scorer._mr_stft(audio) == pytest.approx(metrics.mr_stft_distance(audio, scorer.reference)["mr_stft"])


def test_silence_leaves_ratios_undefined_and_the_composite_nan(scorer):
    silent = scorer.score(np.zeros((2, SR)))
    assert silent["pitch_ratio"] is None and math.isnan(silent["composite"])


@pytest.fixture(scope="module")
def tiny():
    """A tiny FrameGRU, its config and prepared-like data whose validation split is music."""
    from advaudio.models import build_generator

    cfg = config_lib.Experiment(name="tiny")
    cfg.data.frame_length, cfg.data.sample_rate = FRAME, SR
    cfg.model.units, cfg.model.layers = 4, 1
    cfg.generate.seed_frames, cfg.generate.crossfade_length = 2, 32
    cfg.train.generation_check.seconds, cfg.train.generation_check.count = 0.5, 2
    valid = music(4.0, seed=4)
    stats = Stats.from_signal(valid)
    prepared = SimpleNamespace(sample_rate=SR, stats=stats, valid=SimpleNamespace(signal=stats.normalize(valid)),
                               test=SimpleNamespace(signal=stats.normalize(music(4.0, seed=5))))
    return cfg, build_generator(cfg.model, cfg.data), prepared


@pytest.mark.slow
def test_the_check_generates_through_the_generation_module_and_logs_every_gen_key(tiny):
    cfg, generator, prepared = tiny
    check = generation_check.GenerationCheck(cfg, prepared)
    logged = check.run(generator)
    assert set(logged) == {f"gen/{k}" for k in ("frame_repetition", "seam_ratio", "flatness_ratio", "pitch_ratio",
                                                 "onset_rate_ratio", "mr_stft", "kid_mfcc", "level_drift_db", "hop_pulse_db",
                                                 "hop_periodicity", "composite")}
    assert set(logged) <= set(generation_check.DIRECTIONS)
    # The same seeds and rollout as the end-of-run samples: advaudio.synthesis from the valid split's seeds.
    span = synthesis.seed_span(2, FRAME, FRAME)
    positions = synthesis.choose_seed_positions(len(prepared.valid.signal), 2, span, cfg.generate.sample_seed)
    seeds = synthesis.seed_frames_at(prepared.valid.signal, positions, 2, FRAME, FRAME)
    expected = synthesis.generate(generator, seeds, num_samples=SR // 2, frame_hop=FRAME, crossfade_length=32)
    np.testing.assert_allclose(check.generate(generator), np.clip(prepared.stats.denormalize(expected), -1, 1), atol=1e-6)
    assert check.run(generator) == pytest.approx(logged, nan_ok=True)  # reproducible epoch to epoch
    scores = check.scorer.score(check.generate(generator))
    # Logged to 6 significant digits, so a resumed run's log.csv reproduces the uninterrupted run's.
    assert logged["gen/mr_stft"] == float(f"{scores['mr_stft']:.6g}") == pytest.approx(scores["mr_stft"], rel=1e-5)
    # The reference is the validation audio with the seed regions cut out.
    kept = metrics.exclude_regions(prepared.valid.signal, [(p, p + span) for p in positions])
    assert kept.size < len(prepared.valid.signal)
    np.testing.assert_allclose(check.scorer.reference, prepared.stats.denormalize(kept), atol=1e-5)


def test_config_problems_and_off_switch():
    cfg = config_lib.Experiment()
    assert generation_check.enabled(cfg) and generation_check.config_problems(cfg) == []
    cfg.train.best_by = "gen/compsite"
    assert "did you mean 'gen/composite'" in generation_check.config_problems(cfg)[0]
    cfg.train.best_by, cfg.train.generation_check.count = "gen/composite", 0
    assert not generation_check.enabled(cfg)
    assert "needs the generation check, which is off" in generation_check.config_problems(cfg)[0]
    cfg.train.best_by, cfg.train.generation_check.seed_split = "val_loss", "train"
    assert "seed_split='train'" in generation_check.config_problems(cfg)[0]
    with pytest.raises(config_lib.ConfigError, match="train.best_by"):
        config_lib.validate(config_lib.apply_overrides(config_lib.Experiment(), ["train.best_by=loss"]))

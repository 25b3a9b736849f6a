"""Generation-aware validation: a few seconds generated free-running every epoch, scored like compare does.

The trainer (advaudio.run.train) calls `GenerationCheck.run(generator)` after every epoch and logs the
`gen/*` values; `train.best_by` can choose the best checkpoint by one of them (see `DIRECTIONS`).
Generation goes through advaudio.synthesis (the same seeding and rollout as the end-of-run samples).
"""
from __future__ import annotations

import math

import numpy as np

from advaudio.evaluation import metrics, targets

PREFIX = "gen/"
# At most this much validation audio is the reference (its statistics are computed once per run).
REFERENCE_SECONDS = 30.0
# gen/* values are logged to this many significant digits: numpy's vectorised sums can differ in the last bit
# with memory alignment, so without rounding a resumed run's log.csv would not reproduce the uninterrupted
# run's bit for bit (the estimates mean nothing beyond a few digits anyway).
LOGGED_DIGITS = 6

# What "better" means for each logged value: "lower", or "one" (closer to 1 on a log scale: a ratio to the data).
DIRECTIONS: dict[str, str] = {
    "val_loss": "lower",
    "gen/frame_repetition": "lower",
    "gen/seam_ratio": "one",
    "gen/flatness_ratio": "one",
    "gen/pitch_ratio": "one",
    "gen/onset_rate_ratio": "one",
    "gen/mr_stft": "lower",
    "gen/kid_mfcc": "lower",
    "gen/level_drift_db": "zero",
    "gen/hop_pulse_db": "lower",
    "gen/hop_periodicity": "lower",
    "gen/composite": "lower",
}
BEST_BY_CHOICES: tuple[str, ...] = tuple(DIRECTIONS)

# gen/composite: the mean of these terms, each scaled so that 1.0 sits at the upper edge of issue 13's targets
# (`targets.TARGETS`: seams <= 1.2, flatness / data 0.5 to 2, pitch ratio 0.97 to 1.03, onset-rate ratio 0.5 to 2,
# frame repetition <= 0.3, here above the data's own, loudness drift <= 6 dB); 0 is the data's own behaviour.
COMPOSITE_TOLERANCES: dict[str, float] = {
    "seam_ratio": math.log(targets.edge("seam_ratio")),
    "flatness_ratio": math.log(targets.edge("flatness_ratio")),
    "pitch_ratio": math.log(targets.edge("pitch_ratio")),
    "onset_rate_ratio": math.log(targets.edge("onset_rate_ratio")),
    "frame_repetition": targets.edge("frame_repetition"),
    "level_drift_db": targets.edge("loudness_drop_db"),
}
# A term counts at most this many tolerances: one metric far off (e.g. the pitch ratio of a chord, whose
# strongest partial moves between chord tones: 0.63 between two real excerpts of the default drone, i.e. 15
# tolerances) must not outweigh the others, so an epoch that meets five targets beats one that misses all six.
COMPOSITE_TERM_CAP = 3.0


def badness(name: str, value: float | None) -> float:
    """How far `value` of the logged quantity `name` is from ideal under its `DIRECTIONS` entry
    (lower is better; NaN when undefined): the value itself, |log value|, or |value|."""
    direction = DIRECTIONS.get(name)
    if direction is None:
        raise KeyError(f"no direction for {name!r}; known: {', '.join(BEST_BY_CHOICES)}")
    if value is None or not math.isfinite(value):
        return float("nan")
    if direction == "lower":
        return float(value)
    if direction == "zero":
        return abs(float(value))
    return abs(math.log(value)) if value > 0 else float("inf")


def composite(scores: dict[str, float | None], terms: tuple[str, ...] | None = None) -> float:
    """gen/composite: the mean over `terms` (default: every key of `COMPOSITE_TOLERANCES`) of each term's distance
    from ideal over its tolerance (ratios: |log r| / log(edge); frame repetition: its excess over the data's,
    floored at 0; drift: |dB| / 6), each term capped at `COMPOSITE_TERM_CAP`. NaN when a term is undefined (e.g.
    silent output), so such an epoch is never best. A scorer leaves out a term the data cannot define (the
    onset-rate ratio of data without rhythm, `metrics.ONSET_MIN_DATA_RATE`)."""
    values = []
    for key in COMPOSITE_TOLERANCES if terms is None else terms:
        tolerance = COMPOSITE_TOLERANCES[key]
        value = scores.get(key)
        if value is None or not math.isfinite(value):
            return float("nan")
        if key == "frame_repetition":
            data = scores.get("frame_repetition_data") or 0.0
            values.append(max(0.0, value - data) / tolerance)
        elif key == "level_drift_db":
            values.append(abs(value) / tolerance)
        else:
            values.append(abs(math.log(value)) / tolerance if value > 0 else float("inf"))
    return float(np.mean(np.minimum(values, COMPOSITE_TERM_CAP)))


class GenerationScorer:
    """Scores generated audio against one reference whose statistics are computed once.

    Args:
        reference: real audio [samples] (de-normalised), e.g. validation audio without the seed regions.
        sample_rate: of both, in Hz.
        frame_length, frame_hop: the model's frames in samples.
    """

    def __init__(self, reference: np.ndarray, sample_rate: int, frame_length: int, frame_hop: int):
        self.reference = np.asarray(reference, dtype=np.float64)
        self.sample_rate, self.frame_length, self.frame_hop = int(sample_rate), int(frame_length), int(frame_hop)
        self.flatness = metrics.spectral_flatness(self.reference)
        self.pitch = metrics.dominant_frequency(self.reference, self.sample_rate)
        self.onset_rate = metrics.onset_rate(self.reference, self.sample_rate)
        # The composite's terms this reference defines: no onset-rate term for data without rhythm (a drone).
        self.composite_terms = tuple(
            key for key in COMPOSITE_TOLERANCES
            if key != "onset_rate_ratio" or metrics.onset_rate_ratio(1.0, self.onset_rate) is not None)
        self.frame_repetition = metrics.frame_repetition(self.reference, self.frame_length, self.frame_hop)
        self.features = metrics.mfcc_delta_features(self.reference, self.sample_rate)
        self.spectra = [metrics.average_spectrum(self.reference, *r) for r in metrics.PWG_RESOLUTIONS]

    def _mr_stft(self, audio: np.ndarray) -> float:
        """`metrics.mr_stft_distance` (average spectra) against the cached reference spectra."""
        scs, logmags = [], []
        for resolution, s_ref in zip(metrics.PWG_RESOLUTIONS, self.spectra):
            s_gen = metrics.average_spectrum(audio, *resolution)
            scs.append(np.linalg.norm(s_ref - s_gen) / max(np.linalg.norm(s_ref), 1e-12))
            logmags.append(np.mean(np.abs(np.log(np.maximum(s_ref, 1e-7)) - np.log(np.maximum(s_gen, 1e-7)))))
        return float(np.mean(scs) + np.mean(logmags))

    def score(self, audio: np.ndarray) -> dict[str, float | None]:
        """Scores of `audio` [count, samples]: means over the count of each per-signal metric
        (undefined ones skipped), and the kernel distance of all their MFCC + delta frames pooled.

        Returns:
            {frame_repetition, frame_repetition_data, seam_ratio, flatness_ratio, pitch_ratio,
            onset_rate_ratio, mr_stft, kid_mfcc, level_drift_db, hop_pulse_db, hop_periodicity, composite}; None
            where undefined. hop_pulse_db (`metrics.hop_pulse`: pulsing at the frame rate) and hop_periodicity
            (`metrics.hop_periodicity`: a waveform repeated every hop) are logged for the curves and for
            `train.best_by`, not in the composite, whose terms are issue 13's targets.
        """
        audio = np.atleast_2d(np.asarray(audio, dtype=np.float64))
        per_signal: dict[str, list] = {k: [] for k in (
            "frame_repetition", "seam_ratio", "flatness_ratio", "pitch_ratio", "onset_rate_ratio", "mr_stft",
            "level_drift_db", "hop_pulse_db", "hop_periodicity")}
        features = []
        for signal in audio:
            per_signal["frame_repetition"].append(metrics.frame_repetition(signal, self.frame_length, self.frame_hop))
            per_signal["seam_ratio"].append(metrics.seam_ratio(signal, self.frame_hop))
            per_signal["flatness_ratio"].append(metrics._ratio(metrics.spectral_flatness(signal), self.flatness))
            per_signal["pitch_ratio"].append(metrics._ratio(metrics.dominant_frequency(signal, self.sample_rate), self.pitch))
            per_signal["onset_rate_ratio"].append(
                metrics.onset_rate_ratio(metrics.onset_rate(signal, self.sample_rate), self.onset_rate))
            per_signal["mr_stft"].append(self._mr_stft(signal))
            # Level drift: loudness of the first quarter minus the last (dB; 0 = steady), as loudness_drop_db.
            per_signal["level_drift_db"].append(metrics.loudness_drop(signal))
            per_signal["hop_pulse_db"].append(metrics.hop_pulse(signal, self.frame_hop))
            per_signal["hop_periodicity"].append(metrics.hop_periodicity(signal, self.frame_hop))
            frames = metrics.mfcc_delta_features(metrics._loudness_matched(signal, self.reference), self.sample_rate)
            if frames is not None:
                features.append(frames)
        scores: dict[str, float | None] = {}
        for key, values in per_signal.items():
            values = [v for v in values if v is not None and math.isfinite(v)]
            scores[key] = float(np.mean(values)) if values else None
        scores["frame_repetition_data"] = self.frame_repetition
        if features and self.features is not None:
            pooled = np.concatenate(features)
            mean, std = self.features.mean(axis=0), np.maximum(self.features.std(axis=0), metrics.FEATURE_STD_FLOOR)
            scores["kid_mfcc"] = metrics.kernel_distance((pooled - mean) / std, (self.features - mean) / std)
        else:
            scores["kid_mfcc"] = None
        scores["composite"] = composite(scores, self.composite_terms)
        return scores


class GenerationCheck:
    """Every epoch: `count` sequences of `seconds` generated free-running from seeds of the `seed_split`
    split through advaudio.synthesis, scored by a `GenerationScorer` against that split's audio with the
    seed regions cut out.

    Args:
        cfg: the Experiment (uses cfg.train.generation_check, cfg.generate and cfg.data).
        prepared: the prepared data (`advaudio.data.prepare`): normalised splits and their stats.
    """

    def __init__(self, cfg, prepared):
        from advaudio import synthesis
        from advaudio.config import frame_hop

        check, gen = cfg.train.generation_check, cfg.generate
        self.cfg, self.stats, self.sample_rate = cfg, prepared.stats, int(prepared.sample_rate)
        self.hop, self.frame_length = frame_hop(cfg.data), int(cfg.data.frame_length)
        signal = np.asarray(getattr(prepared, check.seed_split).signal, dtype=np.float32)
        span = synthesis.seed_span(gen.seed_frames, self.frame_length, self.hop)
        positions = synthesis.choose_seed_positions(len(signal), check.count, span, gen.sample_seed)
        self.seeds = synthesis.seed_frames_at(signal, positions, gen.seed_frames, self.frame_length, self.hop)
        self.num_samples = int(round(check.seconds * self.sample_rate))
        reference = metrics.exclude_regions(signal, [(p, p + span) for p in positions])
        reference = reference[: int(REFERENCE_SECONDS * self.sample_rate)]
        self.scorer = GenerationScorer(np.asarray(self.stats.denormalize(reference)), self.sample_rate,
                                       self.frame_length, self.hop)

    def generate(self, generator) -> np.ndarray:
        """`[count, samples]` de-normalised audio generated after the seeds (as the end-of-run samples, with
        their stitching, feedback, dither and temperature; without a revision pass, which trains later)."""
        from advaudio import synthesis

        gen = self.cfg.generate
        audio = synthesis.generate(
            generator, self.seeds, num_samples=self.num_samples, frame_hop=self.hop, stitch_method=gen.stitch,
            window=gen.window, crossfade_length=gen.crossfade_length, dither=gen.dither, feedback=gen.feedback,
            seed=gen.sample_seed, temperature=gen.temperature,
        )
        return np.clip(np.asarray(self.stats.denormalize(audio)), -1.0, 1.0)

    def run(self, generator) -> dict[str, float]:
        """{"gen/<metric>": value} for this epoch's generator; NaN where a metric is undefined."""
        scores = self.scorer.score(self.generate(generator))
        return {PREFIX + k: (float("nan") if v is None else float(f"{v:.{LOGGED_DIGITS}g}")) for k, v in scores.items()
                if k != "frame_repetition_data"}


def enabled(cfg) -> bool:
    """Whether the config asks for a generation check (train.generation_check.count and seconds > 0)."""
    check = cfg.train.generation_check
    return check.count > 0 and check.seconds > 0


SEED_SPLITS = ("valid", "test")


def config_problems(cfg) -> list[str]:
    """What is wrong with train.generation_check and train.best_by (for config.validate): one line each."""
    import difflib

    check, train = cfg.train.generation_check, cfg.train
    problems = []
    if check.seconds < 0 or check.count < 0:
        problems.append(f"train.generation_check.seconds={check.seconds!r} and .count={check.count!r} must be >= 0 "
                        "(count=0 turns the check off)")
    if check.seed_split not in SEED_SPLITS:
        problems.append(f"train.generation_check.seed_split={check.seed_split!r} must be one of {', '.join(SEED_SPLITS)}")
    if train.best_by not in DIRECTIONS:
        near = difflib.get_close_matches(train.best_by, BEST_BY_CHOICES, n=1, cutoff=0.4)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        problems.append(f"train.best_by={train.best_by!r} must be one of {', '.join(BEST_BY_CHOICES)}{hint}")
    elif train.best_by.startswith(PREFIX) and not enabled(cfg):
        problems.append(f"train.best_by={train.best_by!r} needs the generation check, which is off "
                        "(train.generation_check.count or .seconds is 0); use train.best_by=val_loss or turn it on")
    return problems

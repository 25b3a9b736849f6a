"""Fake run folders following the run-folder contract, for the listening-test modules."""
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from advaudio import config

SR = 16000


def make_run(root: Path, name: str, audio: np.ndarray, reference: np.ndarray, samples: int = 2,
             sample_rate: int = SR, fingerprint: str = "abc") -> Path:
    """A fake run folder: config.json, data.json, reference/test.wav, samples (+ sidecars, + seeds)."""
    run = Path(root) / name / "20260101-000000"
    (run / "reference").mkdir(parents=True)
    (run / "samples" / "seeds").mkdir(parents=True)
    cfg = config.Experiment()
    cfg.name = name
    cfg.data.sample_rate = sample_rate
    config.save_json(cfg, run / "config.json")
    (run / "data.json").write_text(json.dumps({"sample_rate": sample_rate, "fingerprint": fingerprint}))
    sf.write(run / "reference" / "test.wav", reference, sample_rate)
    for i in range(samples):
        sf.write(run / "samples" / f"sample_{i:03d}.wav", audio, sample_rate)
        (run / "samples" / f"sample_{i:03d}.json").write_text(json.dumps({"experiment": name}))
        sf.write(run / "samples" / "seeds" / f"sample_{i:03d}.wav", reference[:400], sample_rate)
    return run

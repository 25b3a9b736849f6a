"""Normalisation statistics: computed on the training split only, saved as stats.json."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from advaudio.data.errors import DataError

KINDS = ("standard", "minmax")


@dataclass
class Stats:
    """Affine normalisation `normalize(x) = (x - center) / scale`.

    kind "standard": center = mean, scale = std of the training audio.
    kind "minmax": maps the training minimum..maximum to -1..1
    (center = (max + min) / 2, scale = (max - min) / 2).

    Example:
        >>> stats = Stats.from_signal(train_signal, "standard")
        >>> x = stats.normalize(train_signal)       # mean 0, std 1
        >>> np.allclose(stats.denormalize(x), train_signal, atol=1e-5)
        True
    """

    kind: str
    mean: float | None = None
    std: float | None = None
    minimum: float | None = None
    maximum: float | None = None

    @classmethod
    def from_signal(cls, signal: np.ndarray, kind: str = "standard", *, name: str = "training split") -> "Stats":
        """Statistics of `signal` [samples]; a constant signal raises DataError (no division by zero)."""
        if kind not in KINDS:
            raise DataError(f"data.normalization={kind!r} is unknown; use one of {', '.join(KINDS)}")
        x = np.asarray(signal, dtype=np.float64)
        if x.size == 0:
            raise DataError(f"the {name} holds no audio; normalisation statistics need at least one sample")
        if not np.all(np.isfinite(x)):
            raise DataError(f"the {name} contains NaN or inf samples; clean the source audio")
        if kind == "standard":
            stats = cls(kind, mean=float(x.mean()), std=float(x.std()))
        else:
            stats = cls(kind, minimum=float(x.min()), maximum=float(x.max()))
        if not stats.scale > 0.0:
            raise DataError(
                f"the {name} is constant (all silent?): its {'std' if kind == 'standard' else 'max - min'} is 0, "
                "so it cannot be normalised; use audio that is not silent"
            )
        return stats

    @property
    def center(self) -> float:
        return self.mean if self.kind == "standard" else (self.maximum + self.minimum) / 2.0

    @property
    def scale(self) -> float:
        return self.std if self.kind == "standard" else (self.maximum - self.minimum) / 2.0

    def normalize(self, x: np.ndarray) -> np.ndarray:
        """Raw audio -> model domain; float32 in, float32 out (any shape)."""
        x = np.asarray(x)
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
        return ((x.astype(np.float64) - self.center) / self.scale).astype(dtype)

    def denormalize(self, x: np.ndarray) -> np.ndarray:
        """Model domain -> raw audio; the inverse of `normalize`."""
        x = np.asarray(x)
        dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
        return (x.astype(np.float64) * self.scale + self.center).astype(dtype)

    def to_dict(self) -> dict:
        if self.kind == "standard":
            return {"kind": self.kind, "mean": self.mean, "std": self.std}
        return {"kind": self.kind, "minimum": self.minimum, "maximum": self.maximum}

    @classmethod
    def from_dict(cls, values: dict) -> "Stats":
        kind = values.get("kind")
        needed = ("mean", "std") if kind == "standard" else ("minimum", "maximum") if kind == "minmax" else None
        if needed is None:
            raise DataError(f"stats kind {kind!r} is unknown; expected one of {', '.join(KINDS)}")
        missing = [k for k in needed if values.get(k) is None]
        if missing:
            raise DataError(f"{kind} stats lack {', '.join(missing)}: {values!r}")
        return cls(kind, **{k: float(values[k]) for k in needed})

    def save(self, path: str | Path) -> None:
        """Writes stats.json."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Stats":
        path = Path(path)
        try:
            values = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise DataError(f"cannot read normalisation statistics {path}: {err}; it must be the stats.json of a run") from None
        return cls.from_dict(values)

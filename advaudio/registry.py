"""Tiny name -> factory tables: the one extension mechanism of advaudio.

Every extension point (objectives, discriminators, adversarial losses, loss
terms, stitching methods, audio sources) is a `Registry`. Configs name an
entry plus keyword arguments; an experiment file may also pass its own callable
or register a new name.
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, Iterator


class Registry:
    """A name -> factory table with helpful errors.

    Args:
        kind: what the entries are, used in error messages ("objective").

    Example:
        >>> OBJECTIVES = Registry("objective")
        >>> @OBJECTIVES.register("mse")
        ... def build_mse(cfg): ...
        >>> OBJECTIVES.get("mse")
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._factories: dict[str, Callable[..., Any]] = {}

    def register(self, name: str, factory: Callable[..., Any] | None = None, *, overwrite: bool = False):
        """Registers `factory` under `name`; usable as a decorator when `factory` is None."""

        def add(fn: Callable[..., Any]) -> Callable[..., Any]:
            if not overwrite and name in self._factories and self._factories[name] is not fn:
                raise ValueError(
                    f"{self.kind} {name!r} is already registered; pass overwrite=True to replace it"
                )
            self._factories[name] = fn
            return fn

        return add if factory is None else add(factory)

    def get(self, name_or_factory: str | Callable[..., Any]) -> Callable[..., Any]:
        """Returns the factory for a name, or a callable unchanged.

        Raises:
            KeyError: unknown name; the message lists the valid names and the nearest one.
        """
        if callable(name_or_factory):
            return name_or_factory
        try:
            return self._factories[name_or_factory]
        except KeyError:
            pass
        valid = sorted(self._factories)
        near = difflib.get_close_matches(str(name_or_factory), valid, n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise KeyError(
            f"unknown {self.kind} {name_or_factory!r}.{hint} Valid {self.kind}s: {', '.join(valid)}"
        ) from None

    def build(self, name_or_factory: str | Callable[..., Any], *args, **kwargs) -> Any:
        """`get(name)(*args, **kwargs)`."""
        return self.get(name_or_factory)(*args, **kwargs)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, name: str) -> bool:
        return name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


OBJECTIVES = Registry("objective")
DISCRIMINATORS = Registry("discriminator")
ADVERSARIAL_LOSSES = Registry("adversarial loss")
LOSS_TERMS = Registry("loss term")
STITCHERS = Registry("stitching method")
SOURCES = Registry("audio source")
STRATEGIES = Registry("distribution strategy")

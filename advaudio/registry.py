"""Tiny name -> factory tables: the one extension mechanism of advaudio.

Every extension point (objectives, discriminators, adversarial losses, loss
terms, stitching methods, audio sources, strategies, config checks) is a
`Registry`. Configs name an entry plus keyword arguments; an experiment file
may also pass its own callable or register a new name. An entry may carry a
`check` that `config.validate` runs before any data is read (for objectives:
`check(experiment)`; for discriminators: `check(params)`).

A registry knows the modules that register its built-in entries and imports
them on first look-up, so `OBJECTIVES.names()` is complete even when nothing
imported `advaudio.objectives` yet.
"""
from __future__ import annotations

import difflib
import importlib
import inspect
from typing import Any, Callable, Iterable, Iterator


def nearest(name: Any, choices: Iterable[str]) -> str:
    """' Did you mean 'x'?' for the closest choice, or ''."""
    near = difflib.get_close_matches(str(name), list(choices), n=1)
    return f" Did you mean {near[0]!r}?" if near else ""


class Registry:
    """A name -> factory table with helpful errors.

    Args:
        kind: what the entries are, used in error messages ("objective").
        plural: the plural of `kind` (default: kind + "s").
        builtins: modules that register the built-in entries, imported on
            first look-up (not at import of this module: most import TensorFlow).

    Example:
        >>> OBJECTIVES = Registry("objective")
        >>> @OBJECTIVES.register("mse", check=check_mse)
        ... def build_mse(cfg): ...
        >>> OBJECTIVES.get("mse")
    """

    def __init__(self, kind: str, *, plural: str | None = None, builtins: tuple[str, ...] = ()):
        self.kind = kind
        self.plural = plural or f"{kind}s"
        self.builtins = tuple(builtins)
        self._loaded = not self.builtins
        self._factories: dict[str, Callable[..., Any]] = {}
        self._checks: dict[str, Callable[..., Any]] = {}

    def _load_builtins(self) -> None:
        if not self._loaded:
            self._loaded = True  # first: a built-in module may look itself up while it is being imported
            for module in self.builtins:
                importlib.import_module(module)

    def register(self, name: str, factory: Callable[..., Any] | None = None, *, overwrite: bool = False,
                 check: Callable[..., Any] | None = None):
        """Registers `factory` (and its optional config `check`) under `name`; a decorator when `factory` is None."""

        def add(fn: Callable[..., Any]) -> Callable[..., Any]:
            if not overwrite and name in self._factories and self._factories[name] is not fn:
                raise ValueError(
                    f"{self.kind} {name!r} is already registered; pass overwrite=True to replace it"
                )
            self._factories[name] = fn
            if check is not None:
                self._checks[name] = check
            else:
                self._checks.pop(name, None)
            return fn

        return add if factory is None else add(factory)

    def unknown_message(self, name: Any) -> str:
        """"unknown objective 'x'. Did you mean 'y'? Valid objectives: a, b"."""
        valid = self.names()
        return f"unknown {self.kind} {name!r}.{nearest(name, valid)} Valid {self.plural}: {', '.join(valid)}"

    def get(self, name_or_factory: str | Callable[..., Any]) -> Callable[..., Any]:
        """Returns the factory for a name, or a callable unchanged.

        Raises:
            KeyError: unknown name; the message lists the valid names and the nearest one.
        """
        if callable(name_or_factory):
            return name_or_factory
        self._load_builtins()
        try:
            return self._factories[name_or_factory]
        except (KeyError, TypeError):
            pass
        raise KeyError(self.unknown_message(name_or_factory)) from None

    def check_of(self, name_or_factory: str | Callable[..., Any]) -> Callable[..., Any] | None:
        """The config check registered with a name, or a callable's `check_config` attribute; None if there is none.

        Raises:
            KeyError: unknown name (as `get`).
        """
        factory = self.get(name_or_factory)
        if callable(name_or_factory):
            return getattr(factory, "check_config", None)
        return self._checks.get(name_or_factory)

    def build(self, name_or_factory: str | Callable[..., Any], *args, **kwargs) -> Any:
        """`get(name)(*args, **kwargs)`."""
        return self.get(name_or_factory)(*args, **kwargs)

    def names(self) -> list[str]:
        self._load_builtins()
        return sorted(self._factories)

    def __contains__(self, name: str) -> bool:
        self._load_builtins()
        return name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def accepted_params(*constructors: Callable[..., Any], skip: tuple[str, ...] = ("self", "input_length")):
    """A `check(params)` that refuses keyword arguments none of `constructors` names.

    For factories that forward `**params` to classes (a model and the
    sub-models it builds): the check reads their signatures, so it builds
    nothing and stays true when a constructor gains an argument.

    Raises (from the check):
        ValueError: an unknown key, naming the nearest accepted one and listing them all.
    """
    names = set()
    for constructor in constructors:
        target = constructor.__init__ if inspect.isclass(constructor) else constructor
        for parameter in inspect.signature(target).parameters.values():
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY) and parameter.name not in skip:
                names.add(parameter.name)
    accepted = sorted(names)

    def check(params: dict) -> None:
        unknown = sorted(set(params) - names)
        if unknown:
            raise ValueError(
                f"unknown parameter {unknown[0]!r}.{nearest(unknown[0], accepted)} Accepted: {', '.join(accepted)}"
            )

    check.accepted = accepted
    return check


OBJECTIVES = Registry("objective", builtins=("advaudio.objectives",))
DISCRIMINATORS = Registry("discriminator", builtins=("advaudio.discriminators",))
ADVERSARIAL_LOSSES = Registry("adversarial loss", plural="adversarial losses", builtins=("advaudio.adversarial",))
LOSS_TERMS = Registry("loss term", builtins=("advaudio.losses",))
STITCHERS = Registry("stitching method", builtins=("advaudio.stitching",))
SOURCES = Registry("audio source", builtins=("advaudio.data.sources",))
STRATEGIES = Registry("distribution strategy", plural="distribution strategies", builtins=("advaudio.training",))
# Checks of config sections that a feature module adds: `check(experiment)` returns a list of problem lines
# (or raises ValueError with one line per problem); `config.validate` runs every one after its own checks.
CONFIG_CHECKS = Registry("config check", builtins=())

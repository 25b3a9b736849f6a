"""Registry: lookup, callables, helpful errors."""
import pytest

from advaudio.registry import Registry


def test_register_get_and_build():
    reg = Registry("widget")

    @reg.register("double")
    def double(x):
        return 2 * x

    assert reg.get("double") is double
    assert reg.build("double", 21) == 42
    assert "double" in reg and reg.names() == ["double"]


def test_callable_passes_through():
    reg = Registry("widget")
    fn = lambda: 7  # noqa: E731
    assert reg.get(fn) is fn


def test_unknown_name_lists_valid_and_nearest():
    reg = Registry("objective")
    reg.register("mse", lambda: None)
    reg.register("spectral", lambda: None)
    with pytest.raises(KeyError) as err:
        reg.get("spectrl")
    message = str(err.value)
    assert "Did you mean 'spectral'" in message and "mse, spectral" in message


def test_double_registration_needs_overwrite():
    reg = Registry("widget")
    reg.register("a", lambda: 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", lambda: 2)
    reg.register("a", lambda: 3, overwrite=True)
    assert reg.build("a") == 3

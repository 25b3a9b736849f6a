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


def test_plural_in_the_unknown_name_message():
    reg = Registry("adversarial loss", plural="adversarial losses")
    reg.register("hinge", lambda: None)
    with pytest.raises(KeyError) as err:
        reg.get("hing")
    assert "Valid adversarial losses: hinge" in str(err.value) and "losss" not in str(err.value)
    assert Registry("objective").plural == "objectives"


def test_builtins_are_imported_on_first_look_up(monkeypatch):
    import sys
    import types

    module = types.ModuleType("fake_builtins_for_registry_test")
    reg = Registry("widget", builtins=(module.__name__,))
    imported = []

    def exec_module():  # what importing the built-ins module does: register its entries
        imported.append(True)
        reg.register("builtin", lambda: 1)

    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr("importlib.import_module", lambda name: exec_module() or module)
    reg.register("user", lambda: 2)  # registering does not import the built-ins
    assert imported == []
    assert reg.names() == ["builtin", "user"] and imported == [True]
    reg.get("builtin")
    assert imported == [True]  # once


def test_check_of_a_name_and_of_a_callable():
    reg = Registry("objective")

    def check(experiment):
        return ["bad"]

    reg.register("with_check", lambda: None, check=check)
    reg.register("without", lambda: None)
    assert reg.check_of("with_check") is check and reg.check_of("without") is None

    def custom():
        return None

    assert reg.check_of(custom) is None
    custom.check_config = check
    assert reg.check_of(custom) is check
    with pytest.raises(KeyError, match="Did you mean 'with_check'"):
        reg.check_of("with_chek")


def test_accepted_params_reads_the_signatures_of_model_and_sub_model():
    from advaudio.registry import accepted_params

    class Sub:
        def __init__(self, channels=8, kernel_size=3, **kwargs):
            pass

    class Model:
        def __init__(self, input_length=None, scales=3, **sub_params):
            pass

    check = accepted_params(Model, Sub)
    assert check.accepted == ["channels", "kernel_size", "scales"]  # input_length is not a param
    check({"scales": 2, "channels": 4})
    with pytest.raises(ValueError, match="unknown parameter 'chanels'. Did you mean 'channels'"):
        check({"chanels": 4})


def test_every_builtin_discriminator_checks_its_params_by_signature():
    from advaudio.registry import DISCRIMINATORS

    accepted = {name: DISCRIMINATORS.check_of(name).accepted for name in DISCRIMINATORS}
    assert {"hidden_units", "norm"} <= set(accepted["frame_mlp"])
    assert {"scales", "channels", "downsample_factors", "groups"} <= set(accepted["waveform"])
    assert {"periods", "channels", "stride"} <= set(accepted["multi_period"]) and "period" not in accepted["multi_period"]
    assert {"resolutions", "channels", "freq_stride"} <= set(accepted["spectrogram"])
    assert "fft_size" not in accepted["spectrogram"]  # given per resolution

"""The one Config: flags win over the environment, which wins over defaults."""

from __future__ import annotations

import pytest

from service.config import DEFAULT_MAX_MESSAGE_BYTES, Config, load


def test_defaults_without_flags_or_environment() -> None:
    config = load([], {})
    assert config == Config()
    assert config.port == 50051
    assert config.default_currency == "USD"
    assert config.max_message_bytes == DEFAULT_MAX_MESSAGE_BYTES
    assert config.address == "[::]:50051"


def test_environment_then_flag_precedence() -> None:
    environ = {
        "CONVERSIONS_PORT": "6000",
        "CONVERSIONS_DEFAULT_CURRENCY": "eur",
        "CONVERSIONS_GRACE": "2.5",
        "CONVERSIONS_LOG_LEVEL": "debug",
        "CONVERSIONS_MAX_CONCURRENT_RPCS": "8",
        "CONVERSIONS_MAX_MESSAGE_BYTES": "2097152",
        "CONVERSIONS_HOST": "127.0.0.1",
    }
    from_env = load([], environ)
    assert from_env.port == 6000
    assert from_env.default_currency == "EUR"
    assert from_env.grace == 2.5
    assert from_env.log_level == "DEBUG"
    assert from_env.max_concurrent_rpcs == 8
    assert from_env.max_message_bytes == 2_097_152
    assert from_env.address == "127.0.0.1:6000"
    from_flag = load(["--port", "7000", "--default-currency", "GBP"], environ)
    assert from_flag.port == 7000
    assert from_flag.default_currency == "GBP"
    assert from_flag.grace == 2.5


def test_config_is_frozen() -> None:
    config = load([], {})
    with pytest.raises(AttributeError):
        config.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("argv", "environ", "named"),
    [
        (["--port", "70000"], {}, "--port"),
        (["--port", "http"], {}, "--port"),
        ([], {"CONVERSIONS_PORT": "-1"}, "CONVERSIONS_PORT"),
        (["--default-currency", "dollars"], {}, "--default-currency"),
        (["--grace", "-1"], {}, "--grace"),
        (["--log-level", "loud"], {}, "--log-level"),
        (["--max-message-bytes", "10"], {}, "--max-message-bytes"),
        (["--max-concurrent-rpcs", "-3"], {}, "--max-concurrent-rpcs"),
    ],
)
def test_invalid_settings_stop_with_a_usage_error_naming_the_source(
    argv: list[str], environ: dict[str, str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        load(argv, environ)
    assert stopped.value.code == 2
    assert named in capsys.readouterr().err

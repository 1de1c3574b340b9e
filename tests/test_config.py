from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lookout import Lookout
from lookout.config import ConfigError, load_settings, parse_duration


def test_defaults() -> None:
    settings, sources = load_settings({}, environ={})
    assert settings.store == "sqlite:///lookout.db"
    assert settings.batch_size == 1000
    assert settings.retention == 30 * 86400
    assert sources == {}


def test_env_overrides_arguments_which_override_the_file(tmp_path: Path) -> None:
    config = tmp_path / "lookout.toml"
    config.write_text('app_version = "from-file"\nbatch_size = 10\nretention = "7d"\n')
    settings, sources = load_settings(
        {"batch_size": 20, "app_version": "from-code"},
        config_file=config,
        environ={"LOOKOUT_APP_VERSION": "from-env", "LOOKOUT_BATCH_INTERVAL": "100ms"},
    )
    assert settings.app_version == "from-env"
    assert settings.batch_size == 20
    assert settings.retention == 7 * 86400
    assert settings.batch_interval == pytest.approx(0.1)
    assert sources["app_version"] == "environment variable LOOKOUT_APP_VERSION"
    assert sources["batch_size"] == "argument"
    assert sources["retention"].startswith("config file")


def test_lookout_toml_in_working_directory_and_lookout_table(tmp_path: Path) -> None:
    (tmp_path / "lookout.toml").write_text('[lookout]\nstore = "sqlite:///other.db"\n')
    settings, _ = load_settings({}, environ={})
    assert settings.store == "sqlite:///other.db"


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "custom.toml"
    path.write_text("sample_rate = 0.25\n")
    settings, _ = load_settings({}, environ={"LOOKOUT_CONFIG": str(path)})
    assert settings.sample_rate == 0.25


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"batch_sise": 5}, "unknown setting 'batch_sise'; did you mean 'batch_size'?"),
        ({"batch_size": 0}, "batch_size = 0 is not valid; expected a whole number above 0"),
        ({"batch_size": "many"}, "batch_size = 'many' is not valid"),
        ({"sample_rate": 2}, "sample_rate = 2 is not valid; expected a number from 0 to 1"),
        ({"batch_interval": "soon"}, "expected a duration such as 250ms"),
        ({"enabled": "perhaps"}, "enabled = 'perhaps' is not valid; expected true or false"),
        ({"redact_keys": 5}, "expected a list of key names"),
        ({"redact_pattern": "x"}, "unknown setting 'redact_pattern'; did you mean 'redact_keys'?"),
        ({"store": "nosuchdb://x"}, "store = 'nosuchdb://x' is not valid"),
        ({"store": "not a url"}, "store = 'not a url' is not valid"),
    ],
)
def test_bad_values_name_the_key_value_and_expectation(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(overrides, environ={})
    assert message in str(caught.value)


def test_bad_file_key_and_env_value(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("retension = '3d'\n")
    with pytest.raises(ConfigError, match=r"config file .*bad\.toml.*did you mean 'retention'"):
        load_settings({}, config_file=config, environ={})
    with pytest.raises(
        ConfigError, match="environment variable LOOKOUT_QUEUE_SIZE: queue_size = '-1'"
    ):
        load_settings({}, environ={"LOOKOUT_QUEUE_SIZE": "-1"})
    broken = tmp_path / "broken.toml"
    broken.write_text("store = \n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings({}, config_file=broken, environ={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({}, config_file=tmp_path / "missing.toml", environ={})


def test_unknown_environment_variable_stops_start_up_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"LOOKOUT_BACH_SIZE.*did you mean 'batch_size'"):
        load_settings({}, environ={"LOOKOUT_BACH_SIZE": "3"})


def test_variables_other_parts_of_lookout_read_are_not_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings, _ = load_settings(
        {},
        environ={
            "LOOKOUT_DASHBOARD_ADMIN_PASSWORD": "pw",
            "LOOKOUT_DASHBOARD_GUEST_PASSWORDS": "a",
            "LOOKOUT_NATIVE": "0",
            "LOOKOUT_SENDGRID_API_URL": "http://127.0.0.1:1",
            "LOOKOUT_PYTEST_STORE": "sqlite://",
            "LOOKOUT_BATCH_SIZE": "7",
        },
    )
    assert settings.batch_size == 7
    assert "unknown" not in caplog.text


def test_store_none_and_redaction_list() -> None:
    settings, _ = load_settings({"store": None, "redact_keys": ["ssn", "x.y"]}, environ={})
    assert settings.store is None
    assert settings.redact_keys == ("ssn", "x.y")
    assert load_settings({}, environ={"LOOKOUT_KEEP_KEYS": "session, x"})[0].keep_keys == (
        "session",
        "x",
    )
    settings, _ = load_settings(
        {}, environ={"LOOKOUT_STORE": "none", "LOOKOUT_RETENTION": "forever"}
    )
    assert settings.store is None
    assert settings.retention is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("30s", 30),
        ("15m", 900),
        ("12h", 43200),
        ("30d", 2592000),
        ("2w", 1209600),
        ("1.5", 1.5),
        (3, 3.0),
    ],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_the_toml_parser_is_imported_only_to_read_a_config_file(tmp_path: Path) -> None:
    """Its 4,000 objects would otherwise stay in every application's heap for full GCs."""
    config = tmp_path / "settings.toml"  # not ./lookout.toml, which is read by default
    config.write_text('app_version = "9.9"\n')
    script = (
        "import sys\n"
        "from lookout import Lookout\n"
        "import lookout.flask\n"
        "plain = Lookout(store=None)\n"
        "before = 'tomllib' in sys.modules or 'tomli' in sys.modules\n"
        f"configured = Lookout(store=None, config_file={str(config)!r})\n"
        "print(before, configured.settings.app_version)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert run.stdout.split() == ["False", "9.9"]


@pytest.mark.parametrize("value", [0, 0.001, float("nan"), float("inf"), -1, "0", "inf", [1]])
def test_batch_interval_must_be_finite_and_at_least_5ms(value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"batch_interval": value}, environ={})
    assert f"batch_interval = {value!r} is not valid" in str(caught.value)


@pytest.mark.parametrize(
    "key", ["retry_backoff", "retry_max_backoff", "shutdown_timeout", "retention"]
)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_no_duration_is_nan_or_infinite(key: str, value: float) -> None:
    with pytest.raises(ConfigError, match=f"{key} = {value!r} is not valid; expected a finite"):
        load_settings({key: value}, environ={})


def test_infinite_duration_in_a_toml_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "lookout.toml"
    config.write_text("batch_interval = inf\n")
    with pytest.raises(ConfigError, match=r"config file .*batch_interval = inf is not valid"):
        load_settings(config_file=config, environ={})


def test_a_config_file_that_is_not_utf8_or_not_a_file_is_a_config_error(tmp_path: Path) -> None:
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'app_version = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"latin\.toml' is not UTF-8 text"):
        load_settings(config_file=latin, environ={})
    with pytest.raises(ConfigError, match="is a directory, not a file"):
        load_settings(environ={"LOOKOUT_CONFIG": str(tmp_path)})


@pytest.mark.parametrize(
    ("sinks", "message"),
    [
        ('[{"type":"http","url":5}]', "option url = 5 is not valid; expected str"),
        (
            '[{"type":"http","url":"http://127.0.0.1:9/x","timeout":"abc"}]',
            "option timeout = 'abc' is not valid; expected float",
        ),
        ('[{"type":"http","url":"http://127.0.0.1:9/x","per_event":"yes"}]', "per_event = 'yes'"),
        ('[{"type":"log","level":[20]}]', "option level = [20] is not valid"),
    ],
)
def test_sink_options_of_the_wrong_type_are_config_errors_naming_them(
    monkeypatch: pytest.MonkeyPatch, sinks: str, message: str
) -> None:
    from lookout import Lookout

    monkeypatch.setenv("LOOKOUT_SINKS", sinks)
    with pytest.raises(ConfigError) as caught:
        Lookout(store=None)
    assert "environment variable LOOKOUT_SINKS: sinks[1]: sink" in str(caught.value)
    assert message in str(caught.value)


def test_an_http_sink_built_in_code_refuses_a_timeout_that_is_not_a_number() -> None:
    from lookout.sinks.http import HttpSink

    with pytest.raises(ValueError, match="timeout must be a number of seconds above 0; got 'abc'"):
        HttpSink("http://127.0.0.1:9/x", timeout="abc")  # type: ignore[arg-type]


def test_a_sink_table_given_in_code_is_built_like_the_settings_one(tmp_path: Path) -> None:
    from lookout.sinks.http import HttpSink

    lk = Lookout(
        store=None,
        sinks=[{"type": "http", "url": "http://127.0.0.1:9/ingest", "spool": True}],
        spool_dir=str(tmp_path),
    )
    try:
        [sink] = lk.sinks
        assert isinstance(sink, HttpSink) and sink.spool is not None  # type: ignore[attr-defined]
    finally:
        lk.close(0.5)
    with pytest.raises(ConfigError, match=r"Lookout\(sinks=...\)\[1\]"):
        Lookout(store=None, sinks=[{"type": "http", "url": 5}])

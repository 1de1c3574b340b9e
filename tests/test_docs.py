"""The docs stay true: the configuration reference is the settings table's, the README's quick
start is what CI runs, the package ships its files."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from lookout import config_reference, settings_table
from lookout.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"


def test_the_configuration_reference_is_made_from_the_settings_table() -> None:
    """Regenerate with: lookout config --reference > docs/configuration.md"""
    assert CONFIGURATION.read_text() == config_reference.render()


def test_lookout_config_reference_prints_the_page() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lookout", "config", "--reference"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == CONFIGURATION.read_text()


def test_the_table_has_a_row_for_every_setting_and_option() -> None:
    from lookout.flask.extension import DEFAULTS

    rows = settings_table.group(settings_table.LOOKOUT)
    assert [row.name for row in rows] == [field.name for field in dataclasses.fields(Settings)]
    assert all(row.parse is not None for row in rows)
    flask_rows = settings_table.group(settings_table.FLASK) + settings_table.group(
        settings_table.DASHBOARD
    )
    assert list(DEFAULTS) == [row.name for row in flask_rows]
    names = [row.name for row in settings_table.TABLE]
    assert len(names) == len(set(names))  # one app.config key each


@pytest.mark.parametrize(
    "row", settings_table.group(settings_table.LOOKOUT), ids=lambda row: row.name
)
def test_each_documented_default_is_the_default_as_one_would_write_it(
    row: settings_table.Setting,
) -> None:
    """The page shows defaults as they are written in lookout.toml (`30d`, `500ms`, `true`):
    written so in the environment, each reads back as the default itself."""
    shown = config_reference.shown_default(row)
    if not (shown.startswith("`") and shown.endswith("`")):
        return  # described in words (the machine's name) or none
    settings, _ = load_settings({}, environ={row.env_var or "": shown.strip("`")})
    assert getattr(settings, row.name) == row.default


def test_lookout_dashboard_flags_are_the_tables() -> None:
    """A row naming a `lookout dashboard` flag (and variable) is that flag of the command."""
    from lookout.cli import main

    command = main.commands["dashboard"]
    flags = {opt: param for param in command.params for opt in getattr(param, "opts", ())}
    for row in settings_table.TABLE:
        if row.cli is None:
            continue
        assert row.cli in flags, row.name
        if row.group == settings_table.DASHBOARD and row.env_var:
            assert flags[row.cli].envvar == row.env_var, row.name


def test_quick_start_has_the_demo_and_the_test_command_ci_runs() -> None:
    text = README.read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [line for line in quick.splitlines() if line.startswith("python3 -m venv")]
    assert len(commands) == 2
    assert commands[0].endswith("lookout demo")
    ci = (README.parent / ".ci" / "run").read_text()
    assert commands[1].split(" && ", 2)[2] in ci


def test_every_non_python_file_of_the_package_is_declared_as_package_data() -> None:
    """A non-editable install (the quick start's demo) ships only what package-data names:
    a template missing there is a 500 on the installed dashboard, never seen in the tests."""
    import fnmatch
    from importlib.machinery import EXTENSION_SUFFIXES

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["lookout"]
    package = ROOT / "src" / "lookout"
    undeclared = [
        str(path.relative_to(package))
        for path in package.rglob("*")
        if path.is_file()
        and path.suffix not in (".py", ".pyc")
        and "__pycache__" not in path.parts
        and not path.name.endswith(tuple(EXTENSION_SUFFIXES))  # built by setup.py (mypyc)
        and not any(fnmatch.fnmatch(str(path.relative_to(package)), p) for p in patterns)
    ]
    assert undeclared == []

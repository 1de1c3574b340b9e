"""The README's configuration reference and quick start stay true."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from lookout.config import Settings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_configuration_reference_lists_exactly_the_settings() -> None:
    text = README.read_text()
    section = text.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))
    assert documented == {field.name for field in dataclasses.fields(Settings)}


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

"""The docs stay true: the configuration reference is the settings table's, the README's quick
start is what CI runs, the package ships its files."""

from __future__ import annotations

import dataclasses
import re
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


def _slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _sections(path: Path) -> dict[str, str]:
    """Each heading's anchor -> the text under it, up to the next heading of any level."""
    sections: dict[str, str] = {}
    anchor = ""
    fenced = False
    for line in path.read_text().splitlines():
        fenced ^= line.startswith("```")
        if line.startswith("#") and not fenced:
            anchor = _slug(line.lstrip("#"))
            sections[anchor] = ""
        else:
            sections[anchor] = sections.get(anchor, "") + line + "\n"
    return sections


def _links(path: Path) -> list[tuple[str, Path, str]]:
    """(link text, target file, anchor) of each relative Markdown link in a page."""
    found = []
    for text, target in re.findall(r"\[([^\]]+)\]\(([^)\s]+)\)", path.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file, _, anchor = target.partition("#")
        found.append((text, (path.parent / file).resolve() if file else path, anchor))
    return found


@pytest.mark.parametrize(
    "page", ["README.md", *sorted(p.name for p in (ROOT / "docs").glob("*.md"))]
)
def test_every_relative_link_and_anchor_exists(page: str) -> None:
    path = README if page == "README.md" else ROOT / "docs" / page
    for text, target, anchor in _links(path):
        assert target.exists(), f"{page}: [{text}] -> {target} does not exist"
        if anchor and target.suffix == ".md":
            assert anchor in _sections(target), f"{page}: [{text}] -> #{anchor} is no heading"


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d[\d,.]*\d|\d", text)


def test_the_readme_figures_are_the_benchmark_pages() -> None:
    """Each headline figure (and its date) is in the benchmark section its row links to, and
    the feature table's per-request costs are the Flask benchmark's."""
    text = README.read_text()
    figures = text.split("## Figures", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in figures.splitlines() if line.startswith("| [")]
    assert len(rows) >= 4
    benchmarks = _sections(ROOT / "docs" / "benchmarks.md")
    for row in rows:
        link, figure, date = (cell.strip() for cell in row.strip("|").split(" | "))
        anchor = re.search(r"\(docs/benchmarks\.md#([\w-]+)\)", link)
        assert anchor, row
        section = benchmarks[anchor.group(1)]
        for number in [*_numbers(figure), date]:
            assert number in section, f"{number} of {row!r} is not in #{anchor.group(1)}"
    cost_row = next(line for line in text.splitlines() if line.startswith("| Added per Flask"))
    flask = benchmarks["flask-requests-beside-the-peers"]
    assert all(number in flask for number in _numbers(cost_row))


def test_the_cli_page_documents_every_command_and_option() -> None:
    import click

    from lookout.cli import main

    sections = _sections(ROOT / "docs" / "cli.md")

    def walk(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
        found = []
        for name, command in group.commands.items():
            path = f"{prefix} {name}"
            if isinstance(command, click.Group):
                found += walk(command, path)
            else:
                found.append((path, command))
        return found

    commands = walk(main, "lookout")
    assert len(commands) >= 9
    for path, command in commands:
        section = sections.get(_slug(path))
        assert section is not None, f"docs/cli.md has no section '## {path}'"
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help":
                    assert f"`{opt}" in section, f"{path}: {opt} is not in docs/cli.md"


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

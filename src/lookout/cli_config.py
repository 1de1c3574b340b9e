"""``lookout check`` and ``lookout config``: the settings in force, where each came from, and
the configuration reference the docs are made from (``lookout config --reference``)."""

from __future__ import annotations

import sys

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lookout.cli_common import EXIT_FAILED, console
from lookout.config import load_settings

_CONFIG_FILE = click.option(
    "--config",
    "config_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="TOML settings file (default: $LOOKOUT_CONFIG or ./lookout.toml).",
)


def _print_settings(config_file: str | None) -> None:
    settings, sources = load_settings(config_file=config_file)
    table = Table(title="Settings", title_justify="left", header_style="bold")
    table.add_column("setting")
    table.add_column("value", overflow="fold")
    table.add_column("from")
    for key, value in settings.describe().items():
        table.add_row(Text(key), Text(repr(value)), Text(sources.get(key, "default")))
    console.print(table)


@click.command()
@_CONFIG_FILE
def check(config_file: str | None) -> None:
    """Validate the configuration and try every configured sink."""
    from lookout.core import Lookout

    _print_settings(config_file)
    lk = Lookout(config_file=config_file)
    failures = 0
    try:
        for sink in lk.sinks:
            name = getattr(sink, "name", type(sink).__name__)
            try:
                description = sink.check() if hasattr(sink, "check") else "no check available"
            except Exception as exc:
                failures += 1
                problem = escape(f"{type(exc).__name__}: {exc}")
                console.print(f"[red]✗ {escape(name)}[/red]: {problem}")
            else:
                console.print(f"[green]✓ {escape(name)}[/green]: {escape(str(description))}")
        if not lk.sinks:
            console.print("No sinks configured: events are not recorded anywhere.")
    finally:
        lk.close()
    if failures:
        sys.exit(EXIT_FAILED)


@click.command()
@_CONFIG_FILE
@click.option(
    "--reference",
    is_flag=True,
    help="Print the configuration reference (Markdown: docs/configuration.md) instead.",
)
def config(config_file: str | None, reference: bool) -> None:
    """Show the settings in force and where each came from (no sink is tried)."""
    if reference:
        from lookout.config_reference import render

        click.echo(render(), nl=False)
        return
    _print_settings(config_file)

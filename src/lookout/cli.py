"""The ``lookout`` command: its group and entry point, and the commands that read a store
(stats, prune). The others, one module per group: cli_demo (demo), cli_serve (dashboard,
watch), cli_config (check, config), cli_export (export), cli_tests (tests)."""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from lookout import __version__
from lookout.cli_common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    console,
    duration_option,
    err_console,
    open_store,
)
from lookout.cli_config import check, config
from lookout.cli_demo import demo
from lookout.cli_export import export
from lookout.cli_serve import dashboard, watch
from lookout.cli_tests import tests
from lookout.config import ConfigError, resolve_store_url
from lookout.store.engine import StoreConfigError


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from lookout.native import summary

    click.echo(f"lookout {__version__} (request path: {summary()})")
    ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version, and whether the per-request code runs compiled.",
)
def main() -> None:
    """Lookout: see what your Python code does in production."""


@main.command()
@click.option("--store", "store_url", default=None, help="Store URL (default: the configured one).")
@click.option(
    "--since",
    default="1h",
    show_default=True,
    callback=duration_option,
    help="Window, e.g. 15m, 24h, 7d.",
)
@click.option(
    "--kind",
    type=click.Choice(["call", "request", "run"]),
    default=None,
    help="Only this kind of event.",
)
def stats(store_url: str | None, since: float, kind: str | None) -> None:
    """Per-function (and per-endpoint) calls, errors and latency percentiles."""
    from lookout.render import summary_table
    from lookout.store.queries import summarize

    store = open_store(resolve_store_url(store_url))
    summaries = summarize(store, since_s=since, kind=kind)
    if not summaries:
        console.print(f"Nothing recorded in {escape(store.safe_url)} in the last {since:g}s.")
        return
    console.print(summary_table(summaries, f"{store.safe_url}, last {since:g}s"))


@main.command()
@click.option("--store", "store_url", default=None, help="Store URL (default: the configured one).")
@click.option(
    "--older-than",
    required=True,
    callback=duration_option,
    help="Delete raw events and minute rollups older than this, e.g. 30d.",
)
@click.option(
    "--rollups-older-than",
    default=None,
    callback=duration_option,
    help="Also delete hour rollups older than this, e.g. 400d.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
def prune(
    store_url: str | None, older_than: float, rollups_older_than: float | None, dry_run: bool
) -> None:
    """Delete old data from the store."""
    from lookout.store.retention import prune as prune_store

    store = open_store(resolve_store_url(store_url))
    result = prune_store(
        store, older_than_s=older_than, rollups_older_than_s=rollups_older_than, dry_run=dry_run
    )
    verb = "Would delete" if dry_run else "Deleted"
    console.print(
        f"{verb} {result.events:,} events, {result.minute_rollups:,} minute rollups and "
        f"{result.hour_rollups:,} hour rollups from {escape(store.safe_url)}"
        + (" (dry run: nothing was deleted)." if dry_run else ".")
    )


for _command in (demo, dashboard, watch, check, config, export, tests):
    main.add_command(_command)


def run() -> None:
    """Entry point with errors turned into one clear line and an exit code."""
    try:
        main(standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("Aborted.")
        sys.exit(EXIT_FAILED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_CONFIG)
    except (ConfigError, StoreConfigError) as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(EXIT_CONFIG)
    except Exception as exc:
        err_console.print(f"[red]error:[/red] {type(exc).__name__}: {escape(str(exc))}")
        sys.exit(EXIT_FAILED)

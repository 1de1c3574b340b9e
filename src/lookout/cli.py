"""The ``lookout`` command: demo, stats, prune, check, watch, tests."""

from __future__ import annotations

import sys
import time

import click
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from lookout import __version__
from lookout.cli_common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    check_store_exists,
    console,
    duration_option,
    err_console,
    open_store,
)
from lookout.config import ConfigError, load_settings, resolve_store_url
from lookout.settings_table import BY_NAME
from lookout.store.engine import StoreConfigError


def _announce_admin_password(url: str) -> None:
    """Make (or read) the store's admin password now, not at the first request: a process
    that creates it logs it once, at start, where whoever started the server looks."""
    from lookout.dashboard.auth import Authenticator
    from lookout.store.opening import open_store

    store = open_store(url)
    try:
        Authenticator(store)
    finally:
        store.close()


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
@click.option("--seconds", default=10.0, show_default=True, help="How long to drive traffic.")
@click.option("--customers", default=6, show_default=True, help="Concurrent simulated customers.")
@click.option("--port", default=5050, show_default=True, help="Port of the shop on 127.0.0.1.")
@click.option(
    "--serve/--no-serve",
    default=True,
    show_default=True,
    help="Keep serving the shop after the traffic, until Ctrl+C.",
)
@click.option(
    "--store",
    "store_url",
    default=None,
    help="Store URL (default: the configured one, sqlite:///lookout.db).",
)
@click.option(
    "--dataset",
    type=click.Choice(["7d"]),
    default=None,
    help="Instead of live traffic, write a week of a shop's history (lookout.demo_data).",
)
def demo(
    seconds: float,
    customers: int,
    port: int,
    serve: bool,
    store_url: str | None,
    dataset: str | None,
) -> None:
    """Run a monitored demo shop under traffic, then show what was recorded."""
    if dataset is not None:
        _demo_dataset(store_url or resolve_store_url(None), port, serve)
        return
    from lookout.demo import run_demo
    from lookout.render import summary_table
    from lookout.store.queries import summarize

    store = store_url or resolve_store_url(None)
    console.print(
        f"Recording into [bold]{escape(store)}[/bold]: shop 1.0, then a deploy of 1.1, "
        f"{customers} customers for {seconds:g}s"
    )
    started_ns = time.time_ns()
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[requests]} requests"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("shop 1.0", total=seconds, requests=0)

        def tick(elapsed: float, requests: int, version: str) -> None:
            progress.update(
                task, completed=elapsed, requests=requests, description=f"shop {version}"
            )

        try:
            server, lk, traffic = run_demo(
                store, seconds=seconds, customers=customers, port=port, on_tick=tick
            )
        except OSError as exc:
            raise click.ClickException(
                f"cannot serve on 127.0.0.1:{port}: {exc}; choose another with --port"
            ) from None
    lk.flush(30)
    stats = lk.stats()
    window = (time.time_ns() - started_ns) / 1e9 + 1
    assert lk.store is not None
    console.print(
        summary_table(summarize(lk.store, since_s=window), f"Recorded in the last {window:.0f}s")
    )
    sql = stats["sinks"]["sql"]
    statuses = ", ".join(f"{n} x {status}" for status, n in sorted(traffic.by_status.items()))
    console.print(
        f"{traffic.requests:,} requests ({statuses}). Shop 1.1 wrote {sql['written']:,} events, "
        f"{stats['dropped'] + sql['dropped']:,} dropped, {sql['failed']:,} failed.\n"
        "See them again with: "
        f"[bold]lookout stats --store {escape(lk.store.safe_url)} --since 10m[/bold]"
    )
    if serve:
        console.print(
            f"The shop keeps serving at [bold]http://127.0.0.1:{server.port}/[/bold] "
            "(try /products, /search?q=product-1, /export.csv); every request you make is "
            "recorded.\n"
            f"Dashboard: [bold]http://127.0.0.1:{server.port}/dashboard/[/bold]  "
            "log in as [bold]admin[/bold] / "
            f"[bold]{escape(str(server.dashboard_password))}[/bold]\n"
            "Press Ctrl+C to stop."
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.print("Stopping.")
    server.stop()
    lk.close()


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


def _demo_dataset(store: str, port: int, serve: bool) -> None:
    """``lookout demo --dataset 7d``: write the history, then serve the dashboard over it."""
    from lookout.demo_data import generate

    console.print(f"Writing seven days of the shop's history into [bold]{store}[/bold]")
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("hours", total=7 * 24)
        written = generate(
            store, progress=lambda done, total: progress.update(task, completed=done)
        )
    console.print(
        f"{written.events:,} events ({written.requests:,} requests) and {written.test_runs} "
        f"test runs in {written.seconds:.0f}s. "
        f"See them with: [bold]lookout dashboard --store {store}[/bold]"
    )
    if serve:
        import secrets

        from waitress import serve as waitress_serve

        from lookout.dashboard import create_app

        password = secrets.token_urlsafe(9)
        console.print(
            f"Dashboard: [bold]http://127.0.0.1:{port}/dashboard/[/bold]  log in as "
            f"[bold]admin[/bold] / [bold]{password}[/bold]. Press Ctrl+C to stop."
        )
        waitress_serve(create_app(store, admin_password=password), host="127.0.0.1", port=port)


@main.command()
@click.option("--store", "store_url", default=None, help="Store URL (default: the configured one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5001, show_default=True, help="Port to listen on.")
@click.option(
    "--admin-password",
    envvar=BY_NAME["dashboard_admin_password"].env,
    default=None,
    help="The admin's password (default: generated at first start and logged once).",
)
@click.option(
    "--guest-password",
    "guest_passwords",
    multiple=True,
    envvar=BY_NAME["dashboard_guest_passwords"].env,
    help="A read-only guest password (repeatable).",
)
@click.option("--no-auth", is_flag=True, help="No login at all: local development only.")
@click.option(
    "--secure-cookies", is_flag=True, help="Always mark cookies Secure (served behind HTTPS)."
)
@click.option(
    "--trusted-proxies",
    type=click.IntRange(min=0),
    default=0,
    help="Proxies in front whose X-Forwarded-For/-Proto to believe (default 0: none).",
)
@click.option("--create", is_flag=True, help="Start a new, empty SQLite store if none exists.")
def dashboard(
    store_url: str | None,
    host: str,
    port: int,
    admin_password: str | None,
    guest_passwords: tuple[str, ...],
    no_auth: bool,
    secure_cookies: bool,
    trusted_proxies: int,
    create: bool,
) -> None:
    """Serve the dashboard over a store (e.g. a central one many app instances write to)."""
    import logging

    from waitress import serve as waitress_serve

    from lookout.dashboard import create_app

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    url = check_store_exists(resolve_store_url(store_url), create=create)
    if no_auth and not _is_loopback(host):
        err_console.print(
            f"[yellow]warning:[/yellow] --no-auth on {escape(host)}: anyone who can reach this "
            "address can read every event and act as admin. Use it on 127.0.0.1 only, or "
            "put an authenticating proxy in front."
        )
    settings, _ = load_settings()
    watcher = None
    if settings.alerts:  # the process showing the store also watches it
        from lookout.watch import StoreWatcher

        watcher = StoreWatcher(url, settings)
    if not no_auth and admin_password is None:
        _announce_admin_password(url)
    app = create_app(
        url,
        admin_password=admin_password,
        guest_passwords=guest_passwords,
        auth=not no_auth,
        secure_cookies=secure_cookies,
        trusted_proxies=trusted_proxies,
        alerts=None if watcher is None else watcher.engine.describe,
    )
    console.print(f"Dashboard over {escape(url)}: [bold]http://{host}:{port}/dashboard/[/bold]")
    if watcher is not None:
        watcher.start(15.0)
        console.print(f"Evaluating {len(watcher.engine.rules)} alert rule(s) every 15s")
    try:
        waitress_serve(app, host=host, port=port, threads=8, _quiet=True)
    finally:
        if watcher is not None:
            watcher.stop()


@main.command()
@click.option("--store", "store_url", default=None, help="Store URL (default: the configured one).")
@click.option("--config", "config_file", default=None, help="A lookout.toml with alerts/notifiers.")
@click.option(
    "--interval",
    default="15s",
    show_default=True,
    callback=duration_option,
    help="How often to read new events and evaluate the rules.",
)
@click.option("--once", is_flag=True, help="Evaluate once and exit (e.g. from cron).")
def watch(store_url: str | None, config_file: str | None, interval: float, once: bool) -> None:
    """Evaluate the configured alert rules over a store's events, and send their messages.

    Run one watcher beside a central store: it sees every app instance's events, and it is
    the process that notices a supervised job that did not run (a missed heartbeat).
    """
    from lookout.watch import StoreWatcher

    settings, _ = load_settings(config_file=config_file)
    url = store_url or settings.store
    if url is None:
        raise ConfigError("no store is configured; pass --store URL")
    if not settings.notifiers:
        err_console.print("lookout watch: no notifiers configured; messages go nowhere")
    watcher = StoreWatcher(check_store_exists(url), settings, config_file)
    console.print(
        f"lookout watch: {len(watcher.engine.rules)} rule(s) over {escape(watcher.store.safe_url)}"
    )
    try:
        if once:
            for message in watcher.step()[1]:
                console.print(f"sent: {escape(message.subject)}")
        else:
            watcher.run(interval, lambda message: console.print(f"sent: {escape(message.subject)}"))
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()


from lookout.cli_config import check as _check_command  # noqa: E402  (after main exists)
from lookout.cli_config import config as _config_command  # noqa: E402
from lookout.cli_export import export as _export_command  # noqa: E402
from lookout.cli_tests import tests as _tests_group  # noqa: E402  (after main exists)

main.add_command(_tests_group)
main.add_command(_check_command)
main.add_command(_config_command)
main.add_command(_export_command)


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

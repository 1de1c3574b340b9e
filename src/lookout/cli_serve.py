"""The long-running commands over a store: ``lookout dashboard`` serves it, ``lookout watch``
evaluates the alert rules over its events."""

from __future__ import annotations

import click
from rich.markup import escape

from lookout.cli_common import check_store_exists, console, duration_option, err_console
from lookout.config import ConfigError, load_settings, resolve_store_url
from lookout.settings_table import BY_NAME


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


@click.command()
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


@click.command()
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

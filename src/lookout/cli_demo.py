"""``lookout demo``: a monitored demo shop under traffic (lookout.demo), or a week of a shop's
history written into a store (lookout.demo_data) with the dashboard served over it."""

from __future__ import annotations

import time

import click
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from lookout.cli_common import console
from lookout.config import resolve_store_url


@click.command()
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

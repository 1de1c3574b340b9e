"""``lookout tests``: compare recorded test runs (the CI gate) and submit kept runs.

    lookout tests compare main HEAD_SHA --fail-on-regression 20%
    lookout tests compare 1.4 1.5 --format markdown > comment.md
    lookout tests submit .lookout/test-runs/RUN.json --url https://host/dashboard --token T

Exit codes: 0 done, 1 a regression beyond the threshold (or a submission that failed), 2 a
usage or configuration error (no such run, no store).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from lookout.config import resolve_store_url

EXIT_REGRESSION = 1
EXIT_USAGE = 2


@click.group()
def tests() -> None:
    """Test-suite performance: compare runs, submit kept runs (docs/tests.md)."""


@tests.command()
@click.argument("base")
@click.argument("head")
@click.option("--store", "store_url", default=None, help="Store URL (default: the configured one).")
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
    help="markdown fits a pull-request comment.",
)
@click.option(
    "--fail-on-regression",
    "threshold_text",
    default=None,
    metavar="PCT",
    help="Exit 1 when a test got significantly slower by at least PCT (e.g. 20%).",
)
@click.option("--alpha", default=0.05, show_default=True, help="Significance level per test.")
@click.option(
    "--min-change",
    default="5%",
    show_default=True,
    help="Smallest change listed as slower or faster.",
)
def compare(
    base: str,
    head: str,
    store_url: str | None,
    output: str,
    threshold_text: str | None,
    alpha: float,
    min_change: str,
) -> None:
    """Which tests got slower or faster from BASE to HEAD.

    BASE and HEAD are each a version, a commit (or a prefix of 7+ characters), a branch (its
    latest run), run:ID, latest or latest:BRANCH. A version or commit pools the repeats of all
    its runs. Each test's p-value is from the Mann-Whitney U test over the repeats.
    """
    from lookout.store.opening import open_store
    from lookout.testruns import render
    from lookout.testruns.compare import (
        compare as compare_samples,
    )
    from lookout.testruns.compare import (
        parse_threshold,
        regressions,
        summary_line,
    )
    from lookout.testruns.records import durations_by_test, resolve

    try:
        threshold = None if threshold_text is None else parse_threshold(threshold_text)
        smallest = parse_threshold(min_change)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    store = open_store(resolve_store_url(store_url))
    try:
        try:
            base_ref, head_ref = resolve(store, base), resolve(store, head)
        except LookupError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        changes = compare_samples(
            durations_by_test(store, base_ref.run_ids),
            durations_by_test(store, head_ref.run_ids),
            alpha=alpha,
            min_change=smallest,
        )
    finally:
        store.close()
    slower = [] if threshold is None else regressions(changes, threshold)
    summary = summary_line(changes)
    if output == "json":
        click.echo(render.as_json(changes, base_ref.label, head_ref.label, slower, threshold))
    elif output == "markdown":
        click.echo(render.markdown(changes, base_ref.label, head_ref.label, summary), nl=False)
    else:
        click.echo(f"{head_ref.label} against {base_ref.label}: {summary or 'no tests'}")
        for line in render.table_lines(changes):
            click.echo(line)
    if slower:
        click.echo(
            f"FAILED: {len(slower)} test(s) significantly slower by {threshold:.0%} or more",
            err=True,
        )
        sys.exit(EXIT_REGRESSION)


@tests.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", default=None, help="Dashboard URL to POST to ($LOOKOUT_PYTEST_SUBMIT).")
@click.option("--token", default=None, help="Dashboard API token ($LOOKOUT_PYTEST_TOKEN).")
@click.option("--store", "store_url", default=None, help="Or write into this store directly.")
def submit(file: Path, url: str | None, token: str | None, store_url: str | None) -> None:
    """Send a test run that the pytest plugin kept in FILE (its submission had failed).

    The file is removed once the run is stored; sending one twice stores it once.
    """
    from lookout.testruns.document import read
    from lookout.testruns.submit import SubmitError
    from lookout.testruns.submit import submit as post

    url = url or os.environ.get("LOOKOUT_PYTEST_SUBMIT")
    token = token or os.environ.get("LOOKOUT_PYTEST_TOKEN")
    try:
        document = read(file)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    if url:
        try:
            answer = post(document, url, token)
        except SubmitError as exc:
            click.echo(f"error: {exc}; {file} is kept", err=True)
            sys.exit(EXIT_REGRESSION)
        where = f"run {answer.get('run_id')} on {url}"
        created = bool(answer.get("created", True))
    else:
        from lookout.store.opening import open_store
        from lookout.testruns.records import save_run

        store = open_store(resolve_store_url(store_url))
        try:
            run_id, created = save_run(store, document)
        finally:
            store.close()
        where = f"run {run_id} in {store.safe_url}"
    file.unlink()
    state = "stored as" if created else "was already stored as"
    click.echo(f"{len(document.results)} tests {state} {where}; removed {file}")

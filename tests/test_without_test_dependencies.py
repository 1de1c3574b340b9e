"""The README's first command installs ``.[flask]`` only, without pytest: the demo, the
dashboard and the CLI must run there. Each check runs in a fresh interpreter in which
importing pytest fails, as on such an install (the dashboard once imported the pytest
plugin's package for one constant, and ``lookout demo`` died at its first request)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

WITHOUT_PYTEST = textwrap.dedent(
    """
    import sys

    class NoTestDependencies:
        def find_spec(self, name, path=None, target=None):
            if name == "pytest" or name.startswith(("pytest.", "_pytest")):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoTestDependencies())
    for loaded in [m for m in sys.modules if m == "pytest" or m.startswith("_pytest")]:
        del sys.modules[loaded]
    """
)


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_PYTEST + textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_the_demo_runs_without_pytest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = _run(
        f"""
        from lookout.cli import run
        sys.argv = ["lookout", "demo", "--seconds", "2", "--no-serve", "--port", "0",
                    "--store", {url!r}]
        run()
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "pytest" not in result.stderr
    assert "checkout" in result.stdout


def test_every_dashboard_page_answers_without_pytest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'week.db'}"
    result = _run(
        f"""
        from lookout.demo_data import generate
        from lookout.dashboard import create_app
        generate({url!r}, days=1, requests_per_hour=40)
        client = create_app({url!r}, auth=False).test_client()
        for page in ("", "errors", "jobs", "tests", "metrics", "distributions", "reports",
                     "explorer", "system", "api/overview/tiles", "api/reports/distributions",
                     "api/tests/runs", "api/errors"):
            answer = client.get("/dashboard/" + page)
            assert answer.status_code == 200, (page, answer.status_code)
        print("every page answered")
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "every page answered" in result.stdout

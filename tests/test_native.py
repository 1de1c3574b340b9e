"""The compiled (mypyc) build and its pure-Python fallback: both must behave the same, and
users must be able to tell which one runs. CI runs the whole suite against each."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from lookout import Lookout
from lookout.flask import LookoutFlask
from lookout.native import COMPILED_MODULES, compiled_modules, summary

ROOT = Path(__file__).resolve().parents[1]


def test_setup_compiles_exactly_the_listed_modules() -> None:
    sources = runpy.run_path(str(ROOT / "setup.py"), run_name="not_main")["NATIVE_SOURCES"]
    assert sources == ["src/" + name.replace(".", "/") + ".py" for name in COMPILED_MODULES]
    assert all((ROOT / source).is_file() for source in sources)


def test_summary_says_which_build_runs() -> None:
    state = compiled_modules()
    assert set(state) == set(COMPILED_MODULES)
    line = summary()
    if all(state.values()):
        assert line == "compiled (mypyc)"
    elif not any(state.values()):
        assert line == "pure Python"
    else:
        assert line.startswith("partly compiled: ")


def test_version_names_the_build() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from lookout.cli import run; run()", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"(request path: {summary()})" in result.stdout


def test_an_application_can_subclass_the_extension(tmp_path: Path) -> None:
    """A compiled class refuses interpreted subclasses unless it allows them."""

    class TeamExtension(LookoutFlask):
        def init_app(self, app: Flask) -> None:
            app.config["TEAM"] = "checkout"
            super().init_app(app)

    app = Flask(__name__)
    app.add_url_rule("/", "index", lambda: "hi")
    lk = Lookout(store=f"sqlite:///{tmp_path / 'sub.db'}")
    try:
        TeamExtension(app, lk)
        assert app.test_client().get("/").headers["X-Request-ID"]
        assert app.config["TEAM"] == "checkout"
        assert lk.flush(10)
        assert lk.store is not None
        assert lk.recorder.stats()["processed"] == 1
    finally:
        lk.close()


@pytest.mark.timeout(600)  # ~30 s idle; mypyc's C generation takes minutes on a loaded machine
def test_without_a_c_compiler_an_install_falls_back_to_pure_python(tmp_path: Path) -> None:
    """The default build (LOOKOUT_NATIVE=auto) must still install where compiling fails: the
    wheel then carries the Python modules and no extension. A real build, its compiler made to
    fail (CC=false); about 30 s, most of it mypyc generating the C that is then not compiled."""
    import os
    import shutil
    import zipfile

    project = tmp_path / "project"
    shutil.copytree(
        ROOT / "src",
        project / "src",
        ignore=shutil.ignore_patterns("*.so", "__pycache__", "*.egg-info"),
    )
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, project / name)
    env = {**os.environ, "CC": "false", "LOOKOUT_NATIVE": "auto"}
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "dist"), "."],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("lookout-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [name for name in names if name.endswith(".so")]
    assert all(module.replace(".", "/") + ".py" in names for module in COMPILED_MODULES)

"""Builds Lookout with its per-request code compiled to C by mypyc, where that is possible.

The modules in ``lookout.native.COMPILED_MODULES`` run for every recorded request or stored
event. They are plain, fully typed Python; mypyc turns them into C extensions that do the same
thing without the interpreter's per-bytecode cost (about a third of Lookout's instructions per
Flask request, docs/native.md). The Python source stays the fallback: where no C compiler is
found, the build goes on without them and Lookout runs the same code, only slower.

``LOOKOUT_NATIVE`` chooses:

- ``auto`` (default): compile for a normal install or a wheel; not for an editable install
  (``pip install -e``), where edits to the source must take effect without a rebuild; a
  failed compilation falls back to pure Python with a warning.
- ``1``: compile, editable installs included (the extensions are then built next to the
  source: rebuild after editing those modules); a failure stops the build.
- ``0``: never compile.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
#: The modules to compile, as files: lookout/native.py lists them (run here on its own, as it
#: imports nothing but the standard library; the build environment has none of Lookout's
#: dependencies).
NATIVE_SOURCES = [
    "src/" + name.replace(".", "/") + ".py"
    for name in runpy.run_path(str(HERE / "src/lookout/native.py"))["COMPILED_MODULES"]
]


def _choice() -> str:
    value = os.environ.get("LOOKOUT_NATIVE", "auto").strip().lower()
    if value in ("1", "yes", "true", "on"):
        return "required"
    if value in ("0", "no", "false", "off"):
        return "off"
    if value != "auto":
        raise SystemExit(f"LOOKOUT_NATIVE must be auto, 1 or 0; got {value!r}")
    return "auto"


def _warn(message: str) -> None:
    print(f"lookout: {message}; installing the pure-Python modules", file=sys.stderr)


class OptionalBuildExt(build_ext):
    """In ``auto`` mode a failed compilation leaves the pure-Python modules in place."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # no compiler, missing headers...
            _warn(f"compiling the native modules failed ({exc})")
            for output in self.get_outputs():  # a partial set would not import
                Path(output).unlink(missing_ok=True)
            self.extensions = []


#: setup.py commands that build code; the others (egg_info, dist_info) only need metadata.
BUILD_COMMANDS = {"build", "build_ext", "bdist_wheel", "editable_wheel", "install", "develop"}


def native_extensions(choice: str) -> list[object]:
    if choice == "off" or not BUILD_COMMANDS.intersection(sys.argv):
        return []
    if choice == "auto" and ("editable_wheel" in sys.argv or "develop" in sys.argv):
        return []
    try:
        from mypyc.build import mypycify

        return list(
            mypycify(
                [
                    # The build environment has none of Lookout's dependencies: their types
                    # are Any here, which changes nothing at run time. Errors are mypy's job
                    # (mypy --strict src, in CI), not the compiler's: imported modules are
                    # analysed silently, and no cache is read from or left in the checkout.
                    "--ignore-missing-imports",
                    "--follow-imports=silent",
                    "--config-file=",
                    "--cache-dir=" + os.devnull,
                    *NATIVE_SOURCES,
                ],
                opt_level="3",
            )
        )
    except (Exception, SystemExit) as exc:  # mypy reports errors by exiting
        if choice == "required":
            raise
        _warn(f"mypyc could not prepare the native modules ({exc})")
        return []


if __name__ == "__main__":
    os.chdir(HERE)  # mypyc takes the paths above relative to here
    mode = _choice()
    setup(
        ext_modules=native_extensions(mode),
        cmdclass={"build_ext": OptionalBuildExt} if mode == "auto" else {},
    )

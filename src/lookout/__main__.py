"""``python -m lookout``: the ``lookout`` command, for environments without its script on PATH."""

from lookout.cli import run

if __name__ == "__main__":
    run()

"""Several processes writing one SQLite file at once (the gunicorn case)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import sqlalchemy as sa

WRITER = textwrap.dedent("""
    import json, sys
    from lookout import Lookout
    lk = Lookout(store=sys.argv[1], batch_size=200, batch_interval=0.005)
    work = lk.monitor(name=sys.argv[2])(lambda n: n)
    for n in range(int(sys.argv[3])):
        work(n)
    lk.flush(60)
    print(json.dumps(lk.stats()["sinks"]["sql"]))
    lk.close()
""")


def test_processes_share_one_sqlite_file_without_losses(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    per_process, processes = 20_000, 4
    children = [
        subprocess.Popen(
            [sys.executable, str(script), url, f"worker-{n % 2}", str(per_process)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(processes)
    ]
    outputs = [child.communicate(timeout=120) for child in children]
    for child, (out, err) in zip(children, outputs, strict=False):
        assert child.returncode == 0, err
        assert "database is locked" not in err
        assert '"failed": 0' in out and '"retried": 0' in out, out
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        total = connection.execute(sa.text("SELECT count(*) FROM lookout_events")).scalar()
        rolled = dict(
            connection.execute(
                sa.text(
                    "SELECT n.name, sum(r.count) FROM lookout_rollups_minute r "
                    "JOIN lookout_names n ON n.id = r.name_id GROUP BY n.name"
                )
            ).all()
        )
        name_rows = connection.execute(sa.text("SELECT count(*) FROM lookout_names")).scalar()
    engine.dispose()
    assert total == per_process * processes
    assert rolled == {"worker-0": 2 * per_process, "worker-1": 2 * per_process}
    assert name_rows == 2

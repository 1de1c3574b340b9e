"""A scheduled script under supervision: its run is recorded, a summary is sent when it
succeeds, and an uncaught error is sent with the log attached (gzipped) before the script
fails as it would have.

Run it (from cron, say ``0 3 * * * python /srv/jobs/cron_job.py``)::

    pip install lookout
    python examples/cron_job.py             # succeeds: one summary message
    python examples/cron_job.py --fail      # fails: the error and its log, exit code 1

Messages go to the console here; use ``SmtpNotifier``, ``SlackNotifier``, ``SendGridNotifier``
or ``WebhookNotifier`` (docs/notify.md) in production.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from lookout import Lookout
from lookout.notify.console import ConsoleNotifier

LOG = Path("nightly-import.log")
logging.basicConfig(filename=LOG, level=logging.INFO, format="%(asctime)s %(message)s")
log = logging.getLogger("import")


def import_rows(fail: bool) -> int:
    rows = 0
    for batch in range(3):
        log.info("batch %d imported", batch)
        rows += 100
    if fail:
        raise ConnectionError("the supplier's FTP server closed the connection")
    return rows


def main() -> None:
    lk = Lookout(notifiers=[ConsoleNotifier(sys.stdout)])
    # schedule: the missed_run alert rule (docs/alerts.md) notices when a run does not happen
    with lk.supervise(
        "nightly-import", log_path=LOG, logger=log, schedule="0 3 * * *", fields={"source": "ftp"}
    ) as run:
        rows = import_rows(fail="--fail" in sys.argv)
        run.summary(f"{rows} rows imported")


if __name__ == "__main__":
    main()

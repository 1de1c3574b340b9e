"""agrc supervisor's README example, moved to Lookout by changing the imports.

Run it::

    pip install lookout
    python examples/migrating/supervised_script.py           # a summary with the log attached
    python examples/migrating/supervised_script.py --fail    # the uncaught error, sent

Messages go to the console, and by e-mail when ``SMTP_HOST`` is set (``SMTP_PORT``, default
25; ``MAIL_TO``): the README's ``SendGridHandler`` takes the same place with its settings. The
log is written to ``LOG_PATH`` (default ``./my_project.log``) and attached gzipped.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
from logging.handlers import RotatingFileHandler

# before: from supervisor.message_handlers import ConsoleHandler, SendGridHandler
#         from supervisor.models import MessageDetails, Supervisor
from lookout.compat.supervisor import ConsoleHandler, EmailHandler, MessageDetails, Supervisor

LOG_PATH = os.environ.get("LOG_PATH", "my_project.log")

my_logger = logging.getLogger("my_project")
my_logger.setLevel(logging.INFO)
log_handler = RotatingFileHandler(LOG_PATH, backupCount=10)
my_logger.addHandler(log_handler)

supervisor = Supervisor(handle_errors=True, logger=my_logger, log_path=LOG_PATH)
if os.environ.get("SMTP_HOST"):
    email_settings = {
        "smtpServer": os.environ["SMTP_HOST"],
        "smtpPort": int(os.environ.get("SMTP_PORT", "25")),
        "from_address": "me@example.org",
        "to_addresses": os.environ.get("MAIL_TO", "you@example.org"),
        "prefix": "[my_project] ",
    }
    supervisor.add_message_handler(
        EmailHandler(email_settings, project_name="my_project", project_version="1.5.0")
    )
supervisor.add_message_handler(ConsoleHandler())


def do_things() -> str:
    """Stands in for my_project.do_things(): logs its progress, and fails when asked."""
    for step in ("download", "transform", "upload"):
        my_logger.info("%s done", step)
    if "--fail" in sys.argv:
        raise ValueError("the upload server refused the file")
    return "3 steps done"


#: Do your stuff here...
outcome = do_things()

summary_message = MessageDetails()
summary_message.subject = "my_project Update Summary"
summary_message.message = "\n".join(
    [f"my_project run at {datetime.datetime.now()}", f"Outcome: {outcome}"]
)
summary_message.attachments = LOG_PATH

supervisor.notify(summary_message)

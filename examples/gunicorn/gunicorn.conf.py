"""gunicorn settings for a Lookout-monitored app: nothing Lookout-specific is needed.

    pip install 'lookout[flask]' gunicorn
    cd examples && gunicorn -c gunicorn/gunicorn.conf.py flask_app:app

Each worker records through its own background threads into the same store (SQLite in WAL
mode takes several writing processes; use PostgreSQL for several hosts, see
examples/central_store). ``preload_app`` is safe: Lookout starts its threads after the fork,
and ``max_requests`` recycling loses nothing (a worker flushes before it exits).
"""

import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WORKERS", "2"))
preload_app = True
max_requests = 1000
max_requests_jitter = 100
# A worker has this long to finish its requests and write what it recorded.
graceful_timeout = 10

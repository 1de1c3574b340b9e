#!/usr/bin/env bash
# Two app processes and one dashboard on one PostgreSQL store, on this machine.
# Usage: examples/central_store/run.sh postgresql://postgres@127.0.0.1:5432/test
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
export LOOKOUT_STORE="${1:?a PostgreSQL URL}"
cd "$here"
PORT=5101 SHOP_VERSION=1.0 python flask_app.py & first=$!
PORT=5102 SHOP_VERSION=1.1 python flask_app.py & second=$!
trap 'kill $first $second 2>/dev/null || true' EXIT
for port in 5101 5102; do
  for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/products" >/dev/null && break; sleep 0.2; done
  for _ in $(seq 1 20); do curl -fsS -H "X-User: alice" "http://127.0.0.1:$port/products" >/dev/null; done
done
echo "Both instances recorded; the dashboard shows both versions:"
exec lookout dashboard --port 5001

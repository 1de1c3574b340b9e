"""flask-cloudwatch-metric's README example, moved to Lookout by changing one import.

Run it::

    pip install 'lookout[flask,cloudwatch]'
    python examples/migrating/cloudwatch_app.py       # http://127.0.0.1:5000/

It publishes to the CloudWatch of boto3's usual configuration (credentials, region). To try it
without AWS, run a CloudWatch-compatible server on your machine and point boto3 at it::

    pip install 'moto[server]' && moto_server -p 5001 &
    AWS_ENDPOINT_URL=http://127.0.0.1:5001 AWS_DEFAULT_REGION=eu-west-1 \\
      AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x python examples/migrating/cloudwatch_app.py

Each request's metrics are buffered in the request, as the original did, and published by a
background worker as statistic sets (one datum per metric and minute), not in the request.
"""

from __future__ import annotations

import os

from flask import Flask

# before: from flask_cloudwatch_metric import CloudWatchMetricsReporter
from lookout.compat.cloudwatch import CloudWatchMetricsReporter, fault_failure_error

app = Flask(__name__)
metrics_reporter = CloudWatchMetricsReporter(app)


@app.route("/")
def main() -> tuple[str, int]:
    response = "Hello from a monitored app"  # ... Your application logic
    metrics_reporter.add_metric(metric_name="RequestCount", value=1, unit="Count", dimensions=[])
    return response, 200


@app.route("/fragile")
@fault_failure_error(metrics_reporter, "fragile")  # Failure, Error (4xx) and Fault (5xx) metrics
def fragile() -> tuple[str, int]:
    return "not today", 503


if __name__ == "__main__":
    app.run(port=int(os.environ.get("PORT", "5000")))

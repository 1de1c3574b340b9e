"""Test-suite performance: the runs the pytest plugin records, where they go, and what changed.

- :mod:`.identity`: which code a run tested (git, CI variables, Python, platform).
- :mod:`.document`: one run as a JSON document, the form every destination receives.
- :mod:`.records`: storing runs in the SQL store and reading them back.
- :mod:`.submit`: sending a run to a dashboard's API, with a file kept when that fails.
- :mod:`.stats` and :mod:`.compare`: which tests got significantly slower or faster.
"""

#: The names Lookout 0.1's pytest plugin gave its ``call`` events (``test:<node id>``): pages
#: leave them out (test runs have tables of their own now). Here, not in the plugin, so that
#: the dashboard imports without pytest installed.
TEST_PREFIX = "test:"

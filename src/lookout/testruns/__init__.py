"""Test-suite performance: the runs the pytest plugin records, where they go, and what changed.

- :mod:`.identity`: which code a run tested (git, CI variables, Python, platform).
- :mod:`.document`: one run as a JSON document, the form every destination receives.
- :mod:`.records`: storing runs in the SQL store and reading them back.
- :mod:`.submit`: sending a run to a dashboard's API, with a file kept when that fails.
- :mod:`.stats` and :mod:`.compare`: which tests got significantly slower or faster.
"""

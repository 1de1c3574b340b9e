"""Which code a test run tested: git commit, branch and dirty flag, CI run, Python, platform.

The repository is asked first (it knows about uncommitted changes); CI variables fill in what
it cannot say, such as the branch of a detached checkout (how most CI systems check out), and
always give the CI run's id and URL. Nothing here raises: a value that cannot be found is ''.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

GIT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class RunIdentity:
    """What a run tested and where it ran."""

    version: str = ""
    commit: str = ""
    branch: str = ""
    dirty: bool = False
    ci_provider: str = ""
    ci_run_id: str = ""
    ci_url: str = ""
    python: str = ""
    platform: str = ""
    host: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def from_git(root: Path) -> tuple[str, str, bool | None]:
    """(commit, branch, dirty) of the repository holding ``root``; ('', '', None) outside one.

    A detached HEAD has no branch (''). Dirty means tracked files differ from the commit;
    untracked files (build output, caches) do not count.
    """
    commit = _git(root, "rev-parse", "HEAD")
    if not commit:
        return "", "", None
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD") or ""
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return commit, "" if branch == "HEAD" else branch, bool(status)


def _get(env: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = env.get(name)
        if value:
            return value
    return ""


def _strip_ref(ref: str) -> str:
    for prefix in ("refs/heads/", "origin/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def from_ci(env: Mapping[str, str]) -> dict[str, str]:
    """The commit, branch, run id and URL that a known CI system sets, or {} outside CI.

    Pull-request builds name the source branch (the one being changed), not the target.
    """
    if env.get("GITHUB_ACTIONS") == "true":
        run_id = _get(env, "GITHUB_RUN_ID")
        server = _get(env, "GITHUB_SERVER_URL") or "https://github.com"
        repository = _get(env, "GITHUB_REPOSITORY")
        url = f"{server}/{repository}/actions/runs/{run_id}" if repository and run_id else ""
        return {
            "ci_provider": "github",
            "commit": _get(env, "GITHUB_SHA"),
            "branch": _get(env, "GITHUB_HEAD_REF", "GITHUB_REF_NAME"),
            "ci_run_id": run_id,
            "ci_url": url,
        }
    if env.get("GITLAB_CI"):
        return {
            "ci_provider": "gitlab",
            "commit": _get(env, "CI_COMMIT_SHA"),
            "branch": _get(
                env, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_BRANCH", "CI_COMMIT_REF_NAME"
            ),
            "ci_run_id": _get(env, "CI_PIPELINE_ID", "CI_JOB_ID"),
            "ci_url": _get(env, "CI_PIPELINE_URL", "CI_JOB_URL"),
        }
    if env.get("TRAVIS") == "true":
        return {
            "ci_provider": "travis",
            "commit": _get(env, "TRAVIS_COMMIT"),
            "branch": _get(env, "TRAVIS_PULL_REQUEST_BRANCH", "TRAVIS_BRANCH"),
            "ci_run_id": _get(env, "TRAVIS_BUILD_ID", "TRAVIS_BUILD_NUMBER"),
            "ci_url": _get(env, "TRAVIS_BUILD_WEB_URL", "TRAVIS_JOB_WEB_URL"),
        }
    if env.get("CIRCLECI") == "true":
        return {
            "ci_provider": "circleci",
            "commit": _get(env, "CIRCLE_SHA1"),
            "branch": _get(env, "CIRCLE_BRANCH"),
            "ci_run_id": _get(env, "CIRCLE_WORKFLOW_ID", "CIRCLE_BUILD_NUM"),
            "ci_url": _get(env, "CIRCLE_BUILD_URL"),
        }
    if env.get("BUILDKITE") == "true":
        return {
            "ci_provider": "buildkite",
            "commit": _get(env, "BUILDKITE_COMMIT"),
            "branch": _get(env, "BUILDKITE_BRANCH"),
            "ci_run_id": _get(env, "BUILDKITE_BUILD_ID", "BUILDKITE_BUILD_NUMBER"),
            "ci_url": _get(env, "BUILDKITE_BUILD_URL"),
        }
    if env.get("JENKINS_URL"):
        return {
            "ci_provider": "jenkins",
            "commit": _get(env, "GIT_COMMIT"),
            "branch": _strip_ref(_get(env, "CHANGE_BRANCH", "BRANCH_NAME", "GIT_BRANCH")),
            "ci_run_id": _get(env, "BUILD_TAG", "BUILD_NUMBER"),
            "ci_url": _get(env, "BUILD_URL"),
        }
    return {}


def detect(
    root: Path, *, version: str | None = None, env: Mapping[str, str] | None = None
) -> RunIdentity:
    """The identity of a run of the tests under ``root``.

    Args:
        root: a folder inside the repository under test (pytest's rootdir).
        version: the version under test; by default ``$LOOKOUT_APP_VERSION``, else the first
            12 characters of the commit, so that runs always group by the code they tested.
        env: the environment to read CI variables from (``os.environ`` by default).
    """
    env = os.environ if env is None else env
    commit, branch, dirty = from_git(root)
    ci = from_ci(env)
    commit = commit or ci.get("commit", "")
    branch = branch or ci.get("branch", "")
    chosen = version or env.get("LOOKOUT_APP_VERSION") or commit[:12]
    return RunIdentity(
        version=chosen[:64],
        commit=commit[:64],
        branch=branch[:255],
        dirty=bool(dirty),
        ci_provider=ci.get("ci_provider", ""),
        ci_run_id=ci.get("ci_run_id", "")[:128],
        ci_url=ci.get("ci_url", ""),
        python=platform.python_version(),
        platform=f"{platform.system()}-{platform.machine()} {sys.implementation.name}"[:255],
        host=socket.gethostname()[:255],
    )

"""A run's identity: from the repository first, CI variables for the rest."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lookout.testruns.identity import detect, from_ci

CI_ENVIRONMENTS = {
    "github": (
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_SHA": "a" * 40,
            "GITHUB_REF_NAME": "12/merge",
            "GITHUB_HEAD_REF": "feature",
            "GITHUB_RUN_ID": "991",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "acme/shop",
        },
        ("a" * 40, "feature", "991", "https://github.com/acme/shop/actions/runs/991"),
    ),
    "gitlab": (
        {
            "GITLAB_CI": "true",
            "CI_COMMIT_SHA": "b" * 40,
            "CI_COMMIT_REF_NAME": "main",
            "CI_PIPELINE_ID": "77",
            "CI_PIPELINE_URL": "https://gitlab.example/acme/shop/-/pipelines/77",
        },
        ("b" * 40, "main", "77", "https://gitlab.example/acme/shop/-/pipelines/77"),
    ),
    "travis": (
        {
            "TRAVIS": "true",
            "TRAVIS_COMMIT": "c" * 40,
            "TRAVIS_BRANCH": "main",
            "TRAVIS_PULL_REQUEST_BRANCH": "fix",
            "TRAVIS_BUILD_ID": "5",
            "TRAVIS_BUILD_WEB_URL": "https://travis.example/b/5",
        },
        ("c" * 40, "fix", "5", "https://travis.example/b/5"),
    ),
    "circleci": (
        {
            "CIRCLECI": "true",
            "CIRCLE_SHA1": "d" * 40,
            "CIRCLE_BRANCH": "dev",
            "CIRCLE_WORKFLOW_ID": "wf-1",
            "CIRCLE_BUILD_URL": "https://circleci.example/gh/acme/shop/3",
        },
        ("d" * 40, "dev", "wf-1", "https://circleci.example/gh/acme/shop/3"),
    ),
    "jenkins": (
        {
            "JENKINS_URL": "https://jenkins.example/",
            "GIT_COMMIT": "e" * 40,
            "GIT_BRANCH": "origin/release",
            "BUILD_TAG": "jenkins-shop-8",
            "BUILD_URL": "https://jenkins.example/job/shop/8/",
        },
        ("e" * 40, "release", "jenkins-shop-8", "https://jenkins.example/job/shop/8/"),
    ),
    "buildkite": (
        {
            "BUILDKITE": "true",
            "BUILDKITE_COMMIT": "f" * 40,
            "BUILDKITE_BRANCH": "main",
            "BUILDKITE_BUILD_ID": "bk-9",
            "BUILDKITE_BUILD_URL": "https://buildkite.com/acme/shop/builds/9",
        },
        ("f" * 40, "main", "bk-9", "https://buildkite.com/acme/shop/builds/9"),
    ),
}


@pytest.mark.parametrize("provider", sorted(CI_ENVIRONMENTS))
def test_each_ci_system_is_read(provider: str) -> None:
    env, (commit, branch, run_id, url) = CI_ENVIRONMENTS[provider]
    found = from_ci(env)
    assert found == {
        "ci_provider": provider,
        "commit": commit,
        "branch": branch,
        "ci_run_id": run_id,
        "ci_url": url,
    }


def test_outside_ci_and_git_only_python_and_platform_are_known(tmp_path: Path) -> None:
    identity = detect(tmp_path, env={})
    assert (identity.commit, identity.branch, identity.ci_provider, identity.version) == (
        "",
        "",
        "",
        "",
    )
    assert identity.python.count(".") == 2 and identity.platform and identity.host


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", *args],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_the_repository_comes_first_and_ci_fills_in_a_detached_branch(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q", "-b", "trunk")
    (tmp_path / "a.txt").write_text("1")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "one")
    sha = _git(tmp_path, "rev-parse", "HEAD")
    github = CI_ENVIRONMENTS["github"][0]
    identity = detect(tmp_path, env=github)
    assert (identity.commit, identity.branch, identity.dirty) == (sha, "trunk", False)
    assert identity.version == sha[:12] and identity.ci_run_id == "991"
    (tmp_path / "a.txt").write_text("2")
    assert detect(tmp_path, env={}).dirty is True
    _git(tmp_path, "checkout", "-q", "--detach")
    detached = detect(tmp_path, env=github, version="1.4")
    assert (detached.branch, detached.version) == ("feature", "1.4")
    assert detect(tmp_path, env={"LOOKOUT_APP_VERSION": "2.0"}).version == "2.0"

"""Where an Application's git write-back goes: repository, checkout branch, source path.

One home for the rule, shared by the webhook's review (a warning at ``kubectl apply``) and
the git writer (which refuses what cannot work): the repository is ``git-repository``, else
the written source's ``repoURL``; the checkout branch is the base part of ``git-branch``,
else the source's ``targetRevision``; empty or ``HEAD`` means the remote's default branch
(upstream §11.1). An Application that tracks a commit cannot receive a commit on top of it,
and one that tracks a tag would not see the commit at all — both are said out loud.
"""

from __future__ import annotations

__all__ = ["GitLocation", "git_location", "revision_warning"]

import re
from dataclasses import dataclass

from imageupdater.application import ApplicationSource
from imageupdater.policy import WriteBackConfig

_COMMIT_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_SHORT_SHA = re.compile(r"[0-9a-f]{7,39}")
_VERSION_TAG = re.compile(r"v?[0-9]+(\.[0-9]+){1,3}([-+][0-9A-Za-z.+-]*)?")


@dataclass(frozen=True, slots=True)
class GitLocation:
    """``checkout`` None: the remote's default branch, looked up when there is a write."""

    repository: str
    checkout: str | None
    source_path: str
    problem: str | None = None  # set when nothing can be written here


def git_location(block: ApplicationSource, write_back: WriteBackConfig) -> GitLocation:
    """Where the source block ``block`` (the one image overrides go to) is written back."""
    repository = write_back.repository or _text(block.get("repoURL"))
    path = _text(block.get("path"))
    revision = _text(block.get("targetRevision")).strip()
    base = write_back.base_branch
    checkout = base if base else (None if revision in ("", "HEAD") else revision)
    problem = None
    if not repository:
        problem = "the source names no repoURL and git-repository is not set"
    elif base is None and _COMMIT_SHA.fullmatch(revision):
        problem = (
            f"the source tracks commit {revision[:12]}, which cannot receive a git update; "
            "set git-branch to the branch to commit to"
        )
    return GitLocation(repository, checkout, path, problem)


def revision_warning(block: ApplicationSource, write_back: WriteBackConfig) -> str | None:
    """What the webhook and ``lint`` say about a revision git write-back cannot follow."""
    location = git_location(block, write_back)
    if location.problem is not None:
        return location.problem
    if write_back.base_branch is not None or location.checkout is None:
        return None
    revision = location.checkout
    if _SHORT_SHA.fullmatch(revision):
        return (
            f"targetRevision {revision!r} looks like a commit, which cannot receive a git "
            "update; set git-branch to the branch to commit to"
        )
    if _VERSION_TAG.fullmatch(revision):
        return (
            f"targetRevision {revision!r} looks like a tag: commits to a branch would not "
            "change what Argo CD deploys; track a branch, or set git-branch"
        )
    return None


def _text(value: object) -> str:
    # The webhook reviews objects as submitted: a field of the wrong type reads as unset.
    return value if isinstance(value, str) else ""

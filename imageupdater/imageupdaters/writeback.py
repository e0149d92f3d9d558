"""``writeBackConfig``: reading one block, inheriting spec → applicationRef, building the
``WriteBackConfig`` an Application's updates are written with.

Owns the block's shape (``method``, ``gitConfig.repository|branch|writeBackTarget|
pullRequest``), upstream's merge (the applicationRef's ``method`` and each git field
override the spec's one by one; its ``pullRequest`` replaces the spec's wholesale; there is
no image-level write-back), the CRD's CEL rule for ``pullRequest`` (exactly one provider),
and the warning for git settings that cannot take effect because the method is ``argocd``.
Each value is judged by the annotation parser's own write-back checks
(``annotations.writeback.parse_write_back``, with the field path as the key), so a CR and
its annotations are held to the same rules, in the same words.
"""

from __future__ import annotations

__all__ = [
    "PullRequest",
    "WriteBackSettings",
    "build_write_back",
    "inherit_write_back",
    "parse_write_back_settings",
]

from dataclasses import dataclass
from typing import Literal

from imageupdater.annotations.report import Collector
from imageupdater.annotations.writeback import parse_write_back
from imageupdater.imageupdaters import fields as f
from imageupdater.imageupdaters.fields import Setting
from imageupdater.policy import WriteBackConfig, WriteBackMethod, WriteBackTarget, split_branch

_MAX_LABEL_LENGTH = 255  # upstream's CRD bounds for pullRequest.labels
_MAX_LABELS = 100
_PR_MESSAGE = "Exactly one of github or gitlab must be set"
# (annotation suffix parse_write_back reads, gitConfig field)
_GIT_FIELDS = (
    ("git-repository", "repository"),
    ("git-branch", "branch"),
    ("write-back-target", "writeBackTarget"),
)

Provider = Literal["github", "gitlab"]


@dataclass(frozen=True, slots=True)
class PullRequest:
    provider: Provider
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WriteBackSettings:
    """One block, or the result of inheriting; a field is None when not set. ``method`` holds
    the method and its git credentials form (``repocreds``, ``secret:...``)."""

    method: Setting[tuple[WriteBackMethod, str | None]] | None = None
    repository: Setting[str] | None = None
    branch: Setting[str] | None = None
    target: Setting[str] | None = None
    pull_request: Setting[PullRequest] | None = None


def parse_write_back_settings(
    out: Collector, path: str, value: object, secret_namespace: str | None
) -> WriteBackSettings:
    """Read a block (absent → nothing set); refused values are left unset, with problems."""
    if value is None:
        return WriteBackSettings()
    raw = f.obj(out, path, value, ("method", "gitConfig"))
    if raw is None:
        return WriteBackSettings()
    method = None
    if raw.get("method") is not None:
        where = f.at(path, "method")
        text = f.string(out, where, raw["method"])
        parsed = None
        if text is not None:
            parsed = parse_write_back(out, {"write-back-method": (where, text)}, secret_namespace)
        if parsed is not None:
            method = Setting((parsed.method, parsed.git_credentials), where)
    if raw.get("gitConfig") is None:
        return WriteBackSettings(method=method)
    git_path = f.at(path, "gitConfig")
    git = f.obj(
        out, git_path, raw["gitConfig"], ("repository", "branch", "writeBackTarget", "pullRequest")
    )
    if git is None:
        return WriteBackSettings(method=method)
    read: dict[str, Setting[str] | None] = {}
    for suffix, name in _GIT_FIELDS:
        where = f.at(git_path, name)
        text = None if git.get(name) is None else f.string(out, where, git[name])
        read[name] = None
        if text is None:
            continue
        # The method given here only selects the checks; the block's own is read above.
        checked = parse_write_back(
            out, {"write-back-method": ("", "git"), suffix: (where, text)}, secret_namespace
        )
        if checked is not None:
            read[name] = Setting(text, where)
    pull_request = None
    if git.get("pullRequest") is not None:
        pull_request = _pull_request(out, f.at(git_path, "pullRequest"), git["pullRequest"])
    return WriteBackSettings(
        method=method,
        repository=read["repository"],
        branch=read["branch"],
        target=read["writeBackTarget"],
        pull_request=pull_request,
    )


def _pull_request(out: Collector, path: str, value: object) -> Setting[PullRequest] | None:
    raw = f.obj(out, path, value, ("github", "gitlab", "labels"))
    if raw is None:
        return None
    present = [name for name in ("github", "gitlab") if raw.get(name) is not None]
    if len(present) != 1:
        found = " and ".join(present) or "neither"
        out.error(path, f"{_PR_MESSAGE} (found {found}), e.g. 'pullRequest: {{github: {{}}}}'")
    errors = out.error_count
    for name in present:
        f.obj(out, f.at(path, name), raw[name], ())
    labels: list[str] = []
    if raw.get("labels") is not None:
        items = f.string_list(out, f.at(path, "labels"), raw["labels"], max_items=_MAX_LABELS)
        for item in items or ():
            if not item.value or len(item.value) > _MAX_LABEL_LENGTH:
                out.error(item.path, f"a label is 1 to {_MAX_LABEL_LENGTH} characters long")
            elif item.value.strip() and item.value.strip() not in labels:
                # Upstream trims labels and drops blank and repeated ones.
                labels.append(item.value.strip())
    if len(present) != 1 or out.error_count > errors:
        return None
    provider: Provider = "github" if present[0] == "github" else "gitlab"
    return Setting(PullRequest(provider, tuple(labels)), path)


def inherit_write_back(base: WriteBackSettings, own: WriteBackSettings) -> WriteBackSettings:
    """``own`` over ``base``: each field by itself; ``pullRequest`` as one whole."""
    return WriteBackSettings(
        method=own.method or base.method,
        repository=own.repository or base.repository,
        branch=own.branch or base.branch,
        target=own.target or base.target,
        pull_request=own.pull_request or base.pull_request,
    )


def build_write_back(
    out: Collector, merged: WriteBackSettings, secret_namespace: str | None
) -> WriteBackConfig:
    """The write-back of every Application an applicationRef selects."""
    method, credentials = merged.method.value if merged.method else ("argocd", None)
    git_settings = [merged.repository, merged.branch, merged.target, merged.pull_request]
    if method == "argocd":
        where = f" (set by {merged.method.path})" if merged.method else " (the default)"
        for setting in git_settings:
            if setting is not None:
                out.warn(
                    setting.path,
                    f"has no effect: the write-back method is 'argocd'{where}, which patches "
                    "the Application; set writeBackConfig.method to 'git' to use it",
                )
    pull_request = merged.pull_request
    if method == "git" and pull_request is not None and merged.branch is not None:
        branch = merged.branch
        if split_branch(branch.value)[1] is not None:
            # The annotation parser's rule and words: a pull request's head is our own branch.
            parse_write_back(
                out,
                {
                    "write-back-method": ("", "git"),
                    "git-branch": (branch.path, branch.value),
                    "git-pull-request": (pull_request.path, pull_request.value.provider),
                },
                secret_namespace,
            )
    return WriteBackConfig(
        method=method,
        git_credentials=credentials,
        branch=None if merged.branch is None else merged.branch.value,
        repository=None if merged.repository is None else merged.repository.value,
        target=WriteBackTarget.parse(None if merged.target is None else merged.target.value),
        pull_request=None if pull_request is None else pull_request.value.provider,
        pull_request_labels=() if pull_request is None else pull_request.value.labels,
    )

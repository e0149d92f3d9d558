"""Parsing the write-back annotations: method, git branch, repository, target, pull requests.

Upstream skips an Application with an unknown method only at reconcile time and treats any
unrecognised target as a file name; here each value is checked when it is applied, and a
git setting that cannot take effect (the method is ``argocd``) is a warning.
"""

from __future__ import annotations

__all__ = ["parse_write_back"]

import difflib
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import re2

from imageupdater.annotations.report import Collector, quote
from imageupdater.policy import (
    KUSTOMIZATION_FILES,
    WriteBackConfig,
    WriteBackMethod,
    WriteBackTarget,
    colons_outside_templates,
    split_branch,
    template_spans,
)
from imageupdater.problems import Severity

_Problem = tuple[Severity, str]
_Check = Callable[[str], "_Problem | None"]

_METHOD_FORMS = (
    "expected argocd, git, git:repocreds, git:secret:<namespace>/<name> or git:secret:<name>"
)
_BRANCH_FORMS = "expected 'branch', 'base:target' or ':target' (the target may be a template)"
_REPOSITORY_FORMS = (
    "expected a git URL such as 'https://github.com/org/repo.git' or 'git@github.com:org/repo.git'"
)
_TARGET_FORMS = "expected kustomization[:<dir>], helmvalues[:<file>] or a file path"
_TARGET_KINDS = ("kustomization", "helmvalues")  # for "did you mean" only
_GIT_KEYS = (
    "git-branch",
    "git-repository",
    "write-back-target",
    "git-pull-request",
    "git-pull-request-labels",
)
_PR_PROVIDERS = ("github", "gitlab")
_MAX_LABELS = 100  # upstream's CRD bound
_MAX_LABEL_LENGTH = 255

_DNS_LABEL = re2.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re2.compile(
    r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*"
)
_MAX_SUBDOMAIN = 253
# git check-ref-format: characters never allowed in a ref name.
_REF_FORBIDDEN = re2.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{")
_SCP_LIKE = re2.compile(r"(?:[A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+:[^\s]+")
_URL_SCHEMES = frozenset({"https", "http", "ssh", "git", "git+ssh", "ssh+git", "file"})


def parse_write_back(
    out: Collector, values: Mapping[str, tuple[str, str]], namespace: str | None
) -> WriteBackConfig | None:
    """Build the write-back config from ``{suffix: (key, stripped value)}``; None on error."""
    errors = out.error_count
    method: WriteBackMethod = "argocd"
    credentials: str | None = None
    if "write-back-method" in values:
        key, value = values["write-back-method"]
        parsed = _parse_method(out, key, value, namespace)
        if parsed is not None:
            method, credentials = parsed
    if method == "argocd":
        for suffix in _GIT_KEYS:
            if suffix in values:
                out.warn(
                    values[suffix][0],
                    "has no effect: write-back-method is 'argocd' (the default), which "
                    "patches the Application; set write-back-method to 'git' to use it",
                )
    branch = _checked(out, values, "git-branch", _check_branch)
    repository = _checked(out, values, "git-repository", _check_repository)
    target = _checked(out, values, "write-back-target", _check_target)
    provider = _checked(out, values, "git-pull-request", _check_provider)
    labels = _checked(out, values, "git-pull-request-labels", _check_labels)
    if labels is not None and provider is None and "git-pull-request" not in values:
        out.warn(
            values["git-pull-request-labels"][0],
            "has no effect without git-pull-request (github or gitlab)",
        )
    if provider is not None and branch is not None and split_branch(branch)[1] is not None:
        # Upstream's rule: the pull request's head branch is the updater's own.
        out.error(
            values["git-branch"][0],
            f"pull request mode does not support colon branch format: {quote(branch)}; "
            "name only the base branch the pull request targets, e.g. 'main'",
        )
    if out.error_count > errors:
        return None
    return WriteBackConfig(
        method=method,
        git_credentials=credentials,
        branch=branch,
        repository=repository,
        target=WriteBackTarget.parse(target),
        pull_request="gitlab" if provider == "gitlab" else "github" if provider else None,
        pull_request_labels=_split_labels(labels) if labels else (),
    )


def _check_provider(value: str) -> _Problem | None:
    if value in _PR_PROVIDERS:
        return None
    return "error", f"unknown pull request provider {quote(value)}; expected github or gitlab"


def _split_labels(value: str) -> tuple[str, ...]:
    return tuple(label.strip() for label in value.split(",") if label.strip())


def _check_labels(value: str) -> _Problem | None:
    labels = _split_labels(value)
    if not labels:
        return "error", f"{quote(value)} names no label; expected a comma-separated list"
    if len(labels) > _MAX_LABELS:
        return "error", f"{len(labels)} labels given; at most {_MAX_LABELS} are allowed"
    for label in labels:
        if len(label) > _MAX_LABEL_LENGTH:
            return "error", f"label {quote(label[:40])}… is longer than {_MAX_LABEL_LENGTH}"
    return None


def _checked(
    out: Collector,
    values: Mapping[str, tuple[str, str]],
    suffix: str,
    check: _Check,
) -> str | None:
    if suffix not in values:
        return None
    key, value = values[suffix]
    problem = check(value)
    if problem is None:
        return value
    severity, message = problem
    if severity == "warning":
        out.warn(key, message)
        return value
    out.error(key, message)
    return None


def _parse_method(
    out: Collector, key: str, value: str, namespace: str | None
) -> tuple[WriteBackMethod, str | None] | None:
    if value == "argocd":
        return "argocd", None
    if value in ("git", "git:repocreds"):
        return "git", "repocreds"
    if not value.startswith("git:secret:"):
        out.error(key, f"unknown write-back method {quote(value)}; {_METHOD_FORMS}")
        return None
    ref = value.removeprefix("git:secret:")
    secret_namespace, slash, name = ref.rpartition("/")
    if slash and not _DNS_LABEL.fullmatch(secret_namespace):
        out.error(
            key,
            f"invalid namespace {quote(secret_namespace)} in {quote(value)}: a namespace is "
            f"1-63 lower-case letters, digits and inner '-'; {_METHOD_FORMS}",
        )
        return None
    if len(name) > _MAX_SUBDOMAIN or not _DNS_SUBDOMAIN.fullmatch(name):
        out.error(
            key,
            f"invalid secret name {quote(name)} in {quote(value)}: a secret name is lower-case "
            f"letters, digits, '-' and '.'; {_METHOD_FORMS}",
        )
        return None
    if slash and namespace is not None and secret_namespace != namespace:
        out.error(
            key,
            f"git credentials {quote(value)} read a secret in namespace '{secret_namespace}', "
            f"but an Application may only use secrets of its own namespace '{namespace}'",
        )
        return None
    return "git", value.removeprefix("git:")


def _check_branch(value: str) -> _Problem | None:
    spans = template_spans(value)
    if any(value.find("}}", start) == -1 for start, _end in spans):
        return (
            "error",
            f"{quote(value)} opens a template with '{{{{' that is never closed with '}}}}'",
        )
    if len(colons_outside_templates(value)) > 1:
        return "error", f"{quote(value)} has more than one ':' outside a template; {_BRANCH_FORMS}"
    base, target = split_branch(value)
    if "{{" in base:
        return "error", (
            f"{quote(value)} has a template in the base branch; only the target "
            f"(after ':') may be a template; {_BRANCH_FORMS}"
        )
    if target is not None and not target:
        return "error", f"{quote(value)} has nothing after ':'; {_BRANCH_FORMS}"
    for part in (base, target or ""):
        reason = _ref_problem(part)
        if reason is not None:
            return "error", f"{quote(value)} is not a valid branch name: {reason}; {_BRANCH_FORMS}"
    return None


def _ref_problem(part: str) -> str | None:
    spans = template_spans(part)
    literals: list[str] = []
    pos = 0
    for start, end in spans:
        literals.append(part[pos:start])
        pos = end
    literals.append(part[pos:])
    for literal in literals:
        found = _REF_FORBIDDEN.search(literal)
        if found is not None:
            return f"it contains {found.group(0)!r}"
    if (
        not spans
        and part
        and (part.startswith(("-", "/")) or part.endswith(("/", ".", ".lock")) or "//" in part)
    ):
        return "it starts with '-' or '/', ends with '/', '.' or '.lock', or contains '//'"
    return None


def _check_repository(value: str) -> _Problem | None:
    if any(char.isspace() for char in value):
        return "error", f"{quote(value)} contains whitespace; {_REPOSITORY_FORMS}"
    if "://" not in value:
        if _SCP_LIKE.fullmatch(value):
            return None
        return "error", f"{quote(value)} is not a git URL; {_REPOSITORY_FORMS}"
    try:
        parts = urlsplit(value)
    except ValueError:
        return "error", f"{quote(_redact(value))} is not a valid URL; {_REPOSITORY_FORMS}"
    if parts.scheme.lower() not in _URL_SCHEMES:
        return "error", (
            f"{quote(_redact(value))} has the unsupported scheme '{parts.scheme}'; "
            f"{_REPOSITORY_FORMS}"
        )
    userinfo, at, _host = parts.netloc.rpartition("@")
    # A token in an https URL (https://<token>@host) is as secret as a password.
    if at and (":" in userinfo or parts.scheme.lower() in ("http", "https")):
        return "error", (
            f"{quote(_redact(value))} embeds credentials in the URL (not shown); use "
            "write-back-method git:secret:<name> or Argo CD repository credentials instead"
        )
    if parts.scheme.lower() != "file" and not parts.hostname:
        return "error", f"{quote(value)} has no host; {_REPOSITORY_FORMS}"
    return None


def _redact(value: str) -> str:
    scheme, sep, rest = value.partition("://")
    if not sep:
        return value
    authority_end = len(rest)
    for stop in "/?#":
        index = rest.find(stop)
        if index != -1:
            authority_end = min(authority_end, index)
    authority = rest[:authority_end]
    if "@" not in authority:
        return value
    return f"{scheme}://***@{authority.rpartition('@')[2]}{rest[authority_end:]}"


def _check_target(value: str) -> _Problem | None:
    target = WriteBackTarget.parse(value)
    if target.kind != "override":
        return None
    head, colon, _rest = value.partition(":")
    if colon:
        # Read as a file path, but written as ``<kind>:<path>`` with a kind we do not know.
        return (
            "error",
            f"unknown write-back target kind {quote(head)} in {quote(value)}; {_TARGET_FORMS}",
        )
    if value.rstrip("/").rpartition("/")[2] in KUSTOMIZATION_FILES:
        return "error", (
            f"{quote(value)} would be overwritten as a parameter override file; to edit a "
            "kustomization write 'kustomization' or 'kustomization:<dir>'"
        )
    if "/" not in value and "." not in value:
        close = difflib.get_close_matches(value.lower(), _TARGET_KINDS, n=1, cutoff=0.7)
        if close:
            return "warning", (
                f"{quote(value)} is used as the name of a parameter override file; "
                f"did you mean '{close[0]}'? ({_TARGET_FORMS})"
            )
    return None

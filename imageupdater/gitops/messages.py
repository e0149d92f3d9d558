"""Commit messages, branch names and pull-request text for git write-back (upstream §11.4,
§11.6), rendered with the safe template renderer.

* the commit message of one Application: upstream's default template or the operator's,
  with ``.AppName`` and ``.AppChanges`` (``.Image`` is the image path without its registry,
  ``.OldTag``/``.NewTag`` the digest when the version has one, else the tag; ``.Labels``);
  a template that fails while rendering gives upstream's fallback line, and the caller is
  told why;
* the message of a commit that carries several Applications (beyond upstream: one commit
  per repository and branch): a summary line, then each Application's own message;
* branch names: the target part of ``git-branch`` rendered with ``.Images``, ``.SHA256``
  (over ``<name>-<old>-<new>,`` per change), ``.TargetKey`` (8 hex of SHA-256 over
  ``<repo>|<branch>|<target>``), ``.AppName``, ``.AppNamespace``; at most 255 characters;
  upstream's pull-request head ``image-updater-<TargetKey>-<SHA256>``, or the stable
  ``image-updater-<TargetKey>`` updated in place;
* pull-request title and body: the message's first line and the rest, with upstream's
  defaults and limits.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_COMMIT_TEMPLATE",
    "MAX_BRANCH",
    "CommitChange",
    "RenderedMessage",
    "change_set_sha256",
    "combined_commit_message",
    "commit_message",
    "load_commit_template",
    "pull_request_branch",
    "pull_request_text",
    "render_branch",
    "sample_changes",
    "stable_pull_request_branch",
    "target_key",
]

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from imageupdater.errors import InvalidInput, TemplateError
from imageupdater.gitops.template import Record, Template

DEFAULT_COMMIT_TEMPLATE = """build: automatic update of {{ .AppName }}

{{ range .AppChanges -}}
updates image {{ .Image }} tag '{{ .OldTag }}' to '{{ .NewTag }}'
{{ end -}}
"""
MAX_BRANCH = 255
MAX_TITLE = 255
MAX_BODY = 65536
PULL_REQUEST_TEMPLATE = "image-updater-{{.TargetKey}}-{{.SHA256}}"


@dataclass(frozen=True, slots=True)
class CommitChange:
    """One image's change as templates see it."""

    image: str  # the image path without registry
    old_tag: str
    new_tag: str
    alias: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    text: str
    problem: str | None = None  # the template failed; ``text`` is upstream's fallback


def load_commit_template(path: Path | None, *, explicit: bool) -> Template:
    """The commit template at ``path``; upstream's default when ``path`` is None, or when it
    does not exist and was not asked for explicitly (upstream's default path is optional).
    A template that does not parse is an error naming the file, line and column."""
    if path is None:
        return Template.parse(DEFAULT_COMMIT_TEMPLATE, name="commit-message")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise InvalidInput(f"commit message template {path} does not exist") from None
        return Template.parse(DEFAULT_COMMIT_TEMPLATE, name="commit-message")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read commit message template {path}: {exc}") from None
    try:
        return Template.parse(text, name=str(path))
    except TemplateError as exc:
        raise TemplateError(
            f"commit message template {path}: {exc}", line=exc.line, column=exc.column
        ) from None


def _changes_data(changes: Sequence[CommitChange]) -> list[object]:
    return [
        Record(
            "commitMessageChange",
            {"Image": c.image, "OldTag": c.old_tag, "NewTag": c.new_tag, "Labels": dict(c.labels)},
        )
        for c in changes
    ]


def commit_message(
    template: Template, app_name: str, changes: Sequence[CommitChange]
) -> RenderedMessage:
    try:
        text = template.render(
            Record(
                "commitMessageTemplate",
                {"AppName": app_name, "AppChanges": _changes_data(changes)},
            )
        )
    except TemplateError as exc:
        return RenderedMessage(f"build: update of application {app_name}", str(exc))
    return RenderedMessage(text)


def combined_commit_message(messages: Sequence[tuple[str, str]]) -> str:
    """One commit for several Applications: ``(app name, its message)`` each, in order."""
    if len(messages) == 1:
        return messages[0][1]
    names = ", ".join(name for name, _ in messages[:3])
    more = f" and {len(messages) - 3} more" if len(messages) > 3 else ""
    lines = [f"build: automatic update of {len(messages)} applications ({names}{more})", ""]
    for _name, text in messages:
        lines.append(text.rstrip("\n"))
        lines.append("")
    return "\n".join(lines)


def change_set_sha256(changes: Sequence[CommitChange]) -> str:
    digest = hashlib.sha256()
    for c in changes:
        digest.update(f"{c.image}-{c.old_tag}-{c.new_tag},".encode())
    return digest.hexdigest()


def target_key(repository: str, branch: str, target: str) -> str:
    """Upstream's TargetKey: ``branch`` is ``git-branch``'s base as written ("" when unset),
    ``target`` the override file (or helm values file) path."""
    return hashlib.sha256(f"{repository}|{branch}|{target}".encode()).hexdigest()[:8]


def render_branch(
    template: str,
    *,
    changes: Sequence[CommitChange],
    app_name: str = "",
    app_namespace: str = "",
    key: str = "",
) -> str:
    """A branch name from ``template``; an error when it does not render or renders empty."""
    parsed = Template.parse(template, name="branch")
    data = Record(
        "branchNameTemplate",
        {
            "AppName": app_name,
            "AppNamespace": app_namespace,
            "TargetKey": key,
            "SHA256": change_set_sha256(changes),
            "Images": [
                Record(
                    "imageChange",
                    {"Name": c.image, "Alias": c.alias, "OldTag": c.old_tag, "NewTag": c.new_tag},
                )
                for c in changes
            ],
        },
    )
    name = parsed.render(data)[:MAX_BRANCH]
    if not name.strip():
        raise TemplateError(f"branch template {template!r} renders an empty branch name")
    return name


def pull_request_branch(key: str, changes: Sequence[CommitChange]) -> str:
    """Upstream's head branch: one per (target, change set)."""
    return render_branch(PULL_REQUEST_TEMPLATE, changes=changes, key=key)


def stable_pull_request_branch(key: str) -> str:
    """One head branch per target, updated in place: one open pull request per target."""
    return f"image-updater-{key}"


def pull_request_text(message: str, *, namespace: str, app_name: str) -> tuple[str, str]:
    """(title, body) from a commit message, with upstream's defaults and limits."""
    first, _, rest = message.strip("\n").partition("\n")
    title = first.strip() or f"chore: update images for {namespace}/{app_name}"
    body = rest.strip("\n") or (
        "This pull request was created automatically by argocd-image-updater for "
        f"application {namespace}/{app_name}."
    )
    return title[:MAX_TITLE], body[:MAX_BODY]


def sample_changes() -> list[CommitChange]:
    """What ``image-updater template`` renders (upstream §18.4)."""
    return [
        CommitChange("example/example", "1.0.0", "1.0.1"),
        CommitChange(
            "example/updater",
            "sha256:01d09d19c2139a46aebfb577780d123d7396e97201bc7ead210a2ebff8239dee",
            "sha256:7aa7a5359173d05b63cfd682e3c38487f3cb4f7f1d60659fe59fab1505977d4c",
        ),
    ]

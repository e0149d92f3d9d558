"""The ``git`` write-back method: a cycle's changes as commits to the GitOps repositories.

A batch writer: it is handed every planned git change of a cycle at once and groups them
by (repository, checkout branch, push branch, credentials). Each group is one working
state of one branch: the branch tip is listed (``ls-remote``), fetched one commit deep
only if it moved, every Application's edit of the group is applied to the files as the
tip holds them, and the result goes out as one commit (or one per Application with
``--git-commit-per-application``) in one push. Groups run in parallel under a bound; a
failing group holds back only its own Applications.

A push rejected because the branch moved (another writer, a human) starts the group over
on the new tip, re-applying the same edits to the files as they now are, with jittered
backoff and a bounded number of attempts; nothing is ever force-pushed. Branches the
updater owns (``base:target`` targets, pull-request heads) are pushed with a lease on the
tip the commit was built on, so a human's commit there is built upon, never dropped.

After a push the change is remembered until Argo CD reports it running (or
``pending_ttl`` passes), so the next cycles do not fetch or commit it again while the
Application still shows the old image.
"""

from __future__ import annotations

__all__ = ["GitWriter", "PendingWrites", "git_auth"]

import asyncio
import difflib
import logging
import random
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TextIO

from imageupdater.application import app_key
from imageupdater.errors import (
    CredentialError,
    GitError,
    GitPushRejected,
    InvalidInput,
    SCMError,
)
from imageupdater.git.auth import GitAuth
from imageupdater.git.repos import GitRepositories, Identity, Repository, Signing, TreeEntry
from imageupdater.gitcreds import GitCredentials
from imageupdater.gitops.location import git_location
from imageupdater.gitops.messages import (
    CommitChange,
    combined_commit_message,
    commit_message,
    pull_request_branch,
    pull_request_text,
    render_branch,
    stable_pull_request_branch,
    target_key,
)
from imageupdater.gitops.paths import key_target, resolve_target
from imageupdater.gitops.template import Template
from imageupdater.policy import KUSTOMIZATION_FILES
from imageupdater.scm import PullRequest, PullRequests
from reconciler.metrics import GitMetrics
from reconciler.work import Commit
from reconciler.writeback import Outcome, Planned, Skipped, WriteContext, WriteFailed, Written

if TYPE_CHECKING:
    from imageupdater.gitops.edits import AppEdit

log = logging.getLogger(__name__)

PUSH_ATTEMPTS = 5
_BACKOFF_BASE = 0.2
_BACKOFF_CAP = 5.0

# (credentials reference, Application namespace, project, repository) -> credentials
CredentialLookup = Callable[[str, str, str, str], Awaitable[GitCredentials]]
# (provider, repository URL, token) -> the provider's pull-request client
PullRequestClients = Callable[[str, str, str], PullRequests]
TokenMinter = Callable[[GitCredentials], Awaitable[str]]


def git_auth(creds: GitCredentials, *, known_hosts: str = "", token: str | None = None) -> GitAuth:
    """What a git process needs from the credentials found for a repository; ``token`` is
    the installation token minted for GitHub App credentials."""
    username, password = creds.username, creds.password
    if creds.is_github_app:
        username, password = "x-access-token", token
    return GitAuth(
        username=username,
        password=password,
        ssh_private_key=creds.ssh_private_key,
        tls_client_cert=creds.tls_client_cert,
        tls_client_key=creds.tls_client_key,
        known_hosts=known_hosts,
        insecure=creds.insecure,
        proxy=creds.proxy,
    )


@dataclass(frozen=True, slots=True)
class CommitSettings:
    author: Identity
    template: Template
    signing: Signing | None = None
    sign_off: bool = False
    per_application: bool = False
    pull_request_branches: Literal["stable", "per-change"] = "stable"


class PendingWrites:
    """Changes pushed but not yet running: (Application, push branch) -> what was written."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._written: dict[tuple[str, str, str], tuple[frozenset[str], float]] = {}

    def covers(self, key: tuple[str, str, str], versions: frozenset[str]) -> bool:
        found = self._written.get(key)
        if found is None:
            return False
        if self.clock() >= found[1]:
            del self._written[key]
            return False
        return found[0] == versions

    def remember(self, key: tuple[str, str, str], versions: frozenset[str]) -> None:
        self._written[key] = (versions, self.clock() + self.ttl)


@dataclass(slots=True)
class _AppWrite:
    change: Planned
    edit: AppEdit
    repository: str
    checkout: str | None  # None: the remote's default branch
    push: str | None  # None: the checkout branch
    owned: bool  # the push branch is the updater's own (base:target or pull request)
    credentials: str
    provider: str | None
    key: str  # upstream's TargetKey
    changes: list[CommitChange]
    versions: frozenset[str]
    name: str
    namespace: str
    notes: list[str] = field(default_factory=list)

    @property
    def app(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def pending_key(self) -> tuple[str, str, str]:
        # The branch as configured (not as resolved: "" is the remote's default), so the
        # check before any network call and the record after the push name the same key.
        return (self.app, self.repository, self.push or self.checkout or "")

    def group(self) -> tuple[str, str | None, str | None, str, str | None]:
        return (self.repository, self.checkout, self.push, self.credentials, self.provider)


@dataclass(slots=True)
class _GroupResult:
    outcomes: dict[int, Outcome] = field(default_factory=dict)


class _Refused(Exception):
    """One Application's edit cannot be applied; ``public`` is for its owner."""

    def __init__(self, public: str) -> None:
        self.public = public
        super().__init__(public)


class GitWriter:
    """Records planned changes as commits; see the module docstring."""

    streaming = False
    previews = True

    def __init__(
        self,
        repos: GitRepositories,
        *,
        credentials: CredentialLookup,
        settings: CommitSettings,
        known_hosts: Callable[[], Awaitable[str]],
        argocd_namespace: str | None,
        metrics: GitMetrics | None = None,
        pull_requests: PullRequestClients | None = None,
        app_token: TokenMinter | None = None,
        parallel: int = 4,
        push_attempts: int = PUSH_ATTEMPTS,
        pending: PendingWrites | None = None,
        preview_out: TextIO | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.repos = repos
        self.credentials = credentials
        self.settings = settings
        self.known_hosts = known_hosts
        self.argocd_namespace = argocd_namespace
        self.metrics = metrics
        self.pull_requests = pull_requests
        self.app_token = app_token
        self.parallel = max(1, parallel)
        self.push_attempts = max(1, push_attempts)
        self.pending = pending if pending is not None else PendingWrites(1800.0)
        self.preview_out = preview_out
        self.sleep = sleep
        self._open_pull_requests: dict[str, str] = {}  # target key -> URL

    # ---- the Writer protocol ----

    async def write(self, changes: Sequence[Planned], context: WriteContext) -> list[Outcome]:
        outcomes: dict[int, Outcome] = {}
        groups: dict[
            tuple[str, str | None, str | None, str, str | None], list[tuple[int, _AppWrite]]
        ] = {}
        for index, change in enumerate(changes):
            prepared = self._prepare(change)
            if isinstance(prepared, WriteFailed):
                outcomes[index] = prepared
                continue
            if self.pending.covers(prepared.pending_key(), prepared.versions):
                log.debug("%s: already committed, waiting for Argo CD to sync it", prepared.app)
                outcomes[index] = Skipped(change.work, "unchanged", change.plan)
                continue
            groups.setdefault(prepared.group(), []).append((index, prepared))
        bound = asyncio.Semaphore(self.parallel)

        async def run(members: list[tuple[int, _AppWrite]]) -> None:
            async with bound:
                outcomes.update(await self._write_group(members, dry_run=False))

        await asyncio.gather(*(run(members) for members in groups.values()))
        return [outcomes[index] for index in range(len(changes))]

    async def preview(self, changes: Sequence[Skipped]) -> None:
        groups: dict[
            tuple[str, str | None, str | None, str, str | None], list[tuple[int, _AppWrite]]
        ] = {}
        for index, skipped in enumerate(changes):
            if skipped.plan is None:
                continue
            prepared = self._prepare(Planned(skipped.work, skipped.plan))
            if isinstance(prepared, WriteFailed):
                log.warning("dry run: %s", prepared.reason)
                continue
            groups.setdefault(prepared.group(), []).append((index, prepared))
        for members in groups.values():
            await self._write_group(members, dry_run=True)

    # ---- preparing one Application's write (no I/O) ----

    def _prepare(self, change: Planned) -> _AppWrite | WriteFailed:
        work, plan = change.work, change.plan
        meta = work.app.get("metadata", {})
        name, namespace = str(meta.get("name", "")), str(meta.get("namespace", ""))
        write_back = work.config.write_back
        location = git_location(plan.old_source, write_back)
        if location.problem is not None:
            return _failed(change, location.problem)
        try:
            target = resolve_target(
                write_back.target,
                source_path=location.source_path,
                app_name=name,
                app_namespace=namespace,
                argocd_namespace=self.argocd_namespace,
            )
        except InvalidInput as exc:
            return _failed(change, str(exc))
        # The file editors (ruamel.yaml) load with the first git change, not with every
        # start of `run`.
        from imageupdater.gitops.edits import app_edit, commit_changes

        edit = app_edit(target, plan, work.config.images)
        changes = commit_changes(plan)
        base_as_written = write_back.base_branch or ""
        key = target_key(
            location.repository,
            base_as_written,
            key_target(
                target,
                source_path=location.source_path,
                app_name=name,
                app_namespace=namespace,
                argocd_namespace=self.argocd_namespace,
            ),
        )
        push: str | None = None
        owned = False
        try:
            if write_back.pull_request is not None:
                owned = True
                push = (
                    stable_pull_request_branch(key)
                    if self.settings.pull_request_branches == "stable"
                    else pull_request_branch(key, changes)
                )
            elif write_back.target_branch:
                owned = True
                # Upstream renders a non-PR target template without app name, namespace or
                # target key (they read as ""); we give them their values.
                push = render_branch(
                    write_back.target_branch,
                    changes=changes,
                    app_name=name,
                    app_namespace=namespace,
                    key=key,
                )
        except InvalidInput as exc:
            return _failed(change, f"git-branch: {exc}")
        versions = frozenset(f"{c.image}={c.new}" for c in plan.changes)
        return _AppWrite(
            change=change,
            edit=edit,
            repository=location.repository,
            checkout=location.checkout,
            push=push,
            owned=owned,
            credentials=write_back.git_credentials or "repocreds",
            provider=write_back.pull_request,
            key=key,
            changes=changes,
            versions=versions,
            name=name,
            namespace=namespace,
        )

    # ---- one group: one branch of one repository ----

    async def _write_group(
        self, members: list[tuple[int, _AppWrite]], *, dry_run: bool
    ) -> dict[int, Outcome]:
        first = members[0][1]
        shown = first.repository
        try:
            creds = await self.credentials(
                first.credentials,
                first.namespace,
                str(first.change.work.app.get("spec", {}).get("project", "") or "default"),
                first.repository,
            )
            auth = await self._auth(creds)
        except (CredentialError, InvalidInput, SCMError) as exc:
            return self._all_failed(members, f"git credentials for {shown}: {exc}")
        for note in creds.notes:
            log.info("git credentials for %s: %s", shown, note)
        if creds.insecure:
            log.warning(
                "git credentials for %s (%s) are insecure: TLS verification / host key "
                "checking is off",
                shown,
                creds.source,
            )
        repo = self.repos.repository(first.repository)
        for attempt in range(1, self.push_attempts + 1):
            try:
                return await self._attempt(repo, auth, members, dry_run=dry_run)
            except GitPushRejected as exc:
                if not exc.non_fast_forward or attempt == self.push_attempts:
                    if self.metrics is not None:
                        self.metrics.pushes.labels("rejected").inc()
                    return self._all_failed(members, str(exc), public=True)
                if self.metrics is not None:
                    self.metrics.conflicts.inc()
                    self.metrics.push_retries.inc()
                delay = min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** (attempt - 1))
                delay *= random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not security
                log.info(
                    "push to %s was rejected because the branch moved; re-applying on the "
                    "new tip in %.2f s (attempt %d of %d)",
                    shown,
                    delay,
                    attempt + 1,
                    self.push_attempts,
                )
                await self.sleep(delay)
            except GitError as exc:
                if self.metrics is not None and not dry_run:
                    self.metrics.pushes.labels("error").inc()
                return self._all_failed(members, str(exc), public=True)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _auth(self, creds: GitCredentials) -> GitAuth:
        token = None
        if creds.is_github_app:
            if self.app_token is None:
                raise CredentialError("GitHub App credentials need the GitHub API")
            token = await self.app_token(creds)
        known = await self.known_hosts() if creds.is_ssh else ""
        return git_auth(creds, known_hosts=known, token=token)

    async def _attempt(
        self,
        repo: Repository,
        auth: GitAuth,
        members: list[tuple[int, _AppWrite]],
        *,
        dry_run: bool,
    ) -> dict[int, Outcome]:
        first = members[0][1]
        wanted = [b for b in (first.checkout, first.push) if b]
        tips = await repo.tips(auth, wanted)
        checkout = first.checkout or tips.default_branch
        push = first.push or checkout
        if checkout is None or push is None:
            raise GitError(
                f"{repo.display} has no default branch; set git-branch", repository=repo.display
            )
        base_tip = tips.tips.get(checkout) if first.checkout else tips.head
        if base_tip is None:
            raise GitError(
                f"branch {checkout!r} does not exist in {repo.display}",
                repository=repo.display,
            )
        push_tip = tips.tips.get(push) if push != checkout else base_tip
        parent = push_tip or base_tip
        needed = {checkout: base_tip}
        if push_tip is not None and push != checkout:
            needed[push] = push_tip
        await repo.fetch(auth, needed)
        outcomes: dict[int, Outcome] = {}
        applied = await self._apply(repo, parent, members, outcomes)
        if not applied.changed_apps:
            for index, item in members:
                if index not in outcomes:
                    self.pending.remember(item.pending_key(), item.versions)
                    outcomes[index] = Skipped(item.change.work, "unchanged", item.change.plan)
            return outcomes
        if dry_run:
            self._print_diff(repo.display, push, applied)
            return outcomes
        sha = await self._commit(repo, parent, applied)
        lease = (push_tip or "") if first.owned else None
        await repo.push(auth, sha, push, lease=lease)
        if self.metrics is not None:
            self.metrics.pushes.labels("ok").inc()
        log.info(
            "pushed %s to branch %s of %s for %d application(s)",
            sha[:12],
            push,
            repo.display,
            len(applied.changed_apps),
        )
        pull_request = None
        if first.provider is not None:
            pull_request = await self._pull_request(first, auth, push, checkout, applied)
        commit = Commit(sha, push, repo.display, pull_request.url if pull_request else None)
        for index, item in members:
            if index in outcomes:
                continue
            self.pending.remember(item.pending_key(), item.versions)
            if index in applied.changed_apps:
                outcomes[index] = Written(item.change.work, item.change.plan, commit)
            else:
                outcomes[index] = Skipped(item.change.work, "unchanged", item.change.plan)
        return outcomes

    async def _apply(
        self,
        repo: Repository,
        parent: str,
        members: list[tuple[int, _AppWrite]],
        outcomes: dict[int, Outcome],
    ) -> _Applied:
        """Every member's edit on the files at ``parent``; refusals go to ``outcomes``."""
        candidates: list[str] = []
        for _, item in members:
            candidates.extend(_prefixes(item.edit.path))
            if item.edit.kind == "kustomization":
                candidates.extend(_join(item.edit.path, f) for f in KUSTOMIZATION_FILES)
        entries = await repo.entries(parent, candidates)
        blobs = await repo.read(
            [e.sha for p, e in entries.items() if e.kind == "blob" and not e.is_symlink]
        )
        original: dict[str, str | None] = {}
        modes: dict[str, str] = {}
        current: dict[str, str | None] = {}
        applied = _Applied(original=original, current=current, modes=modes)
        for index, item in members:
            try:
                path = _file_for(item.edit, entries, repo.display)
                if path not in current:
                    entry = entries.get(path)
                    text = None
                    if entry is not None:
                        text = _decode(blobs[entry.sha], path, repo.display)
                        modes[path] = entry.mode
                    original[path] = current[path] = text
                before = current[path]
                new, note = item.edit.apply(before, where=f"{path} in {repo.display}")
            except (_Refused, InvalidInput) as exc:
                public = exc.public if isinstance(exc, _Refused) else str(exc)
                outcomes[index] = _failed(item.change, public)
                continue
            if note is not None:
                log.warning("%s: %s", item.app, note)
            if new != before:
                current[path] = new
                applied.changed_apps[index] = path
                applied.steps.append((item, path, new))
        return applied

    async def _commit(self, repo: Repository, parent: str, applied: _Applied) -> str:
        template = self.settings.template
        messages: list[tuple[str, str]] = []
        per_app: dict[str, str] = {}
        for item, _path, _new in applied.steps:
            if item.app in per_app:
                continue
            rendered = commit_message(template, item.name, item.changes)
            if rendered.problem is not None:
                log.error(
                    "could not render the commit message template for %s: %s",
                    item.app,
                    rendered.problem,
                )
            per_app[item.app] = rendered.text
            messages.append((item.name, rendered.text))
        sha = parent
        if self.settings.per_application:
            files: dict[str, tuple[str, bytes]] = {}
            for item, path, new in applied.steps:
                files[path] = (applied.modes.get(path, "100644"), new.encode())
                made = await repo.commit(
                    sha,
                    dict(files),
                    message=self._finish(per_app[item.app]),
                    author=self.settings.author,
                    signing=self.settings.signing,
                )
                if made is not None:
                    sha = made
                    self._count_commit()
        else:
            files = {
                path: (applied.modes.get(path, "100644"), (text or "").encode())
                for path, text in applied.current.items()
                if text != applied.original.get(path)
            }
            made = await repo.commit(
                sha,
                files,
                message=self._finish(combined_commit_message(messages)),
                author=self.settings.author,
                signing=self.settings.signing,
            )
            if made is not None:
                sha = made
                self._count_commit()
        return sha

    def _count_commit(self) -> None:
        if self.metrics is not None:
            self.metrics.commits.inc()

    def _finish(self, message: str) -> str:
        text = message if message.strip() else "Update parameters"
        if self.settings.sign_off:
            author = self.settings.author
            trailer = f"Signed-off-by: {author.name} <{author.email}>"
            if trailer not in text:
                text = text.rstrip("\n") + "\n\n" + trailer + "\n"
        return text

    def _print_diff(self, repository: str, branch: str, applied: _Applied) -> None:
        out = self.preview_out if self.preview_out is not None else sys.stdout
        for path, text in applied.current.items():
            before = applied.original.get(path)
            if text == before:
                continue
            diff = difflib.unified_diff(
                (before or "").splitlines(keepends=True),
                (text or "").splitlines(keepends=True),
                fromfile=f"a/{path}" if before is not None else "/dev/null",
                tofile=f"b/{path}",
            )
            out.write(f"# dry run: would commit to branch {branch} of {repository}\n")
            out.writelines(diff)
        out.flush()

    async def _pull_request(
        self,
        first: _AppWrite,
        auth: GitAuth,
        head: str,
        base: str,
        applied: _Applied,
    ) -> PullRequest | None:
        assert first.provider is not None
        if self.pull_requests is None or auth.password is None:
            raise GitError(
                "pull requests need HTTPS token credentials (a password, token or GitHub App)",
                repository=first.repository,
            )
        client = self.pull_requests(first.provider, first.repository, auth.password)
        rendered = commit_message(self.settings.template, first.name, first.changes)
        title, body = pull_request_text(
            rendered.text, namespace=first.namespace, app_name=first.name
        )
        labels = first.change.work.config.write_back.pull_request_labels
        try:
            existing = await client.find_open(head=head, base=base)
            if existing is not None:
                pr = await client.update(existing, title=title, body=body)
            else:
                pr = await client.create(
                    head=head, base=base, title=title, body=body, labels=labels
                )
            prefix = f"image-updater-{first.key}"
            for other in await client.list_open(head_prefix=prefix, base=base):
                if other.head != pr.head:
                    await client.close(
                        other, comment=f"Superseded by {pr.url}, opened by argocd-image-updater."
                    )
        except SCMError as exc:
            raise GitError(
                f"pushed to {head}, but the pull request could not be opened: {exc}",
                repository=first.repository,
            ) from None
        self._open_pull_requests[first.key] = pr.url
        if self.metrics is not None:
            self.metrics.pull_requests_open.set(len(self._open_pull_requests))
        return pr

    def _all_failed(
        self, members: list[tuple[int, _AppWrite]], reason: str, *, public: bool = True
    ) -> dict[int, Outcome]:
        return {
            index: WriteFailed(
                item.change.work, reason, rejected=True, public=reason if public else None
            )
            for index, item in members
        }


@dataclass(slots=True)
class _Applied:
    original: dict[str, str | None]
    current: dict[str, str | None]
    modes: dict[str, str]
    changed_apps: dict[int, str] = field(default_factory=dict)
    steps: list[tuple[_AppWrite, str, str]] = field(default_factory=list)


def _failed(change: Planned, public: str) -> WriteFailed:
    key = app_key(change.work.app)
    return WriteFailed(
        change.work, f"git write-back of {key}: {public}", rejected=True, public=public
    )


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def _prefixes(path: str) -> list[str]:
    parts = path.split("/") if path else []
    return ["/".join(parts[: n + 1]) for n in range(len(parts))]


def _file_for(edit: AppEdit, entries: Mapping[str, TreeEntry], repository: str) -> str:
    """The file ``edit`` writes, refusing symlinks and directories on the way."""
    for prefix in _prefixes(edit.path):
        entry = entries.get(prefix)
        if entry is not None and entry.is_symlink:
            raise _Refused(
                f"write-back target {edit.path!r} in {repository} passes through the "
                f"symbolic link {prefix!r}; refusing to write through it"
            )
    if edit.kind != "kustomization":
        entry = entries.get(edit.path)
        if entry is not None and entry.kind != "blob":
            raise _Refused(f"write-back target {edit.path!r} in {repository} is a directory")
        return edit.path
    for name in KUSTOMIZATION_FILES:
        path = _join(edit.path, name)
        entry = entries.get(path)
        if entry is not None:
            if entry.is_symlink:
                raise _Refused(
                    f"{path!r} in {repository} is a symbolic link; refusing to write through it"
                )
            return path
    where = edit.path or "the repository root"
    raise _Refused(
        f"no kustomization.yaml, kustomization.yml or Kustomization in {where!r} of {repository}"
    )


def _decode(data: bytes, path: str, repository: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(f"{path!r} in {repository} is not UTF-8 text") from None

"""GitHub's (and GitHub Enterprise Server's) pull requests over the REST API.

Endpoints: ``GET /repos/{o}/{r}/pulls`` (open, filtered by ``head=o:branch`` and ``base``),
``POST /repos/{o}/{r}/pulls``, ``PATCH /repos/{o}/{r}/pulls/{n}`` (title/body, and
``state: closed``), ``POST /repos/{o}/{r}/issues/{n}/labels`` and ``.../comments``.

As upstream: a 422 "A pull request already exists" on create means the existing pull request
is the answer; labels go on in a follow-up call (the create endpoint takes none) whose
failure is only a warning, since the pull request itself exists by then.
"""

from __future__ import annotations

__all__ = ["MAX_PAGES", "GitHubPullRequests"]

import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
from yarl import URL

from imageupdater.errors import SCMError
from imageupdater.scm import (
    DEFAULT_TIMEOUT,
    MAX_BODY_CHARS,
    MAX_TITLE_CHARS,
    ApiTransport,
    PullRequest,
    error_messages,
    field,
    segment,
    truncate,
)

_LOG = logging.getLogger("image_updater.scm")
MAX_PAGES = 20  # 2,000 open pull requests into one branch is more than we will ever open
_PER_PAGE = "100"
_ALREADY_EXISTS = "a pull request already exists"


class GitHubPullRequests:
    """The pull requests of ``owner/repo``; see the module docstring."""

    def __init__(
        self,
        *,
        owner: str,
        repo: str,
        token: str,
        session: aiohttp.ClientSession,
        api_url: URL,
        timeout: float = DEFAULT_TIMEOUT,
        logger: logging.Logger | None = None,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.owner = owner
        self.repo = repo
        self._log = logger or _LOG
        self._max_pages = max_pages
        self._http = ApiTransport(
            service="GitHub",
            session=session,
            base_url=api_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            secret=token,
            timeout=timeout,
        )
        self._repo_path = f"/repos/{segment(owner)}/{segment(repo)}"

    def __repr__(self) -> str:
        return (
            f"GitHubPullRequests(owner={self.owner!r}, repo={self.repo!r}, "
            f"api_url={str(self._http.base_url)!r})"
        )

    @property
    def api_url(self) -> URL:
        return self._http.base_url

    # -- the protocol ---------------------------------------------------------------------

    async def find_open(self, *, head: str, base: str) -> PullRequest | None:
        what = f"find the open pull request {self._slug()} {head} → {base}"
        answer = await self._http.call(
            "GET",
            f"{self._repo_path}/pulls",
            what=what,
            params={
                "state": "open",
                "head": f"{self.owner}:{head}",
                "base": base,
                "per_page": _PER_PAGE,
            },
        )
        for pr in self._pulls(answer.data, what):
            if pr.head == head and pr.base == base:
                return pr
        return None

    async def list_open(self, *, head_prefix: str, base: str) -> list[PullRequest]:
        what = f"list open pull requests of {self._slug()} into {base}"
        found: list[PullRequest] = []
        target: str | URL = f"{self._repo_path}/pulls"
        params: dict[str, str] | None = {"state": "open", "base": base, "per_page": _PER_PAGE}
        for _ in range(self._max_pages):
            answer = await self._http.call("GET", target, what=what, params=params)
            found.extend(
                pr
                for pr, item in zip(self._pulls(answer.data, what), answer.data, strict=True)
                if pr.head.startswith(head_prefix) and pr.base == base and self._ours(item)
            )
            if answer.next_url is None:
                return found
            target, params = answer.next_url, None  # the link carries the query
        raise SCMError(
            f"GitHub {self._http.base_url}: {what}: more than {self._max_pages} pages; "
            "giving up rather than paging forever"
        )

    async def create(
        self, *, head: str, base: str, title: str, body: str, labels: Sequence[str]
    ) -> PullRequest:
        what = f"create a pull request {self._slug()} {head} → {base}"
        answer = await self._http.call(
            "POST",
            f"{self._repo_path}/pulls",
            what=what,
            body={
                "title": truncate(title, MAX_TITLE_CHARS),
                "head": head,
                "base": base,
                "body": truncate(body, MAX_BODY_CHARS),
            },
            accept=(422,),
        )
        if answer.status == 422:
            reasons = error_messages(answer.data)
            if not any(_ALREADY_EXISTS in r.lower() for r in reasons):
                detail = self._http.redact("; ".join(reasons))[:300] or "no reason given"
                raise SCMError(
                    f"GitHub {self._http.base_url}: {what}: rejected (422): {detail}", status=422
                )
            existing = await self.find_open(head=head, base=base)
            if existing is None:
                raise SCMError(
                    f"GitHub {self._http.base_url}: {what}: GitHub says one already exists, "
                    "but no open pull request was found (from a fork?)",
                    status=422,
                )
            self._log.info("pull request %s already exists: %s", self._slug(), existing.url)
            return existing
        pr = _pull(answer.data, self._http, what)
        self._log.info("created pull request #%d %s → %s: %s", pr.number, head, base, pr.url)
        if labels:
            await self._add_labels(pr, labels)
        return pr

    async def update(self, pr: PullRequest, *, title: str, body: str) -> PullRequest:
        what = f"update pull request {self._slug()}#{pr.number}"
        answer = await self._http.call(
            "PATCH",
            f"{self._repo_path}/pulls/{pr.number}",
            what=what,
            body={
                "title": truncate(title, MAX_TITLE_CHARS),
                "body": truncate(body, MAX_BODY_CHARS),
            },
        )
        return _pull(answer.data, self._http, what)

    async def close(self, pr: PullRequest, *, comment: str) -> None:
        if comment:
            await self._http.call(
                "POST",
                f"{self._repo_path}/issues/{pr.number}/comments",
                what=f"comment on pull request {self._slug()}#{pr.number}",
                body={"body": truncate(comment, MAX_BODY_CHARS)},
            )
        await self._http.call(
            "PATCH",
            f"{self._repo_path}/pulls/{pr.number}",
            what=f"close pull request {self._slug()}#{pr.number}",
            body={"state": "closed"},
        )

    # -- helpers --------------------------------------------------------------------------

    async def _add_labels(self, pr: PullRequest, labels: Sequence[str]) -> None:
        try:
            await self._http.call(
                "POST",
                f"{self._repo_path}/issues/{pr.number}/labels",
                what=f"label pull request {self._slug()}#{pr.number}",
                body={"labels": list(labels)},
            )
        except SCMError as exc:
            self._log.warning("could not add labels %s to pull request: %s", list(labels), exc)

    def _slug(self) -> str:
        return f"{self.owner}/{self.repo}"

    def _pulls(self, data: Any, what: str) -> list[PullRequest]:
        if not isinstance(data, list):
            raise self._http.shape_error(what, "the answer is not a list of pull requests")
        return [_pull(item, self._http, what) for item in data]

    def _ours(self, item: Any) -> bool:
        """Whether the pull request's head is in this repository, not in a fork."""
        full_name = field(item, "head", "repo", "full_name")
        if not isinstance(full_name, str):
            return True  # the head repository was deleted or is not reported: judge by branch
        return full_name.lower() == self._slug().lower()


def _pull(item: Any, http: ApiTransport, what: str) -> PullRequest:
    number = field(item, "number")
    url = field(item, "html_url")
    head = field(item, "head", "ref")
    base = field(item, "base", "ref")
    title = field(item, "title")
    if not (
        isinstance(number, int)
        and not isinstance(number, bool)
        and isinstance(url, str)
        and isinstance(head, str)
        and isinstance(base, str)
        and isinstance(title, str)
    ):
        raise http.shape_error(
            what, "a pull request lacks number, html_url, head.ref, base.ref or title"
        )
    return PullRequest(number=number, url=url, head=head, base=base, title=title)

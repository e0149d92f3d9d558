"""GitLab's (gitlab.com and self-managed) merge requests over the REST API v4.

Endpoints, with ``{id}`` the URL-encoded project path (``group%2Fsub%2Fproject``):
``GET /projects/{id}/merge_requests`` (``state=opened``, ``source_branch``,
``target_branch``), ``POST /projects/{id}/merge_requests`` (labels comma-separated at
creation; GitLab creates missing ones), ``PUT /projects/{id}/merge_requests/{iid}``
(title/description, ``state_event: close``) and ``POST .../merge_requests/{iid}/notes``.

As upstream: a 409 on create (another open merge request for the source branch) means the
existing merge request is the answer.
"""

from __future__ import annotations

__all__ = ["MAX_PAGES", "GitLabMergeRequests"]

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
    field,
    segment,
    truncate,
)

_LOG = logging.getLogger("image_updater.scm")
MAX_PAGES = 20
_PER_PAGE = "100"


class GitLabMergeRequests:
    """The merge requests of the project at ``project`` (its full path); see the module
    docstring."""

    def __init__(
        self,
        *,
        project: str,
        token: str,
        session: aiohttp.ClientSession,
        api_url: URL,
        timeout: float = DEFAULT_TIMEOUT,
        logger: logging.Logger | None = None,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.project = project
        self._log = logger or _LOG
        self._max_pages = max_pages
        self._http = ApiTransport(
            service="GitLab",
            session=session,
            base_url=api_url,
            headers={"PRIVATE-TOKEN": token, "Accept": "application/json"},
            secret=token,
            timeout=timeout,
        )
        self._mrs = f"/projects/{segment(project)}/merge_requests"

    def __repr__(self) -> str:
        return (
            f"GitLabMergeRequests(project={self.project!r}, api_url={str(self._http.base_url)!r})"
        )

    @property
    def api_url(self) -> URL:
        return self._http.base_url

    # -- the protocol ---------------------------------------------------------------------

    async def find_open(self, *, head: str, base: str) -> PullRequest | None:
        what = f"find the open merge request {self.project} {head} → {base}"
        answer = await self._http.call(
            "GET",
            self._mrs,
            what=what,
            params={
                "state": "opened",
                "source_branch": head,
                "target_branch": base,
                "per_page": _PER_PAGE,
            },
        )
        for mr, item in self._merge_requests(answer.data, what):
            if mr.head == head and mr.base == base and self._ours(item):
                return mr
        return None

    async def list_open(self, *, head_prefix: str, base: str) -> list[PullRequest]:
        what = f"list open merge requests of {self.project} into {base}"
        found: list[PullRequest] = []
        page = "1"
        for _ in range(self._max_pages):
            answer = await self._http.call(
                "GET",
                self._mrs,
                what=what,
                params={
                    "state": "opened",
                    "target_branch": base,
                    "per_page": _PER_PAGE,
                    "page": page,
                },
            )
            found.extend(
                mr
                for mr, item in self._merge_requests(answer.data, what)
                if mr.head.startswith(head_prefix) and mr.base == base and self._ours(item)
            )
            if not answer.next_page:
                return found
            if not answer.next_page.isdigit() or int(answer.next_page) <= int(page):
                raise self._http.shape_error(
                    what, f"x-next-page {answer.next_page[:20]!r} does not move forward"
                )
            page = answer.next_page
        raise SCMError(
            f"GitLab {self._http.base_url}: {what}: more than {self._max_pages} pages; "
            "giving up rather than paging forever"
        )

    async def create(
        self, *, head: str, base: str, title: str, body: str, labels: Sequence[str]
    ) -> PullRequest:
        what = f"create a merge request {self.project} {head} → {base}"
        payload: dict[str, Any] = {
            "source_branch": head,
            "target_branch": base,
            "title": truncate(title, MAX_TITLE_CHARS),
            "description": truncate(body, MAX_BODY_CHARS),
        }
        if labels:
            payload["labels"] = ",".join(labels)
        answer = await self._http.call("POST", self._mrs, what=what, body=payload, accept=(409,))
        if answer.status == 409:
            existing = await self.find_open(head=head, base=base)
            if existing is None:
                raise SCMError(
                    f"GitLab {self._http.base_url}: {what}: GitLab reports a conflict (409), "
                    "but no open merge request for these branches was found",
                    status=409,
                )
            self._log.info("merge request %s already exists: %s", self.project, existing.url)
            return existing
        mr = _merge_request(answer.data, self._http, what)
        self._log.info("created merge request !%d %s → %s: %s", mr.number, head, base, mr.url)
        return mr

    async def update(self, pr: PullRequest, *, title: str, body: str) -> PullRequest:
        what = f"update merge request {self.project}!{pr.number}"
        answer = await self._http.call(
            "PUT",
            f"{self._mrs}/{pr.number}",
            what=what,
            body={
                "title": truncate(title, MAX_TITLE_CHARS),
                "description": truncate(body, MAX_BODY_CHARS),
            },
        )
        return _merge_request(answer.data, self._http, what)

    async def close(self, pr: PullRequest, *, comment: str) -> None:
        if comment:
            await self._http.call(
                "POST",
                f"{self._mrs}/{pr.number}/notes",
                what=f"comment on merge request {self.project}!{pr.number}",
                body={"body": truncate(comment, MAX_BODY_CHARS)},
            )
        await self._http.call(
            "PUT",
            f"{self._mrs}/{pr.number}",
            what=f"close merge request {self.project}!{pr.number}",
            body={"state_event": "close"},
        )

    # -- helpers --------------------------------------------------------------------------

    def _merge_requests(self, data: Any, what: str) -> list[tuple[PullRequest, Any]]:
        if not isinstance(data, list):
            raise self._http.shape_error(what, "the answer is not a list of merge requests")
        return [(_merge_request(item, self._http, what), item) for item in data]

    @staticmethod
    def _ours(item: Any) -> bool:
        """Whether the merge request comes from this project rather than a fork."""
        source, target = field(item, "source_project_id"), field(item, "project_id")
        return source is None or target is None or source == target


def _merge_request(item: Any, http: ApiTransport, what: str) -> PullRequest:
    number = field(item, "iid")
    url = field(item, "web_url")
    head = field(item, "source_branch")
    base = field(item, "target_branch")
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
            what, "a merge request lacks iid, web_url, source_branch, target_branch or title"
        )
    return PullRequest(number=number, url=url, head=head, base=base, title=title)

"""The fault registry's vocabulary and its pure parts: request kinds, faults, the request
log entry, path classification, tag-list paging and body chunking.
"""

from __future__ import annotations

__all__ = [
    "Fault",
    "FaultName",
    "Kind",
    "LoggedRequest",
    "Reply",
    "body_chunks",
    "classify",
    "error_reply",
    "kinds_of",
    "tag_page",
]

import enum
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Literal

JSON_TYPE = "application/json; charset=utf-8"
ENDLESS_PREFIX = "endless-"
ENDLESS_DEFAULT_PAGE = 100

FaultName = Literal["rate_limit", "error", "slow", "drip", "malformed", "huge", "content_type"]


class Kind(enum.StrEnum):
    """What a request asked for, as the request log counts it."""

    PING = "ping"
    TOKEN = "token"
    TAGS = "tags"
    MANIFEST_GET = "manifest_get"
    MANIFEST_HEAD = "manifest_head"
    BLOB = "blob"
    REFERRERS = "referrers"
    MANIFEST_PUT = "manifest_put"
    BLOB_UPLOAD = "blob_upload"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Fault:
    """One misbehaviour; ``repository``/``kinds`` left None match every request."""

    what: FaultName
    repository: str | None = None
    kinds: frozenset[Kind] | None = None
    status: int = 0  # error: the 5xx to answer
    seconds: float = 0.0  # rate_limit: Retry-After; slow: delay; drip: pause between chunks
    size: int = 0  # huge: body bytes; drip: chunk size
    declare_length: bool = False  # huge: send Content-Length up front
    content_type: str = ""

    def matches(self, kind: Kind, repository: str | None) -> bool:
        return (self.repository is None or self.repository == repository) and (
            self.kinds is None or kind in self.kinds
        )


def kinds_of(kinds: Collection[Kind] | None) -> frozenset[Kind] | None:
    return None if kinds is None else frozenset(kinds)


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    kind: Kind
    method: str
    path: str
    query: str
    repository: str | None
    status: int
    authorized: bool  # an Authorization header was sent (its value is never kept)


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer before faults shape how it is written."""

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def error_reply(status: int, code: str, message: str, **headers: str) -> Reply:
    """The distribution error body: ``{"errors": [{"code", "message", "detail"}]}``."""
    body = json.dumps({"errors": [{"code": code, "message": message, "detail": None}]})
    return Reply(status, body.encode(), headers=headers)


def classify(method: str, path: str) -> tuple[Kind, str | None, str]:
    """(kind, repository, reference) of a request path."""
    if path == "/token":
        return Kind.TOKEN, None, ""
    if path in ("/v2", "/v2/"):
        return Kind.PING, None, ""
    if not path.startswith("/v2/"):
        return Kind.OTHER, None, ""
    rest = path[len("/v2/") :]
    if rest.endswith("/tags/list"):
        return Kind.TAGS, rest.removesuffix("/tags/list"), ""
    name, sep, ref = rest.rpartition("/blobs/uploads/")
    if sep and name and "/" not in ref:
        return Kind.BLOB_UPLOAD, name, ref  # ref: "" to open an upload, else its id
    markers = (
        ("/manifests/", Kind.MANIFEST_GET),
        ("/blobs/", Kind.BLOB),
        ("/referrers/", Kind.REFERRERS),
    )
    for marker, kind in markers:
        name, sep, ref = rest.rpartition(marker)
        if sep and name and ref and "/" not in ref:
            if kind is Kind.MANIFEST_GET and method == "HEAD":
                kind = Kind.MANIFEST_HEAD
            elif kind is Kind.MANIFEST_GET and method == "PUT":
                kind = Kind.MANIFEST_PUT
            return kind, name, ref
    return Kind.OTHER, None, ""


def tag_page(
    name: str,
    tags: Collection[str],
    *,
    n: int | None,
    last: str,
    cap: int | None,
    endless: bool = False,
) -> tuple[list[str], str | None]:
    """One page of a tag list and its ``Link`` header value (None on the last page).

    Tags are served in lexical order after ``last``, as distribution v3 does. ``cap`` (the
    configured page size) limits ``n`` the way Docker Hub limits it to 100. When ``endless``,
    every page is new synthetic tags and links to yet another page.
    """
    sizes = [x for x in (cap, n) if x is not None]
    limit = min(sizes) if sizes else None
    if endless:
        tail = last.removeprefix(ENDLESS_PREFIX)
        start = int(tail) + 1 if last.startswith(ENDLESS_PREFIX) and tail.isdigit() else 0
        count = ENDLESS_DEFAULT_PAGE if limit is None else limit
        page = [f"{ENDLESS_PREFIX}{i:08d}" for i in range(start, start + count)]
        more = True
    else:
        remaining = sorted(t for t in tags if t > last)
        page = remaining if limit is None else remaining[:limit]
        more = len(page) < len(remaining)
    if not (more and page):
        return page, None
    return page, f'</v2/{name}/tags/list?last={page[-1]}&n={len(page)}>; rel="next"'


def body_chunks(body: bytes, size: int, huge: int | None = None) -> Iterator[bytes]:
    """``body`` in ``size``-byte pieces, or ``huge`` bytes of a never-ending tag list."""
    if huge is None:
        for start in range(0, len(body), size):
            yield body[start : start + size]
        return
    head = b'{"name":"huge","tags":["'
    sent = 0
    while sent < huge:
        piece = ((head if sent == 0 else b"") + b"a" * size)[: huge - sent]
        sent += len(piece)
        yield piece

"""Pull and merge requests on GitHub and GitLab: the value, the protocol, the factory.

Owns :class:`PullRequest` (one open GitHub pull request or GitLab merge request),
:class:`PullRequests` (the five calls the git write-back's pull-request mode makes),
:func:`pull_requests` (a client for a repository URL), :func:`parse_repo_url` (host and
project path from the https, ssh and scp-like URL forms) and :class:`ApiTransport`, the one
place where the SCM adapters talk HTTP: bounded timeouts and answers, JSON checked, errors
turned into :class:`~imageupdater.errors.SCMError` with the token redacted.

API bases: an explicit ``api_url`` wins; otherwise github.com ⇒ ``https://api.github.com``,
any other GitHub host (Enterprise Server) ⇒ ``https://<host>/api/v3`` and GitLab ⇒
``https://<host>/api/v4``. An ``http://`` repository URL keeps http and its port (a
self-hosted instance without TLS); ssh and scp-like URLs use https on the default port,
since the ssh port says nothing about where the web API listens.

Configuration problems (an unknown provider, a URL without an owner/project path, an empty
token) are :class:`~imageupdater.errors.InvalidInput`: permanent, retrying cannot help.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_BODY_CHARS",
    "MAX_TITLE_CHARS",
    "Answer",
    "ApiTransport",
    "PullRequest",
    "PullRequests",
    "RepoLocation",
    "api_base_url",
    "parse_repo_url",
    "pull_requests",
    "truncate",
]

import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import quote

import aiohttp
from yarl import URL

from imageupdater.errors import InvalidInput, SCMError

JSON = dict[str, Any]
Method = Literal["GET", "POST", "PATCH", "PUT"]

DEFAULT_TIMEOUT = 30.0
# Upstream's limits (runes; a Python str counts code points the same way).
MAX_TITLE_CHARS = 255
MAX_BODY_CHARS = 65_536
# A page of 100 pull requests is well below this; a larger answer is not an API's.
_MAX_ANSWER_BYTES = 16 * 1024 * 1024
_CHUNK = 64 * 1024
_REASON_CHARS = 300
_URL_HELP = (
    "expected https://host/owner/repo(.git), ssh://git@host/owner/repo.git "
    "or git@host:owner/repo.git"
)
# scp-like: [user@]host:path, where the path does not start with '/' or '//' (that would be a
# URL with a scheme) and host has no '/'.
_SCP_LIKE = re.compile(
    r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:\[\]]+|\[[^\]]+\]):(?P<path>[^/].*)$"
)


@dataclass(frozen=True, slots=True)
class PullRequest:
    """An open pull request (GitHub) or merge request (GitLab)."""

    number: int  # GitHub number / GitLab iid
    url: str  # html_url / web_url
    head: str
    base: str
    title: str


class PullRequests(Protocol):
    """Pull requests of one repository, as the git write-back's pull-request mode uses them."""

    async def find_open(self, *, head: str, base: str) -> PullRequest | None:
        """The open pull request from ``head`` into ``base``, if there is one."""
        ...

    async def list_open(self, *, head_prefix: str, base: str) -> list[PullRequest]:
        """Open pull requests into ``base`` whose head branch (in this repository, not a
        fork) starts with ``head_prefix``."""
        ...

    async def create(
        self, *, head: str, base: str, title: str, body: str, labels: Sequence[str]
    ) -> PullRequest:
        """Open a pull request; one that already exists for head→base is returned instead."""
        ...

    async def update(self, pr: PullRequest, *, title: str, body: str) -> PullRequest: ...

    async def close(self, pr: PullRequest, *, comment: str) -> None:
        """Comment (unless ``comment`` is empty), then close."""
        ...


# -- repository URLs ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepoLocation:
    """Where a repository lives: ``scheme`` and ``port`` of the web API's likely origin
    (https/None for ssh and scp-like URLs), ``host``, and ``path`` without slashes at either
    end and without ``.git`` (``owner/repo``, ``group/sub/project``)."""

    scheme: str
    host: str
    port: int | None
    path: str

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path.split("/"))

    def origin(self) -> URL:
        return URL.build(scheme=self.scheme, host=self.host, port=self.port)


def parse_repo_url(repo_url: str) -> RepoLocation:
    """Host and project path of a git repository URL; see :class:`RepoLocation`.

    Raises ``InvalidInput`` for anything without a host and at least two path segments.
    """
    text = repo_url.strip()
    where = f"repository URL {_without_userinfo(text)!r}"
    if not text or any(c.isspace() for c in text):
        raise InvalidInput(f"{where} is not a repository URL; {_URL_HELP}")
    scheme, port = "https", None
    if "://" in text:
        try:
            url = URL(text)
            host = url.host or ""
            given_port = url.explicit_port
            raw_path = url.path
        except (ValueError, TypeError, IndexError) as exc:
            raise InvalidInput(f"{where} is not a repository URL; {_URL_HELP}") from exc
        if url.scheme in ("http", "https"):
            scheme, port = url.scheme, given_port
        elif url.scheme not in ("ssh", "git", "git+ssh", "ssh+git"):
            raise InvalidInput(f"{where} has scheme {url.scheme!r}; {_URL_HELP}")
    else:
        match = _SCP_LIKE.match(text)
        if match is None:
            raise InvalidInput(f"{where} is not a repository URL; {_URL_HELP}")
        host = match["host"].strip("[]")
        raw_path = match["path"]
    path = raw_path.strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    segments = path.split("/")
    if not host:
        raise InvalidInput(f"{where} names no host; {_URL_HELP}")
    if len(segments) < 2 or any(s in ("", ".", "..") for s in segments):
        raise InvalidInput(f"{where} has no owner/repository path; {_URL_HELP}")
    return RepoLocation(scheme=scheme, host=host.lower(), port=port, path=path)


def _without_userinfo(text: str) -> str:
    """The URL as messages may show it: any userinfo is dropped, since a token can be the
    user name as well as the password (``https://<token>@github.com/...``)."""
    if "://" in text:
        scheme, _, rest = text.partition("://")
        userinfo, at, tail = rest.partition("@")
        if at and "/" not in userinfo:
            return f"{scheme}://{tail}"
    return text


def api_base_url(provider: Literal["github", "gitlab"], location: RepoLocation) -> URL:
    """The REST API's base URL for a repository when no explicit one is configured."""
    if provider == "github" and location.host in ("github.com", "www.github.com"):
        return URL("https://api.github.com")
    suffix = "/api/v3" if provider == "github" else "/api/v4"
    return location.origin().with_path(suffix)


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit]


def segment(value: str) -> str:
    """One path segment, every reserved character (``/`` included) percent-encoded."""
    return quote(value, safe="")


# -- the factory ----------------------------------------------------------------------------


def pull_requests(
    provider: str,
    *,
    repo_url: str,
    token: str,
    session: aiohttp.ClientSession,
    api_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> PullRequests:
    """A client for the pull requests of ``repo_url`` on ``provider`` ("github" or "gitlab").

    ``session`` is the caller's (it is never closed here); ``timeout`` bounds every request.
    """
    kind: Literal["github", "gitlab"]
    if provider.strip().lower() == "github":
        kind = "github"
    elif provider.strip().lower() == "gitlab":
        kind = "gitlab"
    else:
        raise InvalidInput(
            f"pull request provider {provider!r} is not supported; expected 'github' or 'gitlab'"
        )
    if not token:
        raise InvalidInput(
            f"pull request mode for {_without_userinfo(repo_url)!r} needs an API token "
            "(an HTTPS access token or GitHub App credentials); none was given"
        )
    if not timeout > 0:
        raise InvalidInput(f"SCM API timeout {timeout!r} must be a positive number")
    location = parse_repo_url(repo_url)
    base = _explicit_api_url(api_url) if api_url else api_base_url(kind, location)
    # Imported here: both modules build on the helpers above.
    if kind == "github":
        from imageupdater.scm.github import GitHubPullRequests

        owner, _, name = location.path.partition("/")
        if "/" in name:
            raise InvalidInput(
                f"repository URL {_without_userinfo(repo_url)!r}: a GitHub repository is "
                f"owner/repo, not {location.path!r}"
            )
        return GitHubPullRequests(
            owner=owner, repo=name, token=token, session=session, api_url=base, timeout=timeout
        )
    from imageupdater.scm.gitlab import GitLabMergeRequests

    return GitLabMergeRequests(
        project=location.path, token=token, session=session, api_url=base, timeout=timeout
    )


def _explicit_api_url(text: str) -> URL:
    where = f"SCM API URL {_without_userinfo(text)!r}"
    try:
        url = URL(text.strip())
        ok = url.scheme in ("http", "https") and bool(url.host)
        clean = url.user is None and url.password is None and not url.query_string
    except (ValueError, TypeError, IndexError) as exc:
        raise InvalidInput(f"{where} is not an http(s) URL") from exc
    if not ok:
        raise InvalidInput(f"{where} is not an http(s) URL, e.g. https://ghe.example/api/v3")
    if not clean:
        raise InvalidInput(f"{where} must not carry credentials or a query")
    return url.with_path(url.raw_path.rstrip("/"), encoded=True).with_fragment(None)


# -- HTTP -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """A decoded API answer: ``data`` is the parsed JSON (``None`` for an empty body)."""

    status: int
    data: Any
    next_url: URL | None  # the Link header's rel="next", if any
    next_page: str  # GitLab's x-next-page header ("" on the last page)


class ApiTransport:
    """JSON over HTTP to one SCM API with one secret header.

    ``secret`` is redacted from every message; requests never follow redirects (a redirect
    could carry the token's header to another host) and only go to ``base_url``'s origin.
    """

    def __init__(
        self,
        *,
        service: str,
        session: aiohttp.ClientSession,
        base_url: URL,
        headers: Mapping[str, str],
        secret: str,
        timeout: float,
    ) -> None:
        self.service = service
        self.base_url = base_url
        self._session = session
        self._headers = dict(headers)
        self._secret = secret
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 10.0))
        self._seconds = timeout

    def __repr__(self) -> str:
        return f"ApiTransport(service={self.service!r}, base_url={str(self.base_url)!r})"

    def url(self, path: str) -> URL:
        """``path`` (already percent-encoded, starting with '/') below the base URL."""
        return self.base_url.with_path(self.base_url.raw_path.rstrip("/") + path, encoded=True)

    def redact(self, text: str) -> str:
        """``text`` without the secret; redact before truncating, never after."""
        return text.replace(self._secret, "<redacted>") if self._secret else text

    async def call(
        self,
        method: Method,
        target: str | URL,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        body: JSON | None = None,
        accept: Collection[int] = (),
    ) -> Answer:
        """One request. 2xx answers and statuses in ``accept`` are returned; anything else
        (and a transport failure, a redirect, a non-JSON answer) raises ``SCMError``."""
        url = self.url(target) if isinstance(target, str) else target
        where = f"{self.service} {self.base_url}: {what}"
        if url.origin() != self.base_url.origin():
            raise SCMError(f"{where}: refusing to follow a link to another origin ({url.origin()})")
        try:
            async with self._session.request(
                method,
                url,
                params=params,
                json=body,
                headers=self._headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                status = response.status
                raw = await _read(response, where)
                content_type = response.content_type
                link = response.links.get("next")
                next_link = link.get("url") if link is not None else None
                next_page = response.headers.get("x-next-page", "").strip()
                location = response.headers.get("Location", "")
        except TimeoutError as exc:
            raise SCMError(f"{where}: no answer within {self._seconds:g}s") from exc
        except aiohttp.ClientError as exc:
            # Redact before cutting: a cut could leave a secret's prefix unmatched.
            message = self.redact(f"{where}: {exc.__class__.__name__}: {exc}")[:600]
            raise SCMError(message) from exc
        if 300 <= status < 400:
            raise SCMError(
                self.redact(
                    f"{where}: redirected ({status}) to {location!r}; has the repository moved? "
                    "Use its current URL"
                ),
                status=status,
            )
        if status >= 400 and status not in accept:
            raise SCMError(f"{where}: {_failure(status, raw, self.redact)}", status=status)
        data: Any = None
        if raw.strip():
            if "json" not in content_type:
                raise SCMError(
                    f"{where}: answered {content_type or 'no content type'} ({status}), not "
                    f"JSON; is {self.base_url} the {self.service} REST API?",
                    status=502 if status < 400 else status,
                )
            try:
                data = json.loads(raw)
            except ValueError as exc:
                raise SCMError(f"{where}: the answer is not valid JSON", status=502) from exc
        next_url = URL(str(next_link)) if next_link is not None else None
        return Answer(status=status, data=data, next_url=next_url, next_page=next_page)

    def shape_error(self, what: str, detail: str) -> SCMError:
        """The error for a well-formed JSON answer of the wrong shape (a proxy, not the API)."""
        return SCMError(f"{self.service} {self.base_url}: {what}: {detail}", status=502)


async def _read(response: aiohttp.ClientResponse, where: str) -> bytes:
    too_big = f"{where}: the answer is larger than the {_MAX_ANSWER_BYTES}-byte limit"
    if response.content_length is not None and response.content_length > _MAX_ANSWER_BYTES:
        raise SCMError(too_big, status=502)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > _MAX_ANSWER_BYTES:
            raise SCMError(too_big, status=502)
        chunks.append(chunk)
    return b"".join(chunks)


def error_messages(body: Any) -> list[str]:
    """The human messages of a decoded GitHub or GitLab error body (empty if it has none).

    GitHub: ``{"message", "errors": [{"message"} | "text"]}``; GitLab: ``{"message": str |
    [str] | {field: [str]}}`` or ``{"error": str}``.
    """
    if not isinstance(body, dict):
        return []
    found: list[str] = []

    def add(value: Any, prefix: str = "") -> None:
        if isinstance(value, str) and value:
            found.append(prefix + value)
        elif isinstance(value, list):
            for item in value:
                add(item, prefix)
        elif isinstance(value, dict):
            if "message" in value:
                add(value["message"], prefix)
            else:
                for key, item in value.items():
                    add(item, f"{prefix}{key} ")

    add(body.get("message"))
    add(body.get("error"))
    add(body.get("errors"))
    return found


def _failure(status: int, raw: bytes, redact: Callable[[str], str]) -> str:
    words = {
        400: "invalid request",
        401: "not authenticated (is the token valid?)",
        403: "permission denied (does the token allow pull requests on this repository?)",
        404: "not found (does the repository exist, and may the token see it?)",
        409: "conflict",
        422: "rejected",
        429: "rate limited",
    }.get(status, "server error" if status >= 500 else "refused")
    try:
        found = error_messages(json.loads(raw))
    except ValueError:
        text = raw[: 64 * 1024].decode("utf-8", "replace").strip()
        found = [text] if text else []
    reasons = redact("; ".join(found))[:_REASON_CHARS]
    return f"{words} ({status})" + (f": {reasons}" if reasons else "")


def field(item: Any, *keys: str) -> Any:
    """``item[k1][k2]...`` or ``None`` where a level is missing or not an object."""
    for key in keys:
        if not isinstance(item, dict):
            return None
        item = item.get(key)
    return item

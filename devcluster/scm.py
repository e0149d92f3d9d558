"""Emulators of the GitHub and GitLab REST endpoints that the pull-request mode uses.

In-memory pull/merge requests with their labels and comments, token authentication, the
errors the real APIs answer (in their JSON shapes), pagination, injectable faults, a
request log, and GitHub App installation tokens verified against registered public keys.
Each binds 127.0.0.1 on a free port.

Using it
--------
::

    async with github_emulator(token="t") as gh:            # or prefix="/api/v3" (Enterprise)
        client = pull_requests("github", repo_url="https://github.com/o/r", token="t",
                               session=session, api_url=gh.url)
        gh.pulls; gh.requests; gh.fail_next(2, 503); gh.page_size = 2
        gh.register_app("123", public_key_pem, installations={"42"})

    async with gitlab_emulator(token="t") as gl:            # gl.url is <root>/api/v4
        ...

GitHub (``{prefix}`` is "" like api.github.com, or "/api/v3" like Enterprise Server)
-------------------------------------------------------------------------------------
- ``GET {prefix}/repos/{o}/{r}/pulls`` with ``state`` (open|closed|all), ``head``
  (``owner:branch``), ``base``, ``per_page`` (≤100, default 30), ``page``; newest first;
  ``Link: <...>; rel="next"`` while more pages follow.
- ``GET|PATCH {prefix}/repos/{o}/{r}/pulls/{n}`` (``title``, ``body``, ``state``, ``base``).
- ``POST {prefix}/repos/{o}/{r}/pulls`` (``title``, ``head``, ``base``, ``body``): 201, or 422
  ``A pull request already exists for o:branch.`` when an open one has that head and base.
- ``POST {prefix}/repos/{o}/{r}/issues/{n}/labels`` (``{"labels": [...]}``) and
  ``.../comments`` (``{"body"}``).
- ``POST {prefix}/app/installations/{id}/access_tokens``: needs an RS256 App JWT whose
  signature verifies with the key registered for its ``iss``, unexpired and living at most
  ten minutes; answers 201 ``{"token", "expires_at"}`` (the token then works on the API).
- Authentication: ``Authorization: Bearer|token <t>``; none ⇒ 401 ``Requires
  authentication``, a wrong one ⇒ 401 ``Bad credentials``.

GitLab (always under ``/api/v4``)
---------------------------------
- ``GET /projects/{id}/merge_requests`` with ``state`` (opened|closed|merged|all),
  ``source_branch``, ``target_branch``, ``per_page`` (≤100, default 20), ``page``; newest
  first; ``x-next-page`` (empty on the last page), ``x-page``, ``x-per-page``, ``x-total``.
  ``{id}`` is the URL-encoded full path (``group%2Fsub%2Fproject``) or the numeric id.
- ``POST /projects/{id}/merge_requests`` (``source_branch``, ``target_branch``, ``title``,
  ``description``, ``labels`` comma-separated or a list): 201, or 409 ``Another open merge
  request already exists for this source branch: !<iid>``.
- ``GET|PUT /projects/{id}/merge_requests/{iid}`` (``title``, ``description``,
  ``state_event`` close|reopen, ``labels``); ``POST .../{iid}/notes`` (``{"body"}``).
- Authentication: ``PRIVATE-TOKEN`` or ``Authorization: Bearer``; otherwise 401
  ``{"message": "401 Unauthorized"}``.

The request log (``requests``) records method, path, query, JSON body and status of every
request; it never records a header, so it never holds a token that a client sent properly.
"""

from __future__ import annotations

__all__ = [
    "EmulatedPull",
    "Fault",
    "GitHubEmulator",
    "GitLabEmulator",
    "RecordedRequest",
    "github_emulator",
    "gitlab_emulator",
]

import abc
import asyncio
import base64
import binascii
import contextlib
import json
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from yarl import URL

JSON = dict[str, Any]
_GITHUB_DOCS = "https://docs.github.com/rest"
_MAX_JWT_LIFETIME = 600
_CLOCK_SKEW = 60
# GitHub's words for refused App JWTs.
_IAT_FUTURE = (
    "'Issued at' claim ('iat') must be an Integer representing the time that the assertion "
    "was issued"
)
_EXP_PAST = (
    "'Expiration time' claim ('exp') must be a numeric value representing the future time "
    "at which the assertion expires"
)
_EXP_TOO_FAR = "'Expiration time' claim ('exp') is too far in the future"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    query: Mapping[str, str]
    body: Any  # the decoded JSON body, None when there was none
    status: int


@dataclass(slots=True)
class EmulatedPull:
    """One pull request (GitHub) or merge request (GitLab) as the emulator holds it."""

    repo: str  # owner/repo or the GitLab project path
    number: int  # GitHub number / GitLab iid
    head: str
    base: str
    title: str
    body: str
    state: str  # GitHub open|closed, GitLab opened|closed|merged
    created: int  # creation order, for newest-first listings
    labels: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    head_repo: str | None = None  # a fork's owner/repo; None means the repository itself


@dataclass(slots=True)
class Fault:
    """Answer the next ``remaining`` matching requests with ``status`` and ``text``."""

    remaining: int
    status: int
    text: str
    content_type: str
    method: str | None
    path_contains: str | None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow server)

    def matches(self, request: web.Request) -> bool:
        return (self.method is None or request.method == self.method.upper()) and (
            self.path_contains is None or self.path_contains in request.path
        )


class _Reply(Exception):
    """An answer that ends a handler early (an error in the provider's shape)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class _Emulator(abc.ABC):
    """What both emulators share: tokens, faults, the request log, serving. Each provider's
    emulator supplies its authentication, error bodies and routes."""

    api_prefix = ""
    _open_state = "open"

    def __init__(self, tokens: Iterable[str], *, clock: Callable[[], float]) -> None:
        self._tokens = set(tokens)
        if not self._tokens or "" in self._tokens:
            raise ValueError("an SCM emulator needs at least one non-empty token")
        self.clock = clock
        self.requests: list[RecordedRequest] = []
        self.pulls: list[EmulatedPull] = []
        self.page_size: int | None = None  # caps per_page, to force pagination in tests
        self.faults: list[Fault] = []
        self.root_url = URL()
        self._created = 0

    @property
    def url(self) -> URL:
        """The API base URL a client is given (``api_url``)."""
        return self.root_url.with_path(self.api_prefix)

    def add_token(self, token: str) -> None:
        self._tokens.add(token)

    def fail_next(
        self,
        n: int,
        status: int,
        *,
        text: str | None = None,
        content_type: str = "application/json",
        method: str | None = None,
        path_contains: str | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next ``n`` requests (those matching ``method``/``path_contains``) with
        ``status``, ``headers`` and ``text`` (by default a JSON error body in the provider's
        shape), after ``delay`` seconds."""
        body = text if text is not None else json.dumps(self._fault_body(status))
        self.faults.append(
            Fault(n, status, body, content_type, method, path_contains, dict(headers or {}), delay)
        )

    def requests_to(self, method: str, path_contains: str = "") -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and path_contains in r.path]

    def pull(self, repo: str, number: int) -> EmulatedPull:
        for pr in self.pulls:
            if pr.repo == repo and pr.number == number:
                return pr
        raise KeyError((repo, number))

    def add_pull(
        self,
        repo: str,
        *,
        head: str,
        base: str,
        title: str = "",
        body: str = "",
        state: str | None = None,
        labels: Iterable[str] = (),
        head_repo: str | None = None,
    ) -> EmulatedPull:
        """Seed a pull request (as if someone else had opened it)."""
        number = 1 + max((p.number for p in self.pulls if p.repo == repo), default=0)
        self._created += 1
        pr = EmulatedPull(
            repo=repo,
            number=number,
            head=head,
            base=base,
            title=title or f"update {head}",
            body=body,
            state=state or self._open_state,
            created=self._created,
            labels=list(labels),
            head_repo=head_repo,
        )
        self.pulls.append(pr)
        return pr

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        response = await self._fault(request)
        if response is None:
            try:
                self._authenticate(request)
                status, answer, headers = await self._route(request, body)
            except _Reply as reply:
                status, answer, headers = reply.status, reply.body, {}
            response = web.json_response(answer, status=status, headers=headers)
        self.requests.append(
            RecordedRequest(
                request.method, request.path, dict(request.query), body, response.status
            )
        )
        return response

    async def _fault(self, request: web.Request) -> web.Response | None:
        for fault in self.faults:
            if fault.remaining > 0 and fault.matches(request):
                fault.remaining -= 1
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                return web.Response(
                    status=fault.status,
                    text=fault.text,
                    content_type=fault.content_type,
                    headers=fault.headers,
                )
        return None

    def _bearer(self, request: web.Request) -> str:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        return value.strip() if scheme.lower() in ("bearer", "token") else ""

    @abc.abstractmethod
    def _authenticate(self, request: web.Request) -> None:
        """Raise ``_Reply(401, …)`` with the provider's body unless a known token is sent."""

    @abc.abstractmethod
    def _fault_body(self, status: int) -> JSON:
        """The JSON body the provider answers an injected ``status`` with."""

    @abc.abstractmethod
    async def _route(self, request: web.Request, body: Any) -> tuple[int, Any, Mapping[str, str]]:
        """(status, JSON body, headers) for one authenticated request."""

    def _segments(self, request: web.Request) -> list[str]:
        """The path below the API prefix, split on '/' before percent-decoding, so an encoded
        project path (``group%2Fproject``) stays one segment."""
        raw = request.raw_path.split("?", 1)[0]
        if not raw.startswith(self.api_prefix + "/") and self.api_prefix:
            raise _Reply(404, self._not_found())
        parts = raw[len(self.api_prefix) :].split("/")[1:]
        if any(not s for s in parts):
            raise _Reply(404, self._not_found())  # '//' or a trailing '/': not a route
        return [unquote(s) for s in parts]

    @abc.abstractmethod
    def _not_found(self) -> JSON:
        """The provider's 404 body."""

    def _next_created(self) -> int:
        self._created += 1
        return self._created

    def _page(
        self, request: web.Request, items: list[Any], default: int
    ) -> tuple[list[Any], int, int, bool]:
        """(page items, page, per_page, more pages follow)."""
        try:
            per_page = max(1, min(100, int(request.query.get("per_page", default))))
            page = max(1, int(request.query.get("page", "1")))
        except ValueError as exc:
            raise _Reply(400, {"message": f"invalid pagination parameter: {exc}"}) from exc
        if self.page_size is not None:
            per_page = min(per_page, self.page_size)
        start = (page - 1) * per_page
        return items[start : start + per_page], page, per_page, start + per_page < len(items)


# -- GitHub -------------------------------------------------------------------------------


class GitHubEmulator(_Emulator):
    """GitHub's pull-request endpoints; ``prefix="/api/v3"`` serves them like Enterprise."""

    def __init__(
        self,
        token: str | Iterable[str],
        *,
        prefix: str = "",
        clock: Callable[[], float] = time.time,
        installation_token_lifetime: float = 3600.0,
    ) -> None:
        super().__init__([token] if isinstance(token, str) else token, clock=clock)
        self.api_prefix = prefix.rstrip("/")
        self.installation_token_lifetime = installation_token_lifetime
        self.minted: list[str] = []  # installation tokens handed out, oldest first
        self._apps: dict[str, tuple[rsa.RSAPublicKey, frozenset[str]]] = {}

    def __repr__(self) -> str:
        return f"GitHubEmulator(url={str(self.url)!r}, pulls={len(self.pulls)})"

    def register_app(
        self, app_id: str, public_key_pem: str | bytes, *, installations: Iterable[str]
    ) -> None:
        """Accept App JWTs for ``app_id`` signed by the key whose public half this is."""
        data = public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem
        key = serialization.load_pem_public_key(data)
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("a GitHub App key is an RSA key")
        self._apps[str(app_id)] = (key, frozenset(str(i) for i in installations))

    def _fault_body(self, status: int) -> JSON:
        return {"message": "Server Error" if status >= 500 else "Error", "status": str(status)}

    def _not_found(self) -> JSON:
        return _gh_error("Not Found", 404)

    def _authenticate(self, request: web.Request) -> None:
        if request.path.endswith("/access_tokens"):
            return  # the App JWT is checked by its endpoint
        token = self._bearer(request)
        if not token:
            raise _Reply(401, _gh_error("Requires authentication", 401))
        if token not in self._tokens:
            raise _Reply(401, _gh_error("Bad credentials", 401))

    async def _route(self, request: web.Request, body: Any) -> tuple[int, Any, Mapping[str, str]]:
        match (request.method, self._segments(request)):
            case ("POST", ["app", "installations", installation, "access_tokens"]):
                return 201, self._mint(request, installation), {}
            case ("GET", ["repos", owner, repo, "pulls"]):
                return self._list(request, f"{owner}/{repo}")
            case ("POST", ["repos", owner, repo, "pulls"]):
                return 201, self._create(f"{owner}/{repo}", _object(body)), {}
            case ("GET", ["repos", owner, repo, "pulls", number]):
                return 200, self._json(self._find(f"{owner}/{repo}", number)), {}
            case ("PATCH", ["repos", owner, repo, "pulls", number]):
                return 200, self._update(f"{owner}/{repo}", number, _object(body)), {}
            case ("POST", ["repos", owner, repo, "issues", number, "labels"]):
                return 200, self._label(f"{owner}/{repo}", number, body), {}
            case ("POST", ["repos", owner, repo, "issues", number, "comments"]):
                return 201, self._comment(f"{owner}/{repo}", number, _object(body)), {}
        raise _Reply(404, self._not_found())

    def _json(self, pr: EmulatedPull) -> JSON:
        owner = pr.repo.split("/", 1)[0]
        head_repo = pr.head_repo or pr.repo
        html = self.root_url.with_path(f"/{pr.repo}/pull/{pr.number}")
        return {
            "id": 1000 + pr.created,
            "number": pr.number,
            "state": pr.state,
            "title": pr.title,
            "body": pr.body,
            "html_url": str(html),
            "url": str(
                self.root_url.with_path(f"{self.api_prefix}/repos/{pr.repo}/pulls/{pr.number}")
            ),
            "labels": [{"name": label} for label in pr.labels],
            "head": {
                "label": f"{head_repo.split('/', 1)[0]}:{pr.head}",
                "ref": pr.head,
                "repo": {"full_name": head_repo},
            },
            "base": {"label": f"{owner}:{pr.base}", "ref": pr.base, "repo": {"full_name": pr.repo}},
        }

    def _list(self, request: web.Request, repo: str) -> tuple[int, Any, Mapping[str, str]]:
        state = request.query.get("state", "open")
        head = request.query.get("head")
        base = request.query.get("base")
        chosen = [
            pr
            for pr in self.pulls
            if pr.repo == repo
            and (state == "all" or pr.state == state)
            and (base is None or pr.base == base)
            and (head is None or _gh_head(pr) == head or (":" not in head and pr.head == head))
        ]
        chosen.sort(key=lambda p: -p.created)
        items, page, _, more = self._page(request, chosen, 30)
        headers = {}
        if more:
            next_url = request.url.update_query(page=str(page + 1))
            headers["Link"] = f'<{next_url}>; rel="next"'
        return 200, [self._json(pr) for pr in items], headers

    def _create(self, repo: str, body: JSON) -> JSON:
        for name in ("head", "base"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise _Reply(422, _gh_validation(f"{name} is missing", code="missing_field"))
        if not isinstance(body.get("title"), str) or not body["title"]:
            raise _Reply(422, _gh_validation("title is missing", code="missing_field"))
        head, base = body["head"], body["base"]
        owner = repo.split("/", 1)[0]
        head_owner, _, head_branch = head.rpartition(":")
        if head_owner and head_owner != owner:
            raise _Reply(422, _gh_validation(f"head {head!r} names a fork", code="invalid"))
        if head_branch == base:
            raise _Reply(422, _gh_validation(f"No commits between {base} and {head_branch}"))
        for pr in self.pulls:
            if (
                pr.repo == repo
                and pr.state == "open"
                and pr.head == head_branch
                and pr.base == base
            ):
                raise _Reply(
                    422, _gh_validation(f"A pull request already exists for {owner}:{head_branch}.")
                )
        pr = self.add_pull(
            repo, head=head_branch, base=base, title=body["title"], body=str(body.get("body") or "")
        )
        return self._json(pr)

    def _find(self, repo: str, number: str) -> EmulatedPull:
        try:
            return self.pull(repo, int(number))
        except (KeyError, ValueError):
            raise _Reply(404, self._not_found()) from None

    def _update(self, repo: str, number: str, body: JSON) -> JSON:
        pr = self._find(repo, number)
        if "state" in body:
            if body["state"] not in ("open", "closed"):
                raise _Reply(422, _gh_validation(f"state {body['state']!r} is not open or closed"))
            pr.state = body["state"]
        for name in ("title", "body", "base"):
            if name in body:
                if not isinstance(body[name], str):
                    raise _Reply(422, _gh_validation(f"{name} is not a string", code="invalid"))
                setattr(pr, name, body[name])
        return self._json(pr)

    def _label(self, repo: str, number: str, body: Any) -> list[JSON]:
        pr = self._find(repo, number)
        labels = body.get("labels") if isinstance(body, dict) else body
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise _Reply(422, _gh_validation("labels must be a list of strings", code="invalid"))
        for label in labels:
            if label not in pr.labels:
                pr.labels.append(label)
        return [{"name": label} for label in pr.labels]

    def _comment(self, repo: str, number: str, body: JSON) -> JSON:
        pr = self._find(repo, number)
        text = body.get("body")
        if not isinstance(text, str) or not text:
            raise _Reply(422, _gh_validation("body is missing", code="missing_field"))
        pr.comments.append(text)
        return {"id": len(pr.comments), "body": text}

    def _mint(self, request: web.Request, installation: str) -> JSON:
        jwt = self._bearer(request)
        if not jwt:
            raise _Reply(401, _gh_error("A JSON web token could not be decoded", 401))
        app_id = self._verify_jwt(jwt)
        _, installations = self._apps[app_id]
        if installation not in installations:
            raise _Reply(404, self._not_found())
        token = "ghs_" + secrets.token_urlsafe(27)
        self.minted.append(token)
        self.add_token(token)
        expires = datetime.fromtimestamp(self.clock() + self.installation_token_lifetime, UTC)
        return {
            "token": token,
            "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "permissions": {"contents": "write", "pull_requests": "write"},
            "repository_selection": "all",
        }

    def _verify_jwt(self, jwt: str) -> str:
        undecodable = _Reply(401, _gh_error("A JSON web token could not be decoded", 401))
        parts = jwt.split(".")
        if len(parts) != 3:
            raise undecodable
        try:
            header = json.loads(_unb64url(parts[0]))
            claims = json.loads(_unb64url(parts[1]))
            signature = _unb64url(parts[2])
        except (ValueError, binascii.Error):
            raise undecodable from None
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            raise undecodable
        if not isinstance(claims, dict):
            raise undecodable
        app_id = str(claims.get("iss", ""))
        if app_id not in self._apps:
            raise _Reply(401, _gh_error("Integration not found", 401))
        key, _ = self._apps[app_id]
        try:
            key.verify(
                signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            raise _Reply(
                401,
                _gh_error("A JSON web token could not be decoded", 401),
            ) from None
        iat, exp, now = claims.get("iat"), claims.get("exp"), self.clock()
        if not isinstance(iat, int) or not isinstance(exp, int):
            raise undecodable
        if iat > now + _CLOCK_SKEW:
            raise _Reply(401, _gh_error(_IAT_FUTURE, 401))
        if exp <= now:
            raise _Reply(401, _gh_error(_EXP_PAST, 401))
        if exp - iat > _MAX_JWT_LIFETIME:
            raise _Reply(401, _gh_error(_EXP_TOO_FAR, 401))
        return app_id


def _gh_head(pr: EmulatedPull) -> str:
    return f"{(pr.head_repo or pr.repo).split('/', 1)[0]}:{pr.head}"


def _gh_error(message: str, status: int) -> JSON:
    return {"message": message, "documentation_url": _GITHUB_DOCS, "status": str(status)}


def _gh_validation(message: str, *, code: str = "custom") -> JSON:
    return {
        "message": "Validation Failed",
        "errors": [{"resource": "PullRequest", "code": code, "message": message}],
        "documentation_url": f"{_GITHUB_DOCS}/pulls/pulls#create-a-pull-request",
        "status": "422",
    }


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- GitLab -------------------------------------------------------------------------------


class GitLabEmulator(_Emulator):
    """GitLab's merge-request endpoints under ``/api/v4``."""

    api_prefix = "/api/v4"
    _open_state = "opened"

    def __init__(
        self, token: str | Iterable[str], *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__([token] if isinstance(token, str) else token, clock=clock)
        self._project_ids: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"GitLabEmulator(url={str(self.url)!r}, merge_requests={len(self.pulls)})"

    def project_id(self, path: str) -> int:
        """The numeric id of a project (assigned on first sight)."""
        return self._project_ids.setdefault(path, len(self._project_ids) + 1)

    def _fault_body(self, status: int) -> JSON:
        return {"message": f"{status} {'Internal Server Error' if status >= 500 else 'Error'}"}

    def _not_found(self) -> JSON:
        return {"message": "404 Not found"}

    def _authenticate(self, request: web.Request) -> None:
        token = request.headers.get("PRIVATE-TOKEN", "").strip() or self._bearer(request)
        if token not in self._tokens:
            raise _Reply(401, {"message": "401 Unauthorized"})

    async def _route(self, request: web.Request, body: Any) -> tuple[int, Any, Mapping[str, str]]:
        match (request.method, self._segments(request)):
            case ("GET", ["projects", project, "merge_requests"]):
                return self._list(request, self._project(project))
            case ("POST", ["projects", project, "merge_requests"]):
                return 201, self._create(self._project(project), _object(body)), {}
            case ("GET", ["projects", project, "merge_requests", iid]):
                return 200, self._json(self._find(self._project(project), iid)), {}
            case ("PUT", ["projects", project, "merge_requests", iid]):
                return 200, self._update(self._project(project), iid, _object(body)), {}
            case ("POST", ["projects", project, "merge_requests", iid, "notes"]):
                return 201, self._note(self._project(project), iid, _object(body)), {}
        raise _Reply(404, {"error": "404 Not Found"})

    def _project(self, ident: str) -> str:
        if ident.isdigit():
            for path, number in self._project_ids.items():
                if number == int(ident):
                    return path
            raise _Reply(404, {"message": "404 Project Not Found"})
        if "/" not in ident:
            raise _Reply(404, {"message": "404 Project Not Found"})
        self.project_id(ident)
        return ident

    def _json(self, mr: EmulatedPull) -> JSON:
        pid = self.project_id(mr.repo)
        source = self.project_id(mr.head_repo) if mr.head_repo else pid
        return {
            "id": 1000 + mr.created,
            "iid": mr.number,
            "project_id": pid,
            "source_project_id": source,
            "target_project_id": pid,
            "title": mr.title,
            "description": mr.body,
            "state": mr.state,
            "source_branch": mr.head,
            "target_branch": mr.base,
            "labels": list(mr.labels),
            "web_url": str(self.root_url.with_path(f"/{mr.repo}/-/merge_requests/{mr.number}")),
        }

    def _list(self, request: web.Request, project: str) -> tuple[int, Any, Mapping[str, str]]:
        state = request.query.get("state", "all")
        source = request.query.get("source_branch")
        target = request.query.get("target_branch")
        chosen = [
            mr
            for mr in self.pulls
            if mr.repo == project
            and (state == "all" or mr.state == state)
            and (source is None or mr.head == source)
            and (target is None or mr.base == target)
        ]
        chosen.sort(key=lambda m: -m.created)
        items, page, per_page, more = self._page(request, chosen, 20)
        headers = {
            "x-page": str(page),
            "x-per-page": str(per_page),
            "x-total": str(len(chosen)),
            "x-next-page": str(page + 1) if more else "",
        }
        if more:
            headers["Link"] = f'<{request.url.update_query(page=str(page + 1))}>; rel="next"'
        return 200, [self._json(mr) for mr in items], headers

    def _create(self, project: str, body: JSON) -> JSON:
        for name in ("source_branch", "target_branch", "title"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise _Reply(400, {"error": f"{name} is missing"})
        head, base = body["source_branch"], body["target_branch"]
        if head == base:
            raise _Reply(
                422, {"message": ["You can't use same project/branch for source and target"]}
            )
        for mr in self.pulls:
            if mr.repo == project and mr.state == "opened" and mr.head == head and mr.base == base:
                raise _Reply(
                    409,
                    {
                        "message": [
                            "Another open merge request already exists for this source "
                            f"branch: !{mr.number}"
                        ]
                    },
                )
        mr = self.add_pull(
            project,
            head=head,
            base=base,
            title=body["title"],
            body=str(body.get("description") or ""),
            labels=_labels(body.get("labels")),
        )
        return self._json(mr)

    def _find(self, project: str, iid: str) -> EmulatedPull:
        try:
            return self.pull(project, int(iid))
        except (KeyError, ValueError):
            raise _Reply(404, {"message": "404 Not found"}) from None

    def _update(self, project: str, iid: str, body: JSON) -> JSON:
        mr = self._find(project, iid)
        event = body.get("state_event")
        if event is not None:
            if event not in ("close", "reopen"):
                raise _Reply(400, {"error": "state_event does not have a valid value"})
            mr.state = "closed" if event == "close" else "opened"
        if "title" in body:
            mr.title = str(body["title"])
        if "description" in body:
            mr.body = str(body["description"])
        if "labels" in body:
            mr.labels = _labels(body["labels"])
        return self._json(mr)

    def _note(self, project: str, iid: str, body: JSON) -> JSON:
        mr = self._find(project, iid)
        text = body.get("body")
        if not isinstance(text, str) or not text:
            raise _Reply(400, {"error": "body is missing"})
        mr.comments.append(text)
        return {"id": len(mr.comments), "body": text, "noteable_iid": mr.number}


def _labels(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [x.strip() for x in value.split(",") if x.strip()]
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return list(value)
    raise _Reply(400, {"error": "labels is invalid"})


def _object(body: Any) -> JSON:
    if not isinstance(body, dict):
        raise _Reply(400, {"message": "Problems parsing JSON"})
    return body


# -- serving ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _serving(emulator: _Emulator) -> AsyncIterator[None]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    runner = web.AppRunner(emulator.app(), access_log=None)
    await runner.setup()
    try:
        site = web.SockSite(runner, sock)
        await site.start()
        emulator.root_url = URL.build(scheme="http", host="127.0.0.1", port=port)
        yield
    finally:
        await runner.cleanup()
        sock.close()


@contextlib.asynccontextmanager
async def github_emulator(
    token: str | Iterable[str],
    *,
    prefix: str = "",
    clock: Callable[[], float] = time.time,
    installation_token_lifetime: float = 3600.0,
) -> AsyncIterator[GitHubEmulator]:
    """A running :class:`GitHubEmulator` on 127.0.0.1 (``prefix="/api/v3"``: Enterprise)."""
    emulator = GitHubEmulator(
        token, prefix=prefix, clock=clock, installation_token_lifetime=installation_token_lifetime
    )
    async with _serving(emulator):
        yield emulator


@contextlib.asynccontextmanager
async def gitlab_emulator(
    token: str | Iterable[str],
    *,
    clock: Callable[[], float] = time.time,
) -> AsyncIterator[GitLabEmulator]:
    """A running :class:`GitLabEmulator` on 127.0.0.1; its ``url`` ends in ``/api/v4``."""
    emulator = GitLabEmulator(token, clock=clock)
    async with _serving(emulator):
        yield emulator

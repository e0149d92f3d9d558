"""The fault registry itself: in-memory content, switchable faults, the request log, serving."""

from __future__ import annotations

__all__ = ["FaultRegistry"]

import asyncio
import collections
import datetime as dt
import json
import threading
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from aiohttp import web
from aiohttp.typedefs import Handler

from devcluster.faultregistry.auth import AuthMode, FaultAuth
from devcluster.faultregistry.content import (
    ContentError,
    Repo,
    Upload,
    digest_of,
    is_digest,
    referrers_index,
    store_manifest,
)
from devcluster.faultregistry.wire import (
    Fault,
    Kind,
    LoggedRequest,
    Reply,
    body_chunks,
    classify,
    error_reply,
    kinds_of,
    tag_page,
)
from devcluster.seeder import Media, build_image
from devcluster.tokenserver import BackgroundServer

_NO_USERS: Mapping[str, str] = MappingProxyType({})
_CHUNK = 64 * 1024


@dataclass(slots=True)
class _Armed:
    fault: Fault
    remaining: int | None  # None: until clear()


class FaultRegistry:
    """See the module docstring. Thread-safe: tests may reconfigure it while it serves."""

    def __init__(
        self,
        *,
        auth: AuthMode = "none",
        users: Mapping[str, str] = _NO_USERS,
        page_size: int | None = None,
        token_ttl: int = 300,
        referrers: bool = True,
        filter_referrers: bool = True,
        referrers_page_size: int | None = None,
    ) -> None:
        """``referrers=False`` serves no referrers API (``404 page not found``, as
        distribution 2.8 does) and indexes no ``subject``; ``filter_referrers=False`` ignores
        ``?artifactType=`` as registries that do not implement the filter do;
        ``referrers_page_size`` pages referrers answers with ``Link`` headers."""
        self._auth = FaultAuth(auth, users, token_ttl)
        self._lock = threading.Lock()
        self._repos: dict[str, Repo] = collections.defaultdict(Repo)
        self._uploads: dict[str, Upload] = {}
        self.referrers = referrers
        self.filter_referrers = filter_referrers
        self.referrers_page_size = referrers_page_size
        self._faults: list[_Armed] = []
        self._page_size: dict[str | None, int] = {} if page_size is None else {None: page_size}
        self._endless: set[str | None] = set()
        self._log: list[LoggedRequest] = []
        self._runner: web.AppRunner | None = None
        self._handling: set[asyncio.Task[object]] = set()  # handlers running under serve()
        self._thread: BackgroundServer | None = None
        self.url = ""

    def __repr__(self) -> str:
        return f"FaultRegistry(url={self.url!r}, auth={self._auth.mode!r})"

    # -- content -----------------------------------------------------------------------------
    def add_image(
        self,
        repository: str,
        tag: str,
        *,
        created: dt.datetime | None = None,
        platforms: Sequence[str] = ("linux/amd64",),
        labels: Mapping[str, str] | None = None,
        media: Media = "docker",
        index: bool | None = None,
    ) -> str:
        """Store an image as ``seeder.push`` would; returns the digest served for ``tag``."""
        image = build_image(
            repository,
            tag,
            created=created,
            platforms=platforms,
            labels=labels,
            media=media,
            index=index,
        )
        with self._lock:
            repo = self._repos[repository]
            for blob in image.blobs:
                repo.blobs[blob.digest] = blob.data
            for manifest in (*image.children, image.top):
                repo.manifests[manifest.digest] = (manifest.media_type, manifest.data)
            repo.tags[tag] = image.digest
        return image.digest

    def add_tags(
        self,
        repository: str,
        tags: Sequence[str],
        *,
        created: dt.datetime | None = None,
        platforms: Sequence[str] = ("linux/amd64",),
        labels: Mapping[str, str] | None = None,
        media: Media = "docker",
    ) -> dict[str, str]:
        """``add_image`` for each tag; returns {tag: digest}."""
        return {
            tag: self.add_image(
                repository, tag, created=created, platforms=platforms, labels=labels, media=media
            )
            for tag in tags
        }

    def add_manifest(self, repository: str, reference: str, media_type: str, data: bytes) -> str:
        """Store a manifest as a push would (validated; a ``subject`` makes it a referrer
        when the referrers API is on); returns its digest."""
        with self._lock:
            try:
                digest, _ = store_manifest(
                    self._repos[repository],
                    reference,
                    media_type,
                    data,
                    index_referrers=self.referrers,
                )
            except ContentError as exc:
                raise ValueError(f"manifest refused: {exc.reply.body.decode()}") from exc
        return digest

    def add_blob(self, repository: str, data: bytes) -> str:
        """Store a blob; returns its digest."""
        digest = digest_of(data)
        with self._lock:
            self._repos[repository].blobs[digest] = data
        return digest

    def remove_tag(self, repository: str, tag: str) -> None:
        with self._lock:
            self._repos[repository].tags.pop(tag, None)

    # -- behaviours --------------------------------------------------------------------------
    def paginate(self, page_size: int, *, repository: str | None = None) -> None:
        """Tag lists come in pages of at most ``page_size`` with a ``Link`` to the next."""
        if page_size < 1:
            raise ValueError(f"page_size={page_size} is not valid; expected 1 or more")
        with self._lock:
            self._page_size[repository] = page_size

    def endless_pagination(self, *, repository: str | None = None) -> None:
        """Every tag page links to another page of new synthetic tags, forever."""
        with self._lock:
            self._endless.add(repository)

    def inject(self, fault: Fault, *, times: int | None = None) -> None:
        """Switch ``fault`` on for the next ``times`` matching requests (None: until clear())."""
        if times is not None and times < 1:
            raise ValueError(f"times={times} is not valid; expected 1 or more, or None")
        with self._lock:
            self._faults.append(_Armed(fault, times))

    def rate_limit(
        self,
        times: int,
        *,
        retry_after: int = 1,
        repository: str | None = None,
        kinds: Collection[Kind] | None = None,
    ) -> None:
        self.inject(
            Fault("rate_limit", repository, kinds_of(kinds), seconds=retry_after), times=times
        )

    def fail(
        self,
        times: int,
        *,
        status: int = 503,
        repository: str | None = None,
        kinds: Collection[Kind] | None = None,
    ) -> None:
        if not 500 <= status <= 599:
            raise ValueError(f"status={status} is not valid; expected a 5xx code")
        self.inject(Fault("error", repository, kinds_of(kinds), status=status), times=times)

    def slow(
        self,
        delay: float,
        *,
        times: int | None = None,
        repository: str | None = None,
        kinds: Collection[Kind] | None = None,
    ) -> None:
        self.inject(Fault("slow", repository, kinds_of(kinds), seconds=delay), times=times)

    def drip(
        self,
        pause: float,
        *,
        chunk_size: int = 16,
        times: int | None = None,
        repository: str | None = None,
        kinds: Collection[Kind] | None = None,
    ) -> None:
        self.inject(
            Fault("drip", repository, kinds_of(kinds), seconds=pause, size=chunk_size), times=times
        )

    def malformed(
        self,
        *,
        times: int | None = None,
        repository: str | None = None,
        kinds: Collection[Kind] | None = None,
    ) -> None:
        self.inject(Fault("malformed", repository, kinds_of(kinds)), times=times)

    def huge(
        self,
        size: int = 50 * 1024 * 1024,
        *,
        declare_length: bool = False,
        times: int | None = None,
        repository: str | None = None,
        kinds: Collection[Kind] | None = None,
    ) -> None:
        fault = Fault("huge", repository, kinds_of(kinds), size=size, declare_length=declare_length)
        self.inject(fault, times=times)

    def wrong_content_type(
        self,
        content_type: str = "text/html",
        *,
        times: int | None = None,
        repository: str | None = None,
        kinds: Collection[Kind] | None = None,
    ) -> None:
        self.inject(
            Fault("content_type", repository, kinds_of(kinds), content_type=content_type),
            times=times,
        )

    def clear(self) -> None:
        """Switch every fault and pagination setting off (content and log stay)."""
        with self._lock:
            self._faults.clear()
            self._page_size.clear()
            self._endless.clear()

    # -- the request log ---------------------------------------------------------------------
    @property
    def log(self) -> tuple[LoggedRequest, ...]:
        with self._lock:
            return tuple(self._log)

    def count(self, kind: Kind, *, repository: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self._log
                if r.kind is kind and (repository is None or r.repository == repository)
            )

    def counts(self) -> collections.Counter[Kind]:
        with self._lock:
            return collections.Counter(r.kind for r in self._log)

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- serving -----------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def serve(self) -> str:
        """Serve on 127.0.0.1:<ephemeral> in the running loop; returns and sets ``url``."""
        app = self.make_app()
        app.middlewares.append(self._tracked)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        # A client that gave up on a slow answer left its handler sleeping, and aiohttp's
        # shutdown waits only on connections still open: end those handlers here, so none
        # outlives the registry (or the test's event loop).
        handling, self._handling = list(self._handling), set()
        for task in handling:
            task.cancel()
        await asyncio.gather(*handling, return_exceptions=True)

    @web.middleware
    async def _tracked(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        task = asyncio.current_task()
        assert task is not None
        self._handling.add(task)
        try:
            return await handler(request)
        finally:
            self._handling.discard(task)

    def start(self) -> str:
        """Serve from a background thread with its own loop; returns and sets ``url``."""
        if self._thread is None:
            self._thread = BackgroundServer(self.make_app)
            self.url = self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None

    # -- request handling --------------------------------------------------------------------
    def _take_faults(self, kind: Kind, repository: str | None) -> list[Fault]:
        taken: list[Fault] = []
        with self._lock:
            for armed in self._faults:
                if armed.fault.matches(kind, repository):
                    taken.append(armed.fault)
                    if armed.remaining is not None:
                        armed.remaining -= 1
            self._faults = [a for a in self._faults if a.remaining != 0]
        return taken

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        kind, repository, reference = classify(request.method, request.path)
        faults = self._take_faults(kind, repository)
        by_kind: dict[str, Fault] = {f.what: f for f in faults}
        if (slow := by_kind.get("slow")) is not None:
            await asyncio.sleep(slow.seconds)
        if (limit := by_kind.get("rate_limit")) is not None:
            retry_after = {"Retry-After": str(int(limit.seconds))}
            reply = error_reply(429, "TOOMANYREQUESTS", "rate limit exceeded", **retry_after)
        elif (error := by_kind.get("error")) is not None:
            reply = error_reply(error.status, "UNAVAILABLE", "injected server error")
        else:
            body = await request.read() if request.method in ("PUT", "PATCH", "POST") else b""
            reply = self._answer(request, kind, repository, reference, body)
        entry = LoggedRequest(
            kind,
            request.method,
            request.path,
            request.query_string,
            repository,
            reply.status,
            "Authorization" in request.headers,
        )
        # Logged before the answer leaves, so a client that has its answer sees it counted.
        with self._lock:
            self._log.append(entry)
        return await self._write(request, reply, by_kind)

    async def _write(
        self, request: web.Request, reply: Reply, faults: Mapping[str, Fault]
    ) -> web.StreamResponse:
        body, length = reply.body, len(reply.body)
        if "malformed" in faults and body:
            body = body[: max(1, len(body) // 2)]
            length = len(body)
        huge = faults.get("huge")
        if huge is not None:
            length = huge.size
        response = web.StreamResponse(status=reply.status, headers=reply.headers)
        response.headers["Docker-Distribution-Api-Version"] = "registry/2.0"
        wrong_type = faults.get("content_type")
        response.content_type = (
            reply.content_type if wrong_type is None else wrong_type.content_type
        )
        if huge is None or huge.declare_length:
            response.content_length = length
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        drip = faults.get("drip")
        chunks = body_chunks(
            body, drip.size if drip else _CHUNK, None if huge is None else huge.size
        )
        try:
            for chunk in chunks:
                await response.write(chunk)
                if drip is not None:
                    await asyncio.sleep(drip.seconds)
            await response.write_eof()
        except ConnectionError:
            pass  # the client gave up on a huge or slow body, which is what tests provoke
        return response

    def _answer(
        self,
        request: web.Request,
        kind: Kind,
        repository: str | None,
        reference: str,
        body: bytes = b"",
    ) -> Reply:
        if kind is Kind.TOKEN:
            return self._auth.issue(request)
        denied = self._auth.check(request, repository)
        if denied is not None:
            return denied
        if kind is Kind.PING:
            return Reply(200, b"{}")
        if repository is None:
            return error_reply(404, "NOT_FOUND", f"no route for {request.path}")
        if kind is Kind.REFERRERS and not self.referrers:
            return Reply(404, b"404 page not found\n", "text/plain; charset=utf-8")
        if kind in (Kind.BLOB_UPLOAD, Kind.MANIFEST_PUT):
            with self._lock:
                return self._write_content(request, kind, repository, reference, body)
        with self._lock:
            known = repository in self._repos
            repo = self._repos[repository] if known else Repo()
            if kind is Kind.TAGS:
                return self._tags(request, repository, repo, known)
            if kind is Kind.REFERRERS:
                if not known:
                    return error_reply(
                        404, "NAME_UNKNOWN", f"repository name not known to registry: {repository}"
                    )
                wanted = request.query.get("artifactType")
                return referrers_index(
                    repo,
                    reference,
                    wanted,
                    filtering=self.filter_referrers,
                    path=request.path,
                    page=request.query.get("page", ""),
                    page_size=self.referrers_page_size,
                )
            if kind is Kind.BLOB:
                data = repo.blobs.get(reference)
                if data is None:
                    return error_reply(404, "BLOB_UNKNOWN", "blob unknown to registry")
                headers = {"Docker-Content-Digest": reference}
                return Reply(200, data, "application/octet-stream", headers)
            digest = repo.tags.get(reference, reference)
            stored = repo.manifests.get(digest)
        if stored is None:
            return error_reply(404, "MANIFEST_UNKNOWN", f"manifest unknown: {reference}")
        media_type, data = stored
        accept = ",".join(request.headers.getall("Accept", []))
        if accept and media_type not in accept and "*/*" not in accept:
            return error_reply(404, "MANIFEST_UNKNOWN", f"manifest unknown: {reference}")
        return Reply(200, data, media_type, {"Docker-Content-Digest": digest})

    def _write_content(
        self, request: web.Request, kind: Kind, repository: str, reference: str, body: bytes
    ) -> Reply:
        """Uploads and manifest pushes (the caller holds the lock)."""
        repo = self._repos[repository]
        if kind is Kind.MANIFEST_PUT:
            try:
                digest, subject = store_manifest(
                    repo,
                    reference,
                    request.headers.get("Content-Type", ""),
                    body,
                    index_referrers=self.referrers,
                )
            except ContentError as exc:
                return exc.reply
            headers = {
                "Location": f"/v2/{repository}/manifests/{digest}",
                "Docker-Content-Digest": digest,
            }
            if subject is not None:
                headers["OCI-Subject"] = subject
            return Reply(201, b"", headers=headers)
        if request.method == "POST" and not reference:
            upload_id = uuid.uuid4().hex
            self._uploads[upload_id] = Upload(repository)
            location = f"/v2/{repository}/blobs/uploads/{upload_id}"
            headers = {"Location": location, "Range": "0-0", "Docker-Upload-UUID": upload_id}
            return Reply(202, b"", headers=headers)
        upload = self._uploads.get(reference)
        if upload is None or upload.repository != repository:
            return error_reply(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
        upload.data += body
        if request.method == "PATCH":
            location = f"/v2/{repository}/blobs/uploads/{reference}"
            headers = {"Location": location, "Range": f"0-{max(0, len(upload.data) - 1)}"}
            return Reply(202, b"", headers=headers)
        if request.method != "PUT":
            return error_reply(405, "UNSUPPORTED", "the operation is unsupported")
        expected = request.query.get("digest", "")
        actual = digest_of(bytes(upload.data))
        if not is_digest(expected) or expected != actual:
            return error_reply(
                400, "DIGEST_INVALID", "provided digest did not match uploaded content"
            )
        del self._uploads[reference]
        repo.blobs[actual] = bytes(upload.data)
        headers = {"Location": f"/v2/{repository}/blobs/{actual}", "Docker-Content-Digest": actual}
        return Reply(201, b"", headers=headers)

    def _tags(self, request: web.Request, name: str, repo: Repo, known: bool) -> Reply:
        endless = name in self._endless or None in self._endless
        if not known and not endless:
            return error_reply(
                404, "NAME_UNKNOWN", f"repository name not known to registry: {name}"
            )
        raw_n = request.query.get("n")
        if raw_n is not None and not (raw_n.isdigit() and len(raw_n) < 7):
            return error_reply(
                400, "PAGINATION_NUMBER_INVALID", f"invalid number of results: {raw_n}"
            )
        page, link = tag_page(
            name,
            repo.tags,
            n=None if raw_n is None else int(raw_n),
            last=request.query.get("last", ""),
            cap=self._page_size.get(name, self._page_size.get(None)),
            endless=endless,
        )
        headers = {} if link is None else {"Link": link}
        return Reply(200, json.dumps({"name": name, "tags": page}).encode(), headers=headers)

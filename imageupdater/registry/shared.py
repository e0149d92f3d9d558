"""The registry caches shared between replicas through Redis (``--redis``): the only Redis code.

What is shared, under keys starting with ``SharedCacheSettings.prefix``:

* tag lists, one Redis hash per (registry API URL, repository) whose fields are a hash of the
  credential *reference* (never a secret), expiring with the client's tag-list TTL; a push
  event deletes the one key, whatever the credentials;
* manifests and config blobs by digest (immutable, kept a day so Argo CD's Redis does not
  fill up). Redis is shared with Argo CD, so what comes back is hashed and compared with the
  digest before it is believed; a mismatch is counted and read from the registry again;
* a cross-replica single flight for tag lists: the replica that wins ``SET lock NX PX`` asks
  the registry, the others poll briefly for its answer, then ask the registry themselves.

Redis down means slower, never wrong: every call is bounded by ``timeout``; any error makes
the caller use its own caches and the registry, is logged once per outage (and once on
recovery), counted, and Redis is left alone for ``retry_after`` seconds. The only error that
stops the process is Redis refusing the password at start: that is configuration, not an
outage.
"""

from __future__ import annotations

__all__ = ["SharedCache", "SharedCounters", "SharedSnapshot", "credential_identity"]

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Literal, TypedDict, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError

from imageupdater.errors import InvalidInput
from imageupdater.shared_cache_settings import SharedCacheSettings

_LOG = logging.getLogger("image_updater.shared_cache")
_T = TypeVar("_T")

SharedName = Literal["tags", "manifest", "config"]
# "hit": answered from Redis; "waited": answered by another replica's fetch after waiting;
# "miss": asked the registry; "poisoned": Redis held something that failed its check.
Outcome = Literal["hit", "waited", "miss", "poisoned"]

BLOB_TTL = 24 * 3600.0  # content-addressed, so any TTL is right; this one bounds memory
MAX_BLOB_BYTES = 1024 * 1024  # larger manifests (huge indexes) stay in the local cache only
_POLL = 0.05  # seconds between looks while another replica fetches a tag list
# Delete the lock only if it is still ours: a fetch that outlived lock_ttl must not free
# the lock of the replica that took over.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


class SharedSnapshot(TypedDict):
    lookups: dict[str, dict[str, int]]  # cache -> outcome -> n
    errors: dict[str, int]  # operation -> n


class SharedCounters:
    """Counts shared-cache lookups by (cache, outcome) and Redis errors by operation."""

    def __init__(self) -> None:
        self._lookups: Counter[tuple[str, str]] = Counter()
        self._errors: Counter[str] = Counter()

    def lookup(self, cache: SharedName, outcome: Outcome) -> None:
        self._lookups[(cache, outcome)] += 1

    def error(self, operation: str) -> None:
        self._errors[operation] += 1

    def count(self, cache: SharedName, outcome: Outcome) -> int:
        return self._lookups[(cache, outcome)]

    @property
    def errors(self) -> int:
        return sum(self._errors.values())

    def snapshot(self) -> SharedSnapshot:
        lookups: dict[str, dict[str, int]] = {}
        for (cache, outcome), n in sorted(self._lookups.items()):
            lookups.setdefault(cache, {})[outcome] = n
        return {"lookups": lookups, "errors": dict(sorted(self._errors.items()))}


def credential_identity(reference: str) -> str:
    """A short stable name for a credential reference (``pullsecret:ns/name``…), so keys say
    which credentials read a tag list without showing even the reference."""
    if not reference:
        return "anonymous"
    return hashlib.sha256(reference.encode()).hexdigest()[:24]


class _Unavailable(Exception):
    """Redis did not answer (or is being left alone after an error)."""


class SharedCache:
    """One Redis connection pool and the shared caches on it; open with :meth:`open`."""

    def __init__(
        self,
        settings: SharedCacheSettings,
        *,
        logger: logging.Logger | None = None,
        counters: SharedCounters | None = None,
    ) -> None:
        self.settings = settings
        self.counters = counters or SharedCounters()
        self._log = logger or _LOG
        self._redis: aioredis.Redis | None = None
        self._retry_at = 0.0  # monotonic time before which Redis is not asked
        self._outage = False
        # Repositories a push invalidated here: their next lookup asks the registry even if
        # the key's deletion in Redis has not happened yet (or failed).
        self._bypass: set[tuple[str, str]] = set()
        self._pending: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        """Connect and check the password. A refused password is ``InvalidInput`` (the
        process should not start misconfigured); an unreachable Redis is only logged."""
        s = self.settings
        self._redis = aioredis.Redis(
            host=s.host,
            port=s.port,
            db=s.db,
            username=s.username,
            password=s.password,
            socket_timeout=s.timeout,
            socket_connect_timeout=s.timeout,
            retry=Retry(NoBackoff(), 0),  # we fall back instead of retrying
            ssl=s.tls,
            ssl_ca_certs=s.ca_file,
            ssl_cert_reqs="required",
            ssl_check_hostname=s.tls,
            decode_responses=False,
        )
        try:
            await asyncio.wait_for(self._redis.ping(), s.timeout * 5)
        except AuthenticationError as exc:
            await self.close()
            source = "its password" if s.password else "no password"
            raise InvalidInput(
                f"--redis {s.where}: Redis refused {source} ({self._redact(exc)}); check "
                "REDIS_PASSWORD or --redis-password-file (Argo CD's: Secret argocd-redis, key auth)"
            ) from None
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed("connect", exc)
        else:
            self._log.info("shared registry cache: Redis at %s", s.where)

    async def close(self) -> None:
        for task in list(self._pending):
            task.cancel()
        for task in list(self._pending):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    @property
    def available(self) -> bool:
        """Whether the last Redis call worked (what the readiness of the cache says)."""
        return self._redis is not None and not self._outage

    # -- tag lists ------------------------------------------------------------------------

    async def tags(
        self,
        api_url: str,
        repository: str,
        credential: str,
        *,
        ttl: float,
        fetch: Callable[[], Awaitable[tuple[str, ...]]],
    ) -> tuple[str, ...]:
        """The tag list from Redis, from another replica's concurrent fetch, or from
        ``fetch`` (which is then stored for the others)."""
        key = self._tags_key(api_url, repository)
        field = credential_identity(credential)
        bypass = (api_url, repository) in self._bypass
        self._bypass.discard((api_url, repository))
        if not bypass:
            try:
                found = self._decode_tags(await self._run("read", lambda r: r.hget(key, field)))
            except _Unavailable:
                return await fetch()
            if found is not None:
                self.counters.lookup("tags", "hit")
                return found
        lock = f"{self.settings.prefix}lock:{api_url}/{repository}#{field}"
        token = secrets.token_hex(8)
        lock_ms = int(self.settings.lock_ttl * 1000)
        try:
            mine = bool(await self._run("lock", lambda r: r.set(lock, token, nx=True, px=lock_ms)))
        except _Unavailable:
            return await fetch()
        if not mine and not bypass:
            waited = await self._wait_for_other(key, field, lock)
            if waited is not None:
                self.counters.lookup("tags", "waited")
                return waited
        try:
            if mine and not bypass:
                # Another replica may have stored the list and let the lock go between our
                # read and our lock: look once more before asking the registry.
                stored = await self._stored_tags(key, field)
                if stored is not None:
                    self.counters.lookup("tags", "waited")
                    return stored
            self.counters.lookup("tags", "miss")
            tags = await fetch()
            if ttl > 0:
                await self._store_tags(key, field, tags, ttl)
        finally:
            if mine:
                await self._quietly("unlock", lambda r: r.eval(_RELEASE, 1, lock, token))
        return tags

    async def _stored_tags(self, key: str, field: str) -> tuple[str, ...] | None:
        try:
            return self._decode_tags(await self._run("read", lambda r: r.hget(key, field)))
        except _Unavailable:
            return None

    def forget_tags(self, api_url: str, repository: str) -> None:
        """Drop ``repository``'s shared tag lists (a push event). The deletion runs in the
        background; until it has, this replica's next lookup skips Redis anyway."""
        self._bypass.add((api_url, repository))
        key = self._tags_key(api_url, repository)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop, no Redis client to use: the bypass and the TTL do the job
        task = loop.create_task(self._quietly("invalidate", lambda r: r.delete(key)))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Wait for background deletions (tests; shutdown)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _wait_for_other(self, key: str, field: str, lock: str) -> tuple[str, ...] | None:
        deadline = time.monotonic() + self.settings.lock_wait
        while time.monotonic() < deadline:
            await asyncio.sleep(_POLL)
            try:
                raw, held = await self._run("wait", _read_and_check(key, field, lock))
            except _Unavailable:
                return None
            found = self._decode_tags(raw)
            if found is not None:
                return found
            if not held:
                return None  # the fetch failed or was invalidated: ask ourselves
        return None

    async def _store_tags(self, key: str, field: str, tags: tuple[str, ...], ttl: float) -> None:
        value = json.dumps(list(tags), separators=(",", ":")).encode()
        ms = max(1, int(ttl * 1000))
        await self._quietly("write", _write_expiring(key, field, value, ms))

    def _decode_tags(self, raw: object) -> tuple[str, ...] | None:
        if raw is None:
            return None
        try:
            value = json.loads(raw) if isinstance(raw, bytes | str) else None
        except ValueError:
            value = None
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            self.counters.lookup("tags", "poisoned")
            self._log.warning(
                "shared cache: ignoring a tag list in Redis that is not a list of tags"
            )
            return None
        return tuple(value)

    def _tags_key(self, api_url: str, repository: str) -> str:
        return f"{self.settings.prefix}tags:{api_url}/{repository}"

    # -- content-addressed blobs ------------------------------------------------------------

    async def blob(
        self, cache: Literal["manifest", "config"], digest: str
    ) -> tuple[bytes, str | None] | None:
        """``(body, content type)`` stored under ``digest``, only if its bytes hash to it."""
        try:
            raw = await self._run("read", lambda r: r.get(self._blob_key(cache, digest)))
        except _Unavailable:
            return None
        if not isinstance(raw, bytes):
            self.counters.lookup(cache, "miss")
            return None
        header, sep, body = raw.partition(b"\n")
        algorithm, _, _ = digest.partition(":")
        try:
            actual = f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}" if sep else ""
        except ValueError:
            actual = ""
        if actual != digest.lower():
            self.counters.lookup(cache, "poisoned")
            self._log.warning(
                "shared cache: %s %s in Redis does not match its digest; ignored, reading it "
                "from the registry",
                cache,
                digest,
            )
            return None
        self.counters.lookup(cache, "hit")
        return body, header.decode("ascii", "replace") or None

    async def keep_blob(
        self,
        cache: Literal["manifest", "config"],
        digest: str,
        body: bytes,
        content_type: str | None,
    ) -> None:
        """Store verified bytes for the other replicas (large ones are not shared)."""
        if len(body) > MAX_BLOB_BYTES:
            return
        header = (content_type or "").replace("\n", " ").encode("ascii", "replace")
        key = self._blob_key(cache, digest)
        ms = int(BLOB_TTL * 1000)
        await self._quietly("write", lambda r: r.set(key, header + b"\n" + body, px=ms))

    def _blob_key(self, cache: str, digest: str) -> str:
        return f"{self.settings.prefix}{cache}:{digest.lower()}"

    # -- calls, outages ---------------------------------------------------------------------

    async def _run(self, operation: str, call: Callable[[aioredis.Redis], Awaitable[_T]]) -> _T:
        redis = self._redis
        if redis is None or time.monotonic() < self._retry_at:
            raise _Unavailable
        try:
            result = await asyncio.wait_for(call(redis), self.settings.timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(operation, exc)
            raise _Unavailable from None
        if self._outage:
            self._outage = False
            self._log.info("shared cache: Redis at %s answers again", self.settings.where)
        return result

    async def _quietly(
        self, operation: str, call: Callable[[aioredis.Redis], Awaitable[object]]
    ) -> None:
        with contextlib.suppress(_Unavailable):
            await self._run(operation, call)

    def _failed(self, operation: str, exc: BaseException) -> None:
        self.counters.error(operation)
        self._retry_at = time.monotonic() + self.settings.retry_after
        if not self._outage:
            self._outage = True
            self._log.warning(
                "shared cache: Redis at %s is unavailable (%s); using this replica's own "
                "caches and the registries, trying again every %gs",
                self.settings.where,
                self._redact(exc),
                self.settings.retry_after,
            )

    def _redact(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        password = self.settings.password
        return text.replace(password, "***") if password else text


def _read_and_check(
    key: str, field: str, lock: str
) -> Callable[[aioredis.Redis], Awaitable[list[object]]]:
    async def call(redis: aioredis.Redis) -> list[object]:
        pipe = redis.pipeline(transaction=False)
        pipe.hget(key, field)
        pipe.exists(lock)
        return await pipe.execute()

    return call


def _write_expiring(
    key: str, field: str, value: bytes, ms: int
) -> Callable[[aioredis.Redis], Awaitable[list[object]]]:
    async def call(redis: aioredis.Redis) -> list[object]:
        pipe = redis.pipeline(transaction=True)
        pipe.hset(key, field, value)
        # NX: the hash expires ttl after its first field was written, so no field outlives
        # its TTL (a later field may go early, which costs only a fetch). Redis 7.0+.
        pipe.pexpire(key, ms, nx=True)
        return await pipe.execute()

    return call

"""The registry client: tag lists, manifest digests, per-tag metadata and image
signatures, with caches.

One :class:`RegistryClient` owns one aiohttp session (opened and closed by ``async with``)
and every cache, so callers that share a client share tag lists (short TTL), manifest
digests (short TTL, from ``HEAD``) and manifests and config blobs by digest (immutable,
LRU-bounded). Keying metadata by digest rather than by tag name means a re-pushed tag is
re-read as soon as its digest moves, and an unchanged tag costs no manifest or blob GET.
Signature verdicts and artifacts are cached by :mod:`imageupdater.registry.signatures`.
"""

from __future__ import annotations

__all__ = ["RegistryClient"]

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Self, TypeVar

from yarl import URL

from imageupdater.credentials import CredentialRef
from imageupdater.errors import ImageUpdaterError, RegistryProtocolError
from imageupdater.platforms import Platform, platform_matches
from imageupdater.registries_conf import RegistryEndpoint
from imageupdater.registry.cache import LruCache, SingleFlight
from imageupdater.registry.clock import Clock, SystemClock
from imageupdater.registry.counters import CacheName, Counters, CountersSnapshot, RequestKind
from imageupdater.registry.manifests import (
    ACCEPT_MANIFESTS,
    ImageConfig,
    ImageManifest,
    Manifest,
    ManifestList,
    check_digest_form,
    content_digest,
    parse_config,
    parse_manifest,
    verify_digest,
)
from imageupdater.registry.requester import CredentialProvider, Requester, registry_label
from imageupdater.registry.settings import ClientSettings
from imageupdater.registry.taglist import read_tag_list
from imageupdater.registry.tls import TlsContexts
from imageupdater.registry.transport import Answer, Transport
from imageupdater.tags import TagInfo

if TYPE_CHECKING:
    from imageupdater.registry.shared import SharedCache
    from imageupdater.registry.signatures import (
        FoundSignatures,
        SignatureReader,
        SignatureSettings,
    )
    from imageupdater.signatures import Verdict, VerificationKey

_LOG = logging.getLogger(__name__)

_NEVER = datetime.min.replace(tzinfo=UTC)  # orders undated images before dated ones
_TagsKey = tuple[str, str, str]  # (api_url, repository, credential ref text)
_DigestKey = tuple[str, str, str]  # (api_url, repository, tag)
_T = TypeVar("_T")
_BlobKey = tuple[str, str]  # (api_url, digest): content-addressed, the same in every repository


class RegistryClient:
    """Talks to container registries for the resolver; safe to share across tasks."""

    def __init__(
        self,
        *,
        settings: ClientSettings | None = None,
        credentials: CredentialProvider | None = None,
        clock: Clock | None = None,
        counters: Counters | None = None,
        logger: logging.Logger | None = None,
        tls_contexts: TlsContexts | None = None,
        signature_settings: SignatureSettings | None = None,
        shared: SharedCache | None = None,
    ) -> None:
        """``tls_contexts``: SSL contexts to share with other clients (default: this
        client's own). Proxies are read from the environment when the client opens.
        ``signature_settings``: signature cache lifetimes and read limits.
        ``shared``: the caches shared with other replicas (Redis), asked on a local miss;
        its owner opens and closes it."""
        self.settings = settings or ClientSettings()
        self.counters = counters or Counters()
        clock = clock or SystemClock()
        self._clock = clock
        self._cycle_started: float | None = None
        self._log = logger or _LOG
        self._transport = Transport(
            settings=self.settings,
            clock=clock,
            counters=self.counters,
            logger=self._log,
            tls_contexts=tls_contexts,
        )
        self._requester = Requester(
            transport=self._transport,
            settings=self.settings,
            clock=clock,
            counters=self.counters,
            credentials=credentials,
            logger=self._log,
        )
        s = self.settings
        self._tag_lists: LruCache[_TagsKey, tuple[str, ...]] = LruCache(
            max_entries=4096, clock=clock, ttl=s.tag_list_ttl
        )
        self._tag_flights: SingleFlight[_TagsKey, tuple[str, ...]] = SingleFlight()
        self._digests: LruCache[_DigestKey, str] = LruCache(
            max_entries=s.max_cached_digests, clock=clock, ttl=s.digest_ttl
        )
        self._manifests: LruCache[_BlobKey, Manifest] = LruCache(
            max_entries=s.max_cached_manifests, clock=clock
        )
        self._configs: LruCache[_BlobKey, ImageConfig] = LruCache(
            max_entries=s.max_cached_manifests, clock=clock
        )
        # Client-level flights fill the caches before they end (the requester's own
        # single-flight shares only the HTTP answer).
        self._manifest_flights: SingleFlight[_BlobKey, Manifest] = SingleFlight()
        self._config_flights: SingleFlight[_BlobKey, ImageConfig] = SingleFlight()
        self._head_flights: SingleFlight[_DigestKey, str] = SingleFlight()
        self._get_flights: SingleFlight[_DigestKey, tuple[str, Manifest]] = SingleFlight()
        self._signature_settings = signature_settings
        self._signature_reader: SignatureReader | None = None
        self._shared = shared

    async def __aenter__(self) -> Self:
        await self._transport.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._transport.close()

    @contextlib.contextmanager
    def cycle(self) -> Iterator[None]:
        """Within the block, what was read since it began stays fresh whatever the TTLs say,
        so a reconcile cycle that runs longer than a TTL still asks each repository once."""
        self._cycle_started = self._clock.monotonic()
        try:
            yield
        finally:
            self._cycle_started = None

    @property
    def shared(self) -> SharedCache | None:
        """The caches shared with other replicas, if any (their counters, for metrics)."""
        return self._shared

    @property
    def tls_contexts(self) -> TlsContexts:
        """The SSL contexts this client uses (``built`` counts those it had to build)."""
        return self._transport.contexts

    def snapshot(self) -> CountersSnapshot:
        return self.counters.snapshot()

    async def ping(self, endpoint: RegistryEndpoint) -> None:
        """Check that ``endpoint`` speaks the Docker v2 API (answered once per endpoint)."""
        await self._requester.challenge(endpoint)

    # -- tag lists --------------------------------------------------------------------------

    async def list_tags(
        self,
        endpoint: RegistryEndpoint,
        repository: str,
        *,
        credentials: CredentialRef | None = None,
    ) -> tuple[str, ...]:
        """Every tag of ``repository`` in the registry's order, following ``Link`` pages.

        ``credentials`` (an image's pull secret) overrides the endpoint's own; the same
        holds for every method below.
        """
        credentials = credentials or endpoint.credentials
        key = (endpoint.api_url, repository, str(credentials) if credentials else "")
        cached = self._tag_lists.get(key, fresh_since=self._cycle_started)
        self.counters.cache("tags", hit=cached is not None)
        if cached is not None:
            return cached
        return await self._tag_flights.do(
            key, lambda: self._read_and_keep_tags(endpoint, repository, credentials, key)
        )

    def invalidate(self, api_url: str, repository: str) -> int:
        """Forget what is cached of ``repository`` at ``api_url`` that a push can change: its
        tag list (under every credential) and the digests its tags pointed at. Manifests and
        configs are kept: they are cached by digest and cannot change. A lookup already in
        flight is not cut short. Returns how many entries went."""

        def doomed(key: tuple[str, str, str]) -> bool:
            return key[0] == api_url and key[1] == repository

        if self._shared is not None:
            self._shared.forget_tags(api_url, repository)
        return self._tag_lists.discard_where(doomed) + self._digests.discard_where(doomed)

    async def _read_and_keep_tags(
        self,
        endpoint: RegistryEndpoint,
        repository: str,
        credentials: CredentialRef | None,
        key: _TagsKey,
    ) -> tuple[str, ...]:
        def fetch() -> Awaitable[tuple[str, ...]]:
            return read_tag_list(
                self._requester,
                endpoint,
                repository,
                credentials=credentials,
                settings=self.settings,
            )

        if self._shared is None:
            tags = await fetch()
        else:
            tags = await self._shared.tags(
                endpoint.api_url, repository, key[2], ttl=self.settings.tag_list_ttl, fetch=fetch
            )
        self._tag_lists.put(key, tags)
        return tags

    # -- digests --------------------------------------------------------------------------

    async def manifest_digest(
        self,
        endpoint: RegistryEndpoint,
        repository: str,
        tag: str,
        *,
        credentials: CredentialRef | None = None,
    ) -> str:
        """The digest ``repository:tag`` points at now (from ``HEAD``, cached briefly)."""
        credentials = credentials or endpoint.credentials
        key = (endpoint.api_url, repository, tag)
        cached = self._digests.get(key, fresh_since=self._cycle_started)
        self.counters.cache("digest", hit=cached is not None)
        if cached is not None:
            return cached
        return await self._head_digest(endpoint, repository, tag, credentials)

    async def _head_digest(
        self,
        endpoint: RegistryEndpoint,
        repository: str,
        tag: str,
        credentials: CredentialRef | None,
    ) -> str:
        return await self._head_flights.do(
            (endpoint.api_url, repository, tag),
            lambda: self._fetch_head_digest(endpoint, repository, tag, credentials),
        )

    async def _fetch_head_digest(
        self,
        endpoint: RegistryEndpoint,
        repository: str,
        tag: str,
        credentials: CredentialRef | None,
    ) -> str:
        registry = registry_label(endpoint)
        answer = await self._requester.request(
            endpoint,
            "HEAD",
            self._manifest_url(endpoint, repository, tag),
            kind="manifest_head",
            repository=repository,
            credentials=credentials,
            what=f"manifest {repository}:{tag}",
            accept=ACCEPT_MANIFESTS,
        )
        digest = answer.header("docker-content-digest")
        if digest is None:
            # Some registries omit the header on HEAD; the body's hash is the digest.
            digest, _ = await self._get_by_tag(endpoint, repository, tag, credentials)
            return digest
        check_digest_form(digest, registry=registry, what=f"manifest {repository}:{tag}")
        self._digests.put((endpoint.api_url, repository, tag), digest)
        return digest

    async def _get_by_tag(
        self,
        endpoint: RegistryEndpoint,
        repository: str,
        tag: str,
        credentials: CredentialRef | None,
    ) -> tuple[str, Manifest]:
        return await self._get_flights.do(
            (endpoint.api_url, repository, tag),
            lambda: self._fetch_by_tag(endpoint, repository, tag, credentials),
        )

    async def _fetch_by_tag(
        self,
        endpoint: RegistryEndpoint,
        repository: str,
        tag: str,
        credentials: CredentialRef | None,
    ) -> tuple[str, Manifest]:
        registry = registry_label(endpoint)
        what = f"manifest {repository}:{tag}"
        answer = await self._requester.request(
            endpoint,
            "GET",
            self._manifest_url(endpoint, repository, tag),
            kind="manifest_get",
            repository=repository,
            credentials=credentials,
            what=what,
            accept=ACCEPT_MANIFESTS,
        )
        advertised = answer.header("docker-content-digest")
        if advertised is not None:
            verify_digest(answer.body, advertised, registry=registry, what=what)
            digest = advertised.lower()
        else:
            digest = content_digest(answer.body)
        manifest = parse_manifest(
            answer.body, answer.header("content-type"), registry=registry, what=what
        )
        self._digests.put((endpoint.api_url, repository, tag), digest)
        self._manifests.put((endpoint.api_url, digest), manifest)
        return digest, manifest

    # -- metadata -------------------------------------------------------------------------

    async def tag_info(
        self,
        endpoint: RegistryEndpoint,
        repository: str,
        tag: str,
        *,
        platforms: Sequence[Platform],
        credentials: CredentialRef | None = None,
    ) -> TagInfo | None:
        """``tag`` with its digest, creation date and labels, or ``None`` when the image has
        no manifest for any of ``platforms`` (empty ``platforms`` accepts every platform).

        For a manifest list or OCI index, ``digest`` is the list's own digest and
        ``created`` the newest among the matching platforms' images (upstream §5.2).
        """
        credentials = credentials or endpoint.credentials
        key = (endpoint.api_url, repository, tag)
        digest = self._digests.get(key, max_age=self.settings.metadata_recheck)
        self.counters.cache("digest", hit=digest is not None)
        if digest is None:
            if self._digests.get_stale(key) is not None:
                # Seen before: a HEAD tells whether it moved, without a GET.
                digest = await self._head_digest(endpoint, repository, tag, credentials)
            else:
                digest, _ = await self._get_by_tag(endpoint, repository, tag, credentials)
        manifest = await self._manifest(endpoint, repository, digest, credentials)
        if isinstance(manifest, ImageManifest):
            config = await self._config(endpoint, repository, manifest, credentials)
            if not _platform_ok(platforms, config.platform):
                self._log.debug(
                    "%s:%s is for %s, not one of the wanted platforms",
                    repository,
                    tag,
                    config.platform,
                )
                return None
            return TagInfo(tag, digest=digest, created=config.created, labels=config.labels)
        return await self._list_info(
            endpoint, repository, tag, digest, manifest, platforms, credentials
        )

    async def _list_info(
        self,
        endpoint: RegistryEndpoint,
        repository: str,
        tag: str,
        digest: str,
        manifest: ManifestList,
        platforms: Sequence[Platform],
        credentials: CredentialRef | None,
    ) -> TagInfo | None:
        registry = registry_label(endpoint)
        if not manifest.entries:
            raise RegistryProtocolError(
                f"registry {registry}: manifest list {repository}:{tag} is empty",
                registry=registry,
            )
        children = [e for e in manifest.entries if _platform_ok(platforms, e.platform)]
        if not children:
            self._log.debug(
                "%s:%s has no manifest for the wanted platforms (it has %s)",
                repository,
                tag,
                ", ".join(str(e.platform) for e in manifest.entries if e.platform),
            )
            return None

        async def child_config(child_digest: str) -> ImageConfig:
            child = await self._manifest(endpoint, repository, child_digest, credentials)
            if not isinstance(child, ImageManifest):
                raise RegistryProtocolError(
                    f"registry {registry}: manifest list {repository}:{tag} nests another "
                    f"list ({child_digest})",
                    registry=registry,
                )
            return await self._config(endpoint, repository, child, credentials)

        configs = await asyncio.gather(*(child_config(c.digest) for c in children))
        newest = max(configs, key=lambda c: c.created or _NEVER)
        return TagInfo(tag, digest=digest, created=newest.created, labels=newest.labels)

    async def _manifest(
        self,
        endpoint: RegistryEndpoint,
        repository: str,
        digest: str,
        credentials: CredentialRef | None,
    ) -> Manifest:
        what = f"manifest {repository}@{digest}"

        def parse(answer: Answer, registry: str) -> Manifest:
            content_type = answer.header("content-type")
            return parse_manifest(answer.body, content_type, registry=registry, what=what)

        return await self._by_digest(
            self._manifests,
            self._manifest_flights,
            "manifest",
            endpoint,
            repository,
            digest,
            credentials,
            url=lambda: self._manifest_url(endpoint, repository, digest),
            kind="manifest_get",
            what=what,
            accept=ACCEPT_MANIFESTS,
            parse=parse,
        )

    async def _config(
        self,
        endpoint: RegistryEndpoint,
        repository: str,
        manifest: ImageManifest,
        credentials: CredentialRef | None,
    ) -> ImageConfig:
        digest = manifest.config_digest
        what = f"config blob {repository}@{digest}"
        return await self._by_digest(
            self._configs,
            self._config_flights,
            "config",
            endpoint,
            repository,
            digest,
            credentials,
            url=lambda: URL(f"{endpoint.api_url}/v2/{repository}/blobs/{digest}"),
            kind="blob",
            what=what,
            accept=None,
            parse=lambda answer, registry: parse_config(answer.body, registry=registry, what=what),
        )

    async def _by_digest(
        self,
        cache: LruCache[_BlobKey, _T],
        flights: SingleFlight[_BlobKey, _T],
        cache_name: CacheName,
        endpoint: RegistryEndpoint,
        repository: str,
        digest: str,
        credentials: CredentialRef | None,
        *,
        url: Callable[[], URL],
        kind: RequestKind,
        what: str,
        accept: str | None,
        parse: Callable[[Answer, str], _T],
    ) -> _T:
        """Content-addressed data: kept by digest (it can never change), fetched once.
        (``url`` is built only for a fetch: most calls are answered by the cache.)

        The fetch runs inside a flight and fills the cache before the flight ends, so a
        caller arriving as it finishes finds the entry rather than asking again.
        """
        key = (endpoint.api_url, digest)
        cached = cache.get(key)
        self.counters.cache(cache_name, hit=cached is not None)
        if cached is not None:
            return cached

        shared = self._shared
        shared_as: Literal["manifest", "config"] = (
            "manifest" if cache_name == "manifest" else "config"
        )

        async def fetch() -> _T:
            registry = registry_label(endpoint)
            check_digest_form(digest, registry=registry, what=what)
            if shared is not None:
                found = await self._from_shared(shared, shared_as, digest, url, registry, parse)
                if found is not None:
                    cache.put(key, found[0])
                    return found[0]
            answer = await self._requester.request(
                endpoint,
                "GET",
                url(),
                kind=kind,
                repository=repository,
                credentials=credentials,
                what=what,
                accept=accept,
            )
            verify_digest(answer.body, digest, registry=registry, what=what)
            value = parse(answer, registry)
            cache.put(key, value)
            if shared is not None:
                content_type = answer.header("content-type")
                await shared.keep_blob(shared_as, digest, answer.body, content_type)
            return value

        return await flights.do(key, fetch)

    async def _from_shared(
        self,
        shared: SharedCache,
        name: Literal["manifest", "config"],
        digest: str,
        url: Callable[[], URL],
        registry: str,
        parse: Callable[[Answer, str], _T],
    ) -> tuple[_T] | None:
        """What another replica read, if its bytes match ``digest`` and parse (the content
        type is not covered by the digest: if it misleads the parser, ask the registry)."""
        stored = await shared.blob(name, digest)
        if stored is None:
            return None
        body, content_type = stored
        headers = {"content-type": content_type} if content_type else {}
        try:
            return (parse(Answer(200, url(), headers, body), registry),)
        except ImageUpdaterError as exc:
            shared.counters.lookup(name, "poisoned")
            self._log.warning("shared cache: %s %s does not parse, ignored: %s", name, digest, exc)
            return None

    # -- signatures -------------------------------------------------------------------------

    def _signatures(self) -> SignatureReader:
        # Few images are verified: the signature modules load when the first one is, which
        # keeps them out of every other start.
        if self._signature_reader is None:
            from imageupdater.registry.signatures import SignatureReader, SignatureSettings

            self._signature_reader = SignatureReader(
                requester=self._requester,
                counters=self.counters,
                clock=self._clock,
                settings=self._signature_settings or SignatureSettings(),
                logger=self._log,
                cycle_started=lambda: self._cycle_started,
            )
        return self._signature_reader

    async def verify_signature(
        self,
        endpoint: RegistryEndpoint,
        repository: str,
        digest: str,
        key: VerificationKey,
        *,
        credentials: CredentialRef | None = None,
    ) -> Verdict:
        """Whether ``repository@digest`` carries a cosign signature by ``key``.

        ``Verified`` stays cached; ``Unsigned`` and ``BadSignature`` are asked again after
        ``SignatureSettings.recheck_after`` (not within one :meth:`cycle`). Registry
        failures raise as elsewhere (a 5xx is never "unsigned"). See
        :mod:`imageupdater.registry.signatures` for where signatures are looked for.
        """
        return await self._signatures().verify(
            endpoint, repository, digest, key, credentials=credentials
        )

    async def signatures(
        self,
        endpoint: RegistryEndpoint,
        repository: str,
        digest: str,
        *,
        credentials: CredentialRef | None = None,
    ) -> FoundSignatures:
        """Every cosign signature of ``repository@digest`` in every place, as found (not yet
        judged: ``.verdict(key)`` does that). Not cached as a whole; artifacts are."""
        return await self._signatures().find(endpoint, repository, digest, credentials=credentials)

    @staticmethod
    def _manifest_url(endpoint: RegistryEndpoint, repository: str, reference: str) -> URL:
        return URL(f"{endpoint.api_url}/v2/{repository}/manifests/{reference}")


def _platform_ok(wanted: Sequence[Platform], actual: Platform | None) -> bool:
    if actual is None:
        return not wanted  # an image that does not say its platform fits only "any"
    return platform_matches(wanted, actual)

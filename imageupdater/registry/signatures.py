"""Finding and judging the cosign signatures of one image digest in its registry.

Where signatures are looked for, in this order, stopping at the first good one:

1. the OCI 1.1 referrers API, ``GET /v2/<name>/referrers/<digest>`` (one request, filtered
   here by cosign's artifact types: simple-signing referrers and sigstore bundles both
   count, and the API takes only one ``artifactType`` filter per request, so none is sent);
   a 404, or an answer that is not an index, means the registry has no such API
   (distribution 2.8 answers ``404 page not found``): remembered per repository for
   :attr:`SignatureSettings.referrers_recheck` (per repository, not per registry: an OCI 1.1
   registry answers 404 for a repository it does not know, and one tenant's missing
   repository must not switch the API off for the others);
2. cosign's legacy tag ``sha256-<hex>.sig`` (``cosign sign --key`` without referrers);
3. only on registries without the API: the OCI referrers tag schema ``sha256-<hex>``, the
   index cosign 3 and other OCI 1.1 clients keep there instead.

Each referrer or tag leads to a signature manifest (cached by digest), each of its cosign
layers to a payload blob (digest-checked, at most :attr:`SignatureSettings.max_blob_bytes`,
cached by digest). Requests count as ``referrers``, ``signature`` (the tags), and
``manifest_get``/``blob``. A 5xx, 429 or connection failure is raised as the transient
registry error it is, never turned into "unsigned"; an auth refusal of the tags is raised
too. Credentials are the image's own, as for its tag list.

Verdicts are cached by (registry, repository, digest, key fingerprint, credentials):
:class:`Verified` for good (a signature that verified stays valid: the digest and the key
are both fixed), :class:`Unsigned` and :class:`BadSignature` for
:attr:`SignatureSettings.recheck_after` only, since a signature is usually pushed moments
after its image. Within a reconcile cycle
(``RegistryClient.cycle()``) a digest is judged once whatever its age.
"""

from __future__ import annotations

__all__ = ["FoundSignatures", "SignatureReader", "SignatureSettings", "verify_candidate"]

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from yarl import URL

from imageupdater.credentials import CredentialRef
from imageupdater.errors import (
    RegistryAuthError,
    RegistryNotFound,
    RegistryProtocolError,
)
from imageupdater.images import ImageRef
from imageupdater.registries_conf import RegistriesConf, RegistryEndpoint
from imageupdater.registry.cache import LruCache, SingleFlight
from imageupdater.registry.clock import Clock
from imageupdater.registry.counters import Counters
from imageupdater.registry.links import next_page_url
from imageupdater.registry.manifests import ACCEPT_MANIFESTS, content_digest, verify_digest
from imageupdater.registry.requester import Requester, registry_label
from imageupdater.registry.transport import Answer
from imageupdater.signatures.artifacts import (
    MEDIA_DOCKER_MANIFEST,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_MANIFEST,
    ArtifactIndex,
    Descriptor,
    SignatureManifest,
    parse_artifact,
    parse_referrers,
)
from imageupdater.signatures.formats import (
    ANNOTATION_SIGNATURE,
    MEDIA_SIMPLE_SIGNING,
    SignatureFormatError,
    decode_signature,
    is_bundle_type,
    is_cosign_artifact,
    is_digest,
    parse_bundle,
    referrers_tag,
    short_digest,
    signature_tag,
)
from imageupdater.signatures.keys import VerificationKey
from imageupdater.signatures.verdicts import (
    Defect,
    Signature,
    SignatureSource,
    Verdict,
    Verified,
    check,
    check_one,
)

if TYPE_CHECKING:
    from imageupdater.registry.client import RegistryClient

# (api_url, repository, digest, key fingerprint, credential ref text): keyed by credentials
# like tag lists, so an answer read with one tenant's pull secret never serves another.
_VerdictKey = tuple[str, str, str, str, str]
_BlobKey = tuple[str, str]  # (api_url, digest)
_SIGNATURE_MANIFESTS = frozenset({MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST})
Found = list[Signature | Defect]


@dataclass(frozen=True, slots=True)
class SignatureSettings:
    recheck_after: float = 60.0  # seconds an Unsigned or BadSignature verdict is kept
    referrers_recheck: float = 3600.0  # a repository without the referrers API: asked again
    max_verdicts: int = 10_000
    max_referrers: int = 16  # cosign referrers read per digest (an SBOM or the like is skipped)
    max_layers: int = 16  # signature layers read per manifest
    max_blob_bytes: int = 256 * 1024  # a payload is ~250 bytes, a bundle a few KiB
    max_cached_blobs: int = 1024
    max_referrer_pages: int = 8

    def __post_init__(self) -> None:
        for name in ("recheck_after", "referrers_recheck"):
            if getattr(self, name) < 0:
                raise ValueError(f"SignatureSettings.{name} must not be negative")
        for name in (
            "max_verdicts",
            "max_referrers",
            "max_layers",
            "max_blob_bytes",
            "max_cached_blobs",
            "max_referrer_pages",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"SignatureSettings.{name} must be at least 1")


@dataclass(frozen=True, slots=True)
class FoundSignatures:
    """Everything signature-shaped found for a digest, and where it was looked for."""

    digest: str
    signatures: tuple[Signature | Defect, ...]
    looked: tuple[str, ...]

    def verdict(self, key: VerificationKey) -> Verdict:
        return check(self.signatures, self.digest, key, looked=self.looked)


@dataclass(frozen=True, slots=True)
class _Target:
    endpoint: RegistryEndpoint
    repository: str
    digest: str
    credentials: CredentialRef | None

    @property
    def registry(self) -> str:
        return registry_label(self.endpoint)

    def url(self, path: str) -> URL:
        return URL(f"{self.endpoint.api_url}/v2/{self.repository}/{path}")


class SignatureReader:
    """Reads signatures through the client's requester, with its own caches (see above)."""

    def __init__(
        self,
        *,
        requester: Requester,
        counters: Counters,
        clock: Clock,
        settings: SignatureSettings,
        logger: logging.Logger,
        cycle_started: Callable[[], float | None],
    ) -> None:
        self.settings = settings
        self._requester = requester
        self._counters = counters
        self._log = logger
        self._cycle_started = cycle_started
        self._verdicts: LruCache[_VerdictKey, Verdict] = LruCache(
            max_entries=settings.max_verdicts, clock=clock
        )
        self._verdict_flights: SingleFlight[_VerdictKey, Verdict] = SingleFlight()
        self._no_referrers: LruCache[tuple[str, str], bool] = LruCache(
            max_entries=4096, clock=clock, ttl=settings.referrers_recheck
        )
        self._artifacts: LruCache[_BlobKey, SignatureManifest | ArtifactIndex] = LruCache(
            max_entries=settings.max_cached_blobs, clock=clock
        )
        self._artifact_flights: SingleFlight[_BlobKey, SignatureManifest | ArtifactIndex] = (
            SingleFlight()
        )
        self._blobs: LruCache[_BlobKey, bytes] = LruCache(
            max_entries=settings.max_cached_blobs, clock=clock
        )
        self._blob_flights: SingleFlight[_BlobKey, bytes] = SingleFlight()

    # -- verdicts ---------------------------------------------------------------------------

    async def verify(
        self,
        endpoint: RegistryEndpoint,
        repository: str,
        digest: str,
        key: VerificationKey,
        *,
        credentials: CredentialRef | None,
    ) -> Verdict:
        target = _target(endpoint, repository, digest, credentials)
        cache_key = (
            endpoint.api_url,
            repository,
            target.digest,
            key.fingerprint,
            str(target.credentials) if target.credentials else "",
        )
        cached = self._verdicts.get_stale(cache_key)
        if not isinstance(cached, Verified):
            cached = self._verdicts.get(
                cache_key, max_age=self.settings.recheck_after, fresh_since=self._cycle_started()
            )
        self._counters.cache("signature", hit=cached is not None)
        if cached is not None:
            return cached

        async def judge() -> Verdict:
            def good(found: Found) -> bool:
                return any(
                    isinstance(s, Signature) and check_one(s, target.digest, key) is None
                    for s in found
                )

            found = await self._find(target, stop=good)
            verdict = found.verdict(key)
            self._verdicts.put(cache_key, verdict)
            return verdict

        return await self._verdict_flights.do(cache_key, judge)

    async def find(
        self,
        endpoint: RegistryEndpoint,
        repository: str,
        digest: str,
        *,
        credentials: CredentialRef | None,
    ) -> FoundSignatures:
        """Every signature of ``digest`` in every place, uncached (artifacts are cached)."""
        return await self._find(_target(endpoint, repository, digest, credentials), stop=None)

    async def _find(
        self, target: _Target, *, stop: Callable[[Found], bool] | None
    ) -> FoundSignatures:
        found: Found = []
        looked: list[str] = []

        def done() -> FoundSignatures:
            return FoundSignatures(target.digest, tuple(found), tuple(looked))

        referrers = await self._referrers(target)
        if referrers is not None:
            looked.append("the referrers API")
            found += await self._from_descriptors(target, referrers)
            if stop is not None and stop(found):
                return done()
        tags = [signature_tag(target.digest)]
        if referrers is None:
            tags.append(referrers_tag(target.digest))
        for tag in tags:
            if tag is None:
                continue  # a sha512 digest: its tag would be too long to exist
            looked.append(f"tag {tag}")
            found += await self._from_tag(target, tag)
            if stop is not None and stop(found):
                break
        return done()

    # -- where signatures are kept ---------------------------------------------------------

    async def _referrers(self, target: _Target) -> list[Descriptor] | None:
        """The subject's referrers, or None when the registry has no referrers API."""
        where = (target.endpoint.api_url, target.repository)
        known_absent = self._no_referrers.get(where) is not None
        self._counters.cache("referrers", hit=known_absent)
        if known_absent:
            return None
        url: URL | None = target.url(f"referrers/{target.digest}")
        descriptors: list[Descriptor] = []
        pages = 0
        what = f"referrers of {target.repository}@{target.digest}"
        while url is not None and pages < self.settings.max_referrer_pages:
            try:
                answer = await self._get(
                    target, url, kind="referrers", what=what, accept=MEDIA_OCI_INDEX
                )
                index = parse_referrers(answer.body, answer.header("content-type"))
            except (RegistryNotFound, RegistryProtocolError, SignatureFormatError) as exc:
                if pages:
                    raise RegistryProtocolError(
                        f"registry {target.registry}: page {pages + 1} of the {what} failed "
                        f"({exc})",
                        registry=target.registry,
                    ) from exc
                self._log.debug(
                    "registry %s: no referrers API (%s); looking for signature tags",
                    target.registry,
                    exc,
                )
                self._no_referrers.put(where, True)
                return None
            except RegistryAuthError as exc:
                if pages:
                    raise
                # Some registries guard routes they do not serve; the tags will tell.
                self._log.debug("registry %s: referrers refused (%s)", target.registry, exc)
                return None
            descriptors += index.manifests
            pages += 1
            try:
                url = next_page_url(answer.header("link"), current=url, registry=target.registry)
            except RegistryProtocolError as exc:
                raise RegistryProtocolError(
                    f"registry {target.registry}: the {what} have an unusable 'Link' header",
                    registry=target.registry,
                ) from exc
        if url is not None:
            self._log.warning(
                "registry %s: %s run past %d pages; the rest are not read",
                target.registry,
                what,
                pages,
            )
        return descriptors

    async def _from_tag(self, target: _Target, tag: str) -> Found:
        source = SignatureSource("tag", tag)
        url = target.url(f"manifests/{tag}")
        what = f"signature tag {target.repository}:{tag}"
        try:
            answer = await self._get(
                target, url, kind="signature", what=what, accept=ACCEPT_MANIFESTS
            )
        except RegistryNotFound:
            return []
        advertised = answer.header("docker-content-digest")
        try:
            if advertised is not None:
                verify_digest(answer.body, advertised, registry=target.registry, what=what)
            artifact = parse_artifact(answer.body, answer.header("content-type"))
        except RegistryProtocolError:
            return [Defect(source, "its manifest does not match the digest the registry gave")]
        except SignatureFormatError as exc:
            return [Defect(source, str(exc))]
        digest = (advertised or content_digest(answer.body)).lower()
        self._artifacts.put((target.endpoint.api_url, digest), artifact)
        if isinstance(artifact, ArtifactIndex):
            # The referrers tag schema: an index of the subject's referrers.
            return await self._from_descriptors(target, list(artifact.manifests), listed=True)
        return await self._from_layers(target, artifact, source)

    async def _from_descriptors(
        self, target: _Target, descriptors: Sequence[Descriptor], *, listed: bool = False
    ) -> Found:
        """Signatures in the referrer manifests ``descriptors`` name. Referrers of other
        artifact types (SBOMs, attestations) are skipped; in a tag's index (``listed``) an
        entry without an artifact type is read too, as it may be a signature manifest."""
        wanted = [
            d
            for d in descriptors
            if is_cosign_artifact(d.artifact_type) or (listed and d.artifact_type is None)
        ]
        found: Found = []
        limit = self.settings.max_referrers
        if len(wanted) > limit:
            self._log.warning(
                "registry %s: %s@%s has %d signature referrers; reading the first %d",
                target.registry,
                target.repository,
                target.digest,
                len(wanted),
                limit,
            )
        for descriptor in wanted[:limit]:
            source = SignatureSource("referrer", descriptor.digest)
            if descriptor.media_type not in _SIGNATURE_MANIFESTS:
                found.append(Defect(source, "it is not an image manifest"))
                continue
            try:
                artifact = await self._artifact(target, descriptor.digest)
            except RegistryNotFound:
                found.append(Defect(source, "its manifest is missing from the registry"))
                continue
            except RegistryProtocolError:
                found.append(Defect(source, "its manifest does not match its digest"))
                continue
            except SignatureFormatError as exc:
                found.append(Defect(source, str(exc)))
                continue
            if isinstance(artifact, ArtifactIndex):
                found.append(Defect(source, "it is an index, not a signature manifest"))
                continue
            found += await self._from_layers(target, artifact, source)
        return found

    async def _from_layers(
        self, target: _Target, manifest: SignatureManifest, source: SignatureSource
    ) -> Found:
        found: Found = []
        limit = self.settings.max_layers
        for index, layer in enumerate(manifest.layers[:limit]):
            where = SignatureSource(source.kind, source.reference, index)
            if layer.media_type == MEDIA_SIMPLE_SIGNING:
                encoded = layer.annotations.get(ANNOTATION_SIGNATURE)
                if not encoded:
                    found.append(Defect(where, f"it has no {ANNOTATION_SIGNATURE} annotation"))
                    continue
                try:
                    signature = decode_signature(encoded)
                except SignatureFormatError as exc:
                    found.append(Defect(where, str(exc)))
                    continue
                payload = await self._payload(target, layer)
                if isinstance(payload, str):
                    found.append(Defect(where, payload))
                    continue
                found.append(
                    Signature(
                        where, "simple-signing", payload, (signature,), subject=manifest.subject
                    )
                )
            elif is_bundle_type(layer.media_type):
                payload = await self._payload(target, layer)
                if isinstance(payload, str):
                    found.append(Defect(where, payload))
                    continue
                try:
                    envelope = parse_bundle(payload)
                except SignatureFormatError as exc:
                    found.append(Defect(where, str(exc)))
                    continue
                found.append(
                    Signature(
                        where,
                        "bundle",
                        envelope.payload,
                        envelope.signatures,
                        envelope.payload_type,
                        manifest.subject,
                    )
                )
        if not found:
            found.append(Defect(source, "it holds no cosign signature layer"))
        if len(manifest.layers) > limit:
            self._log.warning(
                "registry %s: %s has %d layers; reading the first %d",
                target.registry,
                source,
                len(manifest.layers),
                limit,
            )
        return found

    # -- content-addressed reads -------------------------------------------------------------

    async def _get(
        self,
        target: _Target,
        url: URL,
        *,
        kind: Literal["referrers", "signature", "manifest_get", "blob"],
        what: str,
        accept: str | None,
    ) -> Answer:
        return await self._requester.request(
            target.endpoint,
            "GET",
            url,
            kind=kind,
            repository=target.repository,
            credentials=target.credentials,
            what=what,
            accept=accept,
        )

    async def _artifact(self, target: _Target, digest: str) -> SignatureManifest | ArtifactIndex:
        key = (target.endpoint.api_url, digest)
        cached = self._artifacts.get(key)
        self._counters.cache("signature_manifest", hit=cached is not None)
        if cached is not None:
            return cached

        async def fetch() -> SignatureManifest | ArtifactIndex:
            what = f"signature manifest {target.repository}@{digest}"
            answer = await self._get(
                target,
                target.url(f"manifests/{digest}"),
                kind="manifest_get",
                what=what,
                accept=ACCEPT_MANIFESTS,
            )
            verify_digest(answer.body, digest, registry=target.registry, what=what)
            artifact = parse_artifact(answer.body, answer.header("content-type"))
            self._artifacts.put(key, artifact)
            return artifact

        return await self._artifact_flights.do(key, fetch)

    async def _payload(self, target: _Target, layer: Descriptor) -> bytes | str:
        """A layer's blob, or why it cannot be had."""
        if layer.size > self.settings.max_blob_bytes:
            return (
                f"its payload is {layer.size} bytes, more than the "
                f"{self.settings.max_blob_bytes} a signature may take"
            )
        key = (target.endpoint.api_url, layer.digest)
        cached = self._blobs.get(key)
        self._counters.cache("signature_blob", hit=cached is not None)
        if cached is None:

            async def fetch() -> bytes:
                what = f"signature payload {target.repository}@{layer.digest}"
                answer = await self._get(
                    target,
                    target.url(f"blobs/{layer.digest}"),
                    kind="blob",
                    what=what,
                    accept=None,
                )
                verify_digest(answer.body, layer.digest, registry=target.registry, what=what)
                self._blobs.put(key, answer.body)
                return answer.body

            try:
                cached = await self._blob_flights.do(key, fetch)
            except RegistryNotFound:
                return f"its payload {short_digest(layer.digest)} is missing from the registry"
            except RegistryProtocolError:
                return f"its payload {short_digest(layer.digest)} does not match its digest"
        if len(cached) != layer.size:
            return f"its payload {short_digest(layer.digest)} is not the size its layer says"
        return cached


def _target(
    endpoint: RegistryEndpoint, repository: str, digest: str, credentials: CredentialRef | None
) -> _Target:
    normal = digest.lower()
    if not is_digest(normal):
        raise ValueError(f"{digest[:80]!r} is not a digest (expected sha256:<64 hex>)")
    return _Target(endpoint, repository, normal, credentials or endpoint.credentials)


async def verify_candidate(
    client: RegistryClient,
    conf: RegistriesConf,
    image: ImageRef,
    key: VerificationKey,
    *,
    digest: str | None = None,
    tag: str | None = None,
    credentials: CredentialRef | None = None,
) -> Verdict:
    """The verdict on a candidate of ``image`` (a policy's image; its tag is ignored):
    ``digest`` when known, else the digest ``tag`` points at now (one ``HEAD``, cached).

    ``credentials`` are the image's pull secret, as for its tag list. Raises
    ``RegistryError`` when the registry cannot answer, ``ValueError`` for neither tag nor
    digest.
    """
    endpoint = conf.lookup(image.registry, image.repository)
    repository = endpoint.qualify(image.repository)
    if digest is None:
        if tag is None:
            raise ValueError("verify_candidate needs the candidate's digest or tag")
        digest = await client.manifest_digest(endpoint, repository, tag, credentials=credentials)
    return await client.verify_signature(endpoint, repository, digest, key, credentials=credentials)

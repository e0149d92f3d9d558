"""Synthetic images, and pushing them to a registry over its HTTP API (no docker needed).

``build_image`` makes the bytes of one image (per platform: a one-file gzip layer, a config
blob with created/os/architecture/variant/Labels, and a Docker v2s2 or OCI manifest; plus a
manifest list or OCI index when there are several platforms). ``ImageSeeder`` uploads them
with the monolithic blob upload of the distribution API and answers the digest the
registry serves for the tag. It understands Basic and Bearer-token challenges, so it seeds
every flavour of ``LocalRegistry``. The fault registry reuses ``build_image`` so its
in-memory images have the same shapes as pushed ones.

``ImageSeeder.sign`` signs a pushed image as ``cosign sign --key`` does (formats in
:mod:`devcluster.cosign`): under the ``sha256-<hex>.sig`` tag, or as a referrer (a manifest
with a ``subject``); a registry that does not answer such a push with ``OCI-Subject`` gets
the referrers tag schema index under ``sha256-<hex>`` instead, as go-containerregistry
(cosign's client) maintains it.
"""

from __future__ import annotations

__all__ = [
    "MEDIA_TYPES",
    "Blob",
    "BuiltImage",
    "ImageSeeder",
    "SeedingFailed",
    "SignedArtifact",
    "build_image",
    "format_created",
]

import asyncio
import base64
import datetime as dt
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from ssl import SSLContext
from typing import Literal

import aiohttp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from yarl import URL

from devcluster import cosign
from imageupdater.errors import InvalidPlatform, RegistryError

Media = Literal["docker", "oci"]
SignatureStore = Literal["tag", "referrer"]
SignatureFormat = Literal["simple-signing", "bundle"]

MEDIA_TYPES: Mapping[str, Mapping[str, str]] = {
    "docker": {
        "manifest": "application/vnd.docker.distribution.manifest.v2+json",
        "index": "application/vnd.docker.distribution.manifest.list.v2+json",
        "config": "application/vnd.docker.container.image.v1+json",
        "layer": "application/vnd.docker.image.rootfs.diff.tar.gzip",
    },
    "oci": {
        "manifest": "application/vnd.oci.image.manifest.v1+json",
        "index": "application/vnd.oci.image.index.v1+json",
        "config": "application/vnd.oci.image.config.v1+json",
        "layer": "application/vnd.oci.image.layer.v1.tar+gzip",
    },
}
# Without all four in Accept, 2.8.2 converts v2s2 to schema1 or hides OCI content.
ACCEPT_ALL = ", ".join(MEDIA_TYPES[m][k] for m in ("docker", "oci") for k in ("manifest", "index"))


class SeedingFailed(RegistryError):
    """The registry refused or garbled a push; the message names the request and status."""


@dataclass(frozen=True, slots=True)
class SignedArtifact:
    """What ``ImageSeeder.sign`` pushed."""

    manifest: str  # the signature manifest's digest
    tag: str | None  # the tag it is under, or the referrers-schema tag that lists it
    referrers_api: bool  # the registry answered the push with OCI-Subject
    payload: Blob  # the signed payload (or bundle) blob


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(doc: object) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def format_created(when: dt.datetime) -> str:
    """RFC 3339 in UTC as Go writes it; a naive datetime is taken to be UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    when = when.astimezone(dt.UTC)
    frac = f".{when.microsecond:06d}".rstrip("0") if when.microsecond else ""
    # %Y does not zero-pad years before 1000 on glibc; RFC 3339 needs four digits.
    return f"{when.year:04d}-" + when.strftime("%m-%dT%H:%M:%S") + frac + "Z"


@dataclass(frozen=True, slots=True)
class Blob:
    media_type: str
    data: bytes = field(repr=False)
    digest: str

    @classmethod
    def of(cls, media_type: str, data: bytes) -> Blob:
        return cls(media_type, data, _digest(data))

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "size": len(self.data), "digest": self.digest}


@dataclass(frozen=True, slots=True)
class BuiltImage:
    """Everything to upload for one tag; ``top`` is what the tag points at."""

    blobs: tuple[Blob, ...]  # layers and configs
    children: tuple[Blob, ...]  # per-platform manifests, pushed by digest (empty when no index)
    top: Blob

    @property
    def digest(self) -> str:
        return self.top.digest


def _split_platform(text: str) -> tuple[str, str, str]:
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidPlatform(
            f"platform {text!r} is not valid; expected 'os/arch' or 'os/arch/variant',"
            " e.g. 'linux/amd64' or 'linux/arm64/v8'"
        )
    return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


def _layer(content: bytes) -> tuple[bytes, str]:
    """A reproducible gzip'd tar with one file, and its diff_id (digest of the plain tar)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("seed.txt")
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    plain = buf.getvalue()
    return gzip.compress(plain, mtime=0), _digest(plain)


def build_image(
    repository: str,
    tag: str,
    *,
    created: dt.datetime | None = None,
    platforms: Sequence[str] = ("linux/amd64",),
    labels: Mapping[str, str] | None = None,
    media: Media = "docker",
    index: bool | None = None,
) -> BuiltImage:
    """The blobs and manifests of one synthetic image (see the module docstring)."""
    if not platforms:
        raise InvalidPlatform("platforms is empty; give at least one, e.g. ('linux/amd64',)")
    if media not in MEDIA_TYPES:
        raise ValueError(f"media {media!r} is not valid; expected 'docker' or 'oci'")
    if index is False and len(platforms) > 1:
        raise ValueError(f"index=False cannot carry {len(platforms)} platforms; pass one")
    types = MEDIA_TYPES[media]
    stamp = format_created(created or dt.datetime.now(dt.UTC))
    blobs: list[Blob] = []
    manifests: list[tuple[Blob, dict[str, str]]] = []
    for text in platforms:
        os_, arch, variant = _split_platform(text)
        layer, diff_id = _layer(f"{repository}:{tag} {text}\n".encode())
        config_doc: dict[str, object] = {
            "architecture": arch,
            "os": os_,
            "created": stamp,
            "config": {"Labels": dict(labels or {})},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": stamp, "created_by": "devcluster seeder"}],
        }
        platform = {"architecture": arch, "os": os_}
        if variant:
            config_doc["variant"] = platform["variant"] = variant
        layer_blob = Blob.of(types["layer"], layer)
        config_blob = Blob.of(types["config"], _canonical(config_doc))
        blobs += (layer_blob, config_blob)
        manifest = {
            "schemaVersion": 2,
            "mediaType": types["manifest"],
            "config": config_blob.descriptor(),
            "layers": [layer_blob.descriptor()],
        }
        manifests.append((Blob.of(types["manifest"], _canonical(manifest)), platform))
    if not (index or len(platforms) > 1):
        return BuiltImage(tuple(blobs), (), manifests[0][0])
    top = {
        "schemaVersion": 2,
        "mediaType": types["index"],
        "manifests": [{**m.descriptor(), "platform": p} for m, p in manifests],
    }
    return BuiltImage(
        tuple(blobs), tuple(m for m, _ in manifests), Blob.of(types["index"], _canonical(top))
    )


def _manifest_blob(media_type: str, fields: Mapping[str, object]) -> Blob:
    doc = {"schemaVersion": 2, "mediaType": media_type, **fields}
    return Blob.of(media_type, _canonical(doc))


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="x",service="y"`` -> ("bearer", {"realm": "x", "service": "y"})."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    # Parameter values may hold commas (scope="repository:a:pull,push"), so split on quotes.
    for chunk in rest.split('",'):
        key, sep, value = chunk.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().strip('"')
    return scheme.lower(), params


class ImageSeeder:
    """Pushes synthetic images into the registry at ``base_url`` (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession,
        *,
        username: str | None = None,
        password: str | None = None,
        ssl: SSLContext | bool | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._username = username
        self._password = password
        self._ssl: SSLContext | bool = True if ssl is None else ssl
        self._auth: dict[str, str] = {}  # repository -> Authorization header value
        self._auth_lock = asyncio.Lock()
        self.token_requests = 0

    def __repr__(self) -> str:
        return f"ImageSeeder({self.base_url!r}, username={self._username!r})"

    def _basic(self) -> str | None:
        if self._username is None:
            return None
        raw = f"{self._username}:{self._password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    async def _authorize(self, repository: str, header: str) -> None:
        scheme, params = _challenge(header)
        if scheme == "basic":
            basic = self._basic()
            if basic is None:
                raise SeedingFailed(
                    f"{self.base_url} wants Basic auth; pass username= and password= to ImageSeeder"
                )
            self._auth[repository] = basic
            return
        if scheme != "bearer" or "realm" not in params:
            raise SeedingFailed(f"{self.base_url} sent an unusable challenge scheme {scheme!r}")
        query = {"service": params.get("service", "")}
        if scope := params.get("scope"):
            # Ask for push along with whatever was challenged, so one token serves the whole
            # upload instead of a pull token for the HEAD and a second one for the POST.
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind == "repository" and name == repository:
                wanted = [
                    "pull",
                    "push",
                    *(a for a in actions.split(",") if a not in ("pull", "push")),
                ]
                scope = f"repository:{name}:{','.join(wanted)}"
            query["scope"] = scope
        headers = {}
        if (basic := self._basic()) is not None:
            headers["Authorization"] = basic
        self.token_requests += 1
        async with self._session.get(
            params["realm"], params=query, headers=headers, ssl=self._ssl
        ) as resp:
            if resp.status != 200:
                raise SeedingFailed(f"token request to {params['realm']} answered {resp.status}")
            body = json.loads(await resp.read())
        self._auth[repository] = "Bearer " + str(body.get("token") or body["access_token"])

    async def _request(
        self,
        method: str,
        url: str | URL,
        repository: str,
        *,
        expect: tuple[int, ...],
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One call, retried once after answering a 401 challenge."""
        target = url if isinstance(url, URL) else URL(self.base_url + str(url))
        for attempt in range(2):
            sent = dict(headers or {})
            used = self._auth.get(repository)
            if used is not None:
                sent["Authorization"] = used
            async with self._session.request(
                method, target, data=data, headers=sent, ssl=self._ssl
            ) as resp:
                body = await resp.read()
                answer = (resp.status, dict(resp.headers), body)
                challenge = resp.headers.get("WWW-Authenticate")
            if resp.status == 401 and attempt == 0 and challenge:
                async with self._auth_lock:
                    # push_many's tasks all meet the first challenge together; one answers it.
                    if self._auth.get(repository) == used:
                        await self._authorize(repository, challenge)
                continue
            break
        status = answer[0]
        if status not in expect:
            raise SeedingFailed(
                f"{method} {target.with_query(None)} answered {status}: {body[:300]!r}"
            )
        return answer

    async def _upload(self, repository: str, blob: Blob) -> None:
        path = f"/v2/{repository}/blobs/{blob.digest}"
        status, _, _ = await self._request("HEAD", path, repository, expect=(200, 404))
        if status == 200:
            return
        _, headers, _ = await self._request(
            "POST", f"/v2/{repository}/blobs/uploads/", repository, expect=(202,)
        )
        await self._finish_upload(repository, blob, headers.get("Location", ""))

    async def _finish_upload(self, repository: str, blob: Blob, location: str) -> None:
        """PUT the blob to the upload ``Location`` a POST (or a declined mount) opened."""
        if not location:
            raise SeedingFailed(f"upload to {self.base_url} for {repository} gave no Location")
        if location.startswith("/"):
            location = self.base_url + location
        joiner = "&" if "?" in location else "?"
        # encoded=True keeps the registry's opaque _state parameter byte for byte.
        target = URL(f"{location}{joiner}digest={blob.digest.replace(':', '%3A')}", encoded=True)
        await self._request(
            "PUT",
            target,
            repository,
            expect=(201,),
            data=blob.data,
            headers={"Content-Type": "application/octet-stream"},
        )

    async def _put_manifest(self, repository: str, reference: str, manifest: Blob) -> str:
        _, headers, _ = await self._request(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            repository,
            expect=(201,),
            data=manifest.data,
            headers={"Content-Type": manifest.media_type},
        )
        served = headers.get("Docker-Content-Digest", "")
        if served != manifest.digest:
            raise SeedingFailed(
                f"{repository}:{reference} stored as {served!r}, expected {manifest.digest}"
            )
        return served

    async def push_blob(self, repository: str, media_type: str, data: bytes) -> Blob:
        """Upload ``data`` (skipped when the registry has it); returns its descriptor."""
        blob = Blob.of(media_type, data)
        await self._upload(repository, blob)
        return blob

    async def put_manifest(self, repository: str, reference: str, manifest: Blob) -> dict[str, str]:
        """PUT ``manifest`` under ``reference`` (a tag or its digest); the answer's headers."""
        _, headers, _ = await self._request(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            repository,
            expect=(201,),
            data=manifest.data,
            headers={"Content-Type": manifest.media_type},
        )
        return headers

    async def _get_json(self, repository: str, reference: str) -> dict[str, object] | None:
        status, _, body = await self._request(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            repository,
            expect=(200, 404),
            headers={"Accept": ACCEPT_ALL},
        )
        if status == 404:
            return None
        doc = json.loads(body)
        if not isinstance(doc, dict):
            raise SeedingFailed(f"{repository}:{reference} is not a JSON object")
        return doc

    async def descriptor_of(self, repository: str, digest: str) -> dict[str, object]:
        """The descriptor (mediaType, digest, size) of the manifest ``digest`` names."""
        _, headers, _ = await self._request(
            "HEAD",
            f"/v2/{repository}/manifests/{digest}",
            repository,
            expect=(200,),
            headers={"Accept": ACCEPT_ALL},
        )
        media_type = headers.get("Content-Type", "").split(";")[0]
        return {"mediaType": media_type, "digest": digest, "size": int(headers["Content-Length"])}

    async def sign(
        self,
        repository: str,
        digest: str,
        key: ec.EllipticCurvePrivateKey,
        *,
        store: SignatureStore = "tag",
        signature_format: SignatureFormat = "simple-signing",
        reference: str | None = None,
        payload: bytes | None = None,
        signature: bytes | None = None,
        algorithm: type[hashes.HashAlgorithm] | None = None,
        media: Media = "oci",
    ) -> SignedArtifact:
        """Sign ``repository@digest`` with ``key`` as cosign does (see the module docstring).

        ``store="tag"`` adds a layer to the ``sha256-<hex>.sig`` manifest (kept layers: a
        second signature is appended, as cosign appends); ``store="referrer"`` pushes a
        manifest with a ``subject``. ``payload`` replaces what is signed (the payload, or for
        bundles the in-toto statement) and ``signature`` the signature itself, for tests of
        tampering; ``reference`` is the payload's docker-reference (default: this
        registry's host and ``repository``). ``algorithm`` defaults to SHA-256 for simple
        signing and to the curve's own hash for bundles, as cosign 2 and 3 sign.
        """
        if reference is None:
            reference = f"{URL(self.base_url).host_port_subcomponent}/{repository}"
        if signature_format == "simple-signing":
            signed = payload or cosign.simple_signing_payload(reference, digest)
            sig = signature or cosign.sign_bytes(key, signed, algorithm=algorithm)
            layer_blob = await self.push_blob(repository, cosign.MEDIA_SIMPLE_SIGNING, signed)
            layer = {
                **layer_blob.descriptor(),
                "annotations": {cosign.ANNOTATION_SIGNATURE: base64.b64encode(sig).decode()},
            }
        else:
            statement = payload or cosign.in_toto_statement(digest)
            data = cosign.bundle(key, statement, signature=signature, algorithm=algorithm)
            layer_blob = await self.push_blob(repository, cosign.MEDIA_BUNDLE, data)
            layer = layer_blob.descriptor()
        algorithm_name, _, hexpart = digest.partition(":")
        if store == "tag":
            tag = f"{algorithm_name}-{hexpart}.sig"
            existing = await self._get_json(repository, tag)
            kept = existing.get("layers") if existing else None
            layers = [*(kept if isinstance(kept, list) else []), layer]
            image_config = await self.push_blob(
                repository,
                MEDIA_TYPES[media]["config"],
                cosign.signature_config([str(entry["digest"]) for entry in layers]),
            )
            manifest = _manifest_blob(
                MEDIA_TYPES[media]["manifest"],
                {"config": image_config.descriptor(), "layers": layers},
            )
            await self.put_manifest(repository, tag, manifest)
            return SignedArtifact(manifest.digest, tag, False, layer_blob)
        subject = await self.descriptor_of(repository, digest)
        if signature_format == "simple-signing":
            artifact_type = cosign.ARTIFACT_SIGNATURE
            config_blob = await self.push_blob(
                repository, artifact_type, cosign.signature_config([layer_blob.digest])
            )
            config: dict[str, object] = config_blob.descriptor()
            annotations: dict[str, str] = {}
        else:
            artifact_type = cosign.MEDIA_BUNDLE
            empty = await self.push_blob(repository, *cosign.EMPTY_CONFIG)
            config = {**empty.descriptor(), "artifactType": artifact_type}
            annotations = {
                "dev.sigstore.bundle.content": "dsse-envelope",
                "dev.sigstore.bundle.predicateType": cosign.PREDICATE_SIGN,
            }
        fields: dict[str, object] = {
            "config": config,
            "layers": [layer],
            "subject": subject,
            "artifactType": artifact_type,
        }
        if annotations:
            fields["annotations"] = annotations
        manifest = _manifest_blob(MEDIA_TYPES["oci"]["manifest"], fields)
        headers = await self.put_manifest(repository, manifest.digest, manifest)
        if headers.get("OCI-Subject") == digest:
            return SignedArtifact(manifest.digest, None, True, layer_blob)
        # No referrers API: keep the subject's index under the referrers tag schema.
        tag = f"{algorithm_name}-{hexpart}"
        index = await self._get_json(repository, tag)
        entries = index.get("manifests") if index else None
        listed = [*(entries if isinstance(entries, list) else [])]
        entry: dict[str, object] = {**manifest.descriptor(), "artifactType": artifact_type}
        if annotations:
            entry["annotations"] = annotations
        listed.append(entry)
        index_blob = _manifest_blob(MEDIA_TYPES["oci"]["index"], {"manifests": listed})
        await self.put_manifest(repository, tag, index_blob)
        return SignedArtifact(manifest.digest, tag, False, layer_blob)

    async def push(
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
        """Push one image under ``tag``; returns the digest the registry serves for the tag."""
        image = build_image(
            repository,
            tag,
            created=created,
            platforms=platforms,
            labels=labels,
            media=media,
            index=index,
        )
        for blob in image.blobs:
            await self._upload(repository, blob)
        for child in image.children:
            await self._put_manifest(repository, child.digest, child)
        return await self._put_manifest(repository, tag, image.top)

    async def push_many(
        self,
        repository: str,
        tags: Sequence[str],
        *,
        concurrency: int = 8,
        created: dt.datetime | None = None,
        platforms: Sequence[str] = ("linux/amd64",),
        labels: Mapping[str, str] | None = None,
        media: Media = "docker",
        index: bool | None = None,
    ) -> dict[str, str]:
        """Push one image per tag, ``concurrency`` at a time; returns {tag: digest}."""
        if concurrency < 1:
            raise ValueError(f"concurrency={concurrency} is not valid; expected 1 or more")
        gate = asyncio.Semaphore(concurrency)

        async def one(tag: str) -> tuple[str, str]:
            async with gate:
                digest = await self.push(
                    repository,
                    tag,
                    created=created,
                    platforms=platforms,
                    labels=labels,
                    media=media,
                    index=index,
                )
                return tag, digest

        return dict(await asyncio.gather(*(one(t) for t in tags)))

    async def digest_of(self, repository: str, tag: str) -> str:
        """The digest the registry serves for ``tag`` (HEAD with every manifest type accepted)."""
        _, headers, _ = await self._request(
            "HEAD",
            f"/v2/{repository}/manifests/{tag}",
            repository,
            expect=(200,),
            headers={"Accept": ACCEPT_ALL},
        )
        return headers["Docker-Content-Digest"]

    async def delete(self, repository: str, tag: str) -> None:
        """Delete the manifest ``tag`` points at (2.8.2 deletes by digest only)."""
        digest = await self.digest_of(repository, tag)
        await self._request(
            "DELETE", f"/v2/{repository}/manifests/{digest}", repository, expect=(202,)
        )

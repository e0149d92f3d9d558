"""The fault registry's content and the OCI distribution 1.1 parts that write or index it:
blob uploads, manifest pushes (validated as distribution validates them) and the referrers
API.

Referrers, as the distribution spec 1.1 defines them: a manifest pushed with a ``subject``
descriptor becomes a referrer of that digest, and the push is answered with
``OCI-Subject: <digest>`` so clients know not to maintain the referrers tag schema. ``GET
/v2/<name>/referrers/<digest>`` answers 200 with an OCI image index of descriptors
(``mediaType``, ``digest``, ``size``, ``artifactType`` = the manifest's ``artifactType`` or
else its config's media type, ``annotations`` = the manifest's), also for a digest nobody
refers to (an empty index) and for one that does not exist; ``?artifactType=`` filters it,
and a filtered answer says so with ``OCI-Filters-Applied: artifactType``. A malformed digest
is 400 ``DIGEST_INVALID``; an unknown repository 404 ``NAME_UNKNOWN``.
"""

from __future__ import annotations

__all__ = ["ContentError", "Repo", "Upload", "referrers_index", "store_manifest"]

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from devcluster.faultregistry.wire import Reply, error_reply

INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
_IMAGE_MANIFESTS = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
)
_INDEXES = frozenset({INDEX_TYPE, "application/vnd.docker.distribution.manifest.list.v2+json"})
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class ContentError(Exception):
    """A request the registry refuses; ``reply`` is the distribution error to send."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _refuse(status: int, code: str, message: str) -> ContentError:
    return ContentError(error_reply(status, code, message))


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(text: str) -> bool:
    return _DIGEST.fullmatch(text) is not None


@dataclass(slots=True)
class Repo:
    tags: dict[str, str] = field(default_factory=dict)  # tag -> digest
    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # digest -> (type, body)
    blobs: dict[str, bytes] = field(default_factory=dict)
    referrers: dict[str, list[str]] = field(default_factory=dict)  # subject -> referrer digests


@dataclass(slots=True)
class Upload:
    repository: str
    data: bytearray = field(default_factory=bytearray)


def _descriptor_digests(doc: dict[str, Any], key: str) -> list[str]:
    raw = doc.get(key)
    entries = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else []
    digests = []
    for entry in entries:
        digest = entry.get("digest") if isinstance(entry, dict) else None
        if not isinstance(digest, str) or not is_digest(digest):
            raise _refuse(400, "MANIFEST_INVALID", f"manifest invalid: bad descriptor in {key}")
        digests.append(digest)
    return digests


def store_manifest(
    repo: Repo, reference: str, content_type: str, data: bytes, *, index_referrers: bool
) -> tuple[str, str | None]:
    """Validate and store a pushed manifest; returns (its digest, the subject it refers to
    when the referrers API indexed it)."""
    media_type = content_type.split(";")[0].strip()
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise _refuse(400, "MANIFEST_INVALID", "manifest invalid: not JSON") from None
    if not isinstance(doc, dict):
        raise _refuse(400, "MANIFEST_INVALID", "manifest invalid: not an object")
    declared = doc.get("mediaType")
    if isinstance(declared, str) and declared and declared != media_type:
        raise _refuse(400, "MANIFEST_INVALID", "manifest invalid: mediaType mismatch")
    if media_type in _IMAGE_MANIFESTS:
        needed = _descriptor_digests(doc, "config") + _descriptor_digests(doc, "layers")
        missing = [d for d in needed if d not in repo.blobs]
        if not needed or missing:
            raise _refuse(400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry")
    elif media_type in _INDEXES:
        children = _descriptor_digests(doc, "manifests")
        if any(child not in repo.manifests for child in children):
            raise _refuse(400, "MANIFEST_BLOB_UNKNOWN", "manifest unknown to registry")
    else:
        raise _refuse(400, "MANIFEST_INVALID", f"manifest invalid: media type {media_type!r}")
    digest = digest_of(data)
    if reference.startswith("sha256:"):
        if reference != digest:
            raise _refuse(400, "DIGEST_INVALID", "provided digest did not match uploaded content")
    elif _TAG.fullmatch(reference) is None:
        raise _refuse(400, "TAG_INVALID", "manifest tag did not match URI")
    subjects = _descriptor_digests(doc, "subject") if "subject" in doc else []
    repo.manifests[digest] = (media_type, data)
    if not reference.startswith("sha256:"):
        repo.tags[reference] = digest
    if not (subjects and index_referrers):
        return digest, None
    listed = repo.referrers.setdefault(subjects[0], [])
    if digest not in listed:
        listed.append(digest)
    return digest, subjects[0]


def _referrer(digest: str, media_type: str, data: bytes) -> dict[str, object]:
    doc = json.loads(data)
    entry: dict[str, object] = {"mediaType": media_type, "digest": digest, "size": len(data)}
    artifact_type = doc.get("artifactType")
    if not isinstance(artifact_type, str) and media_type in _IMAGE_MANIFESTS:
        config = doc.get("config")
        artifact_type = config.get("mediaType") if isinstance(config, dict) else None
    if isinstance(artifact_type, str):
        entry["artifactType"] = artifact_type
    if isinstance(doc.get("annotations"), dict):
        entry["annotations"] = doc["annotations"]
    return entry


def referrers_index(
    repo: Repo,
    subject: str,
    artifact_type: str | None,
    *,
    filtering: bool,
    path: str = "",
    page: str = "",
    page_size: int | None = None,
) -> Reply:
    """The referrers API answer for ``subject`` (see the module docstring). With
    ``page_size``, pages of that many descriptors linked by ``Link: <path?page=k>;
    rel="next"`` (the spec leaves the link's form to the registry)."""
    if not is_digest(subject):
        return error_reply(400, "DIGEST_INVALID", "provided digest did not match uploaded content")
    entries = [
        _referrer(d, *repo.manifests[d])
        for d in repo.referrers.get(subject, ())
        if d in repo.manifests
    ]
    headers: dict[str, str] = {}
    if artifact_type and filtering:
        entries = [e for e in entries if e.get("artifactType") == artifact_type]
        headers["OCI-Filters-Applied"] = "artifactType"
    if page_size is not None:
        start = int(page) * page_size if page.isdigit() else 0
        if start + page_size < len(entries):
            query = f"page={start // page_size + 1}"
            if artifact_type:
                query += f"&artifactType={quote(artifact_type, safe='')}"
            headers["Link"] = f'<{path}?{query}>; rel="next"'
        entries = entries[start : start + page_size]
    body = {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": entries}
    return Reply(200, json.dumps(body).encode(), INDEX_TYPE, headers)

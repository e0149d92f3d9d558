"""``imagesVerification``: the cosign signature policy of a resource, an applicationRef or an
image, and how the three levels combine.

Owns reading one block (``enabled``, ``cosignKey {secretName, key}``), the CRD's CEL rule
(``enabled == false || has(cosignKey)``), and the merge upstream does: field by field from
spec to applicationRef to image, verification off when no level has a block. ``enabled``
left out is ``true``: the CRD defaults it inside a present block (every CRD version does),
so a file read by ``lint`` means what the API server will store. Checking signatures is not
done here.
"""

from __future__ import annotations

__all__ = [
    "CosignKey",
    "Verification",
    "VerificationBlock",
    "merge_verification",
    "parse_verification",
]

from dataclasses import dataclass

from imageupdater.annotations.report import Collector, quote
from imageupdater.imageupdaters import fields as f
from imageupdater.imageupdaters.fields import Setting
from imageupdater.patterns import compile_re2, fullmatches

_SECRET_NAME = compile_re2(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*")
_DATA_KEY = compile_re2(r"[-._a-zA-Z0-9]+")
_MAX_NAME = 253
_CEL_MESSAGE = (
    "at least one verification method (cosignKey) is required when verification is enabled"
)


@dataclass(frozen=True, slots=True)
class CosignKey:
    """The Secret (in the resource's namespace) and data key holding a PEM ECDSA public key."""

    secret_name: str
    key: str


@dataclass(frozen=True, slots=True)
class Verification:
    """The effective policy for one image: verify with ``cosign_key`` when ``enabled``."""

    enabled: bool
    cosign_key: CosignKey | None = None


@dataclass(frozen=True, slots=True)
class VerificationBlock:
    """One ``imagesVerification`` block as written (``enabled`` defaulted as the CRD does)."""

    path: str
    enabled: Setting[bool]
    cosign_key: Setting[CosignKey] | None = None


def parse_verification(out: Collector, path: str, value: object) -> VerificationBlock | None:
    """Read a block; None when it is absent or refused (problems are in ``out``)."""
    if value is None:
        return None
    raw = f.obj(out, path, value, ("enabled", "cosignKey"))
    if raw is None:
        return None
    enabled: bool | None = True
    if raw.get("enabled") is not None:
        enabled = f.boolean(out, f.at(path, "enabled"), raw["enabled"])
    key = None
    if raw.get("cosignKey") is not None:
        key = _cosign_key(out, f.at(path, "cosignKey"), raw["cosignKey"])
    if enabled is None:
        return None
    if enabled and raw.get("cosignKey") is None:
        out.error(
            path,
            f"{_CEL_MESSAGE}: add cosignKey {{secretName, key}} naming the Secret with the "
            "public key, or set enabled: false to opt out at this level",
        )
        return None
    return VerificationBlock(
        path,
        Setting(enabled, f.at(path, "enabled")),
        None if key is None else Setting(key, f.at(path, "cosignKey")),
    )


def _cosign_key(out: Collector, path: str, value: object) -> CosignKey | None:
    raw = f.obj(out, path, value, ("secretName", "key"))
    if raw is None:
        return None
    name = _required(out, f.at(path, "secretName"), raw.get("secretName"), "the Secret's name")
    if name is not None and (len(name) > _MAX_NAME or not fullmatches(_SECRET_NAME, name)):
        out.error(
            f.at(path, "secretName"),
            f"invalid Secret name {quote(name)}: a Secret name is at most {_MAX_NAME} "
            "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
        )
        name = None
    key = _required(out, f.at(path, "key"), raw.get("key"), "the data key, e.g. 'cosign.pub'")
    if key is not None and (len(key) > _MAX_NAME or not fullmatches(_DATA_KEY, key)):
        out.error(
            f.at(path, "key"),
            f"invalid Secret data key {quote(key)}: a key is at most {_MAX_NAME} letters, "
            "digits, '-', '_' and '.', e.g. 'cosign.pub'",
        )
        key = None
    return None if name is None or key is None else CosignKey(name, key)


def _required(out: Collector, path: str, value: object, what: str) -> str | None:
    if value is None:
        out.error(path, f"is missing; give {what}")
        return None
    return f.string(out, path, value)


def merge_verification(*blocks: VerificationBlock | None) -> Verification | None:
    """Field by field, later blocks winning; None when no level has a block (no checks)."""
    present = [block for block in blocks if block is not None]
    if not present:
        return None
    enabled = present[-1].enabled.value
    key = next((b.cosign_key.value for b in reversed(present) if b.cosign_key), None)
    return Verification(enabled, key if enabled else None)

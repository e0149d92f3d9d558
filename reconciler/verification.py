"""Signatures checked before a write: an ImageUpdater's ``imagesVerification`` (upstream §16).

For an image whose effective verification is enabled, the version the strategy chose is
written only when it carries a cosign signature that verifies with the configured public
key (``cosignKey``: a Secret in the resource's namespace and a data key holding one PEM
ECDSA key). The verdict comes from the registry client (OCI referrers, else cosign's
``sha256-<digest>.sig`` tag; simple-signing payloads and bundles): ``Verified`` writes,
``Unsigned`` and ``BadSignature`` leave the image at its version and are that image's
failure in the Application's ``ImageUpdateFailed`` Event, counted as an error — as upstream
skips the image and counts the error. A missing Secret or an unusable key fails the image
the same way, naming the Secret and key, never its content. The choice is not walked back
to an older signed version: what runs stays until the best candidate is signed.

Keys are read once per (namespace, Secret, data key) and kept for ``key_ttl`` seconds, so a
rotated key is used within that time without a read per image and cycle.
"""

from __future__ import annotations

__all__ = ["SignatureGate", "registry_verifier"]

import base64
import binascii
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from imageupdater import kube
from imageupdater.application import Application, app_key
from imageupdater.choice import ChosenImage
from imageupdater.errors import CredentialError, ImageUpdaterError, SignatureRejected
from imageupdater.policy import ImagePolicy
from reconciler.work import AppWork, Job

if TYPE_CHECKING:
    from imageupdater.imageupdaters import Verification
    from imageupdater.service import ResolverService
    from imageupdater.signatures import Verdict, VerificationKey

log = logging.getLogger("image_updater.reconciler")

Required = Callable[[Application, ImagePolicy], "Verification | None"]
Verify = Callable[[ImagePolicy, ChosenImage, "VerificationKey"], Awaitable["Verdict"]]


class SignatureGate:
    """Keeps the chosen versions that may be written: signed ones, where a signature is
    required (``required``), and every other one untouched."""

    def __init__(
        self,
        client: kube.KubeClient,
        *,
        required: Required,
        verify: Verify,
        key_ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.required = required
        self.verify = verify
        self.key_ttl = key_ttl
        self.clock = clock
        self._keys: dict[tuple[str, str, str], tuple[float, VerificationKey]] = {}

    async def signed(
        self,
        item: AppWork,
        chosen: Sequence[ChosenImage],
        failures: list[tuple[Job, ImageUpdaterError]],
    ) -> list[ChosenImage]:
        """``chosen`` without the versions whose signature is required and missing or bad;
        each of those is added to ``failures`` with why."""
        kept: list[ChosenImage] = []
        for choice in chosen:
            verification = self.required(item.app, choice.policy)
            if verification is None:
                kept.append(choice)
                continue
            job = next(j for j in item.jobs if j.policy == choice.policy)
            try:
                await self._check(item.app, choice, verification)
            except ImageUpdaterError as exc:
                log.warning(
                    "not writing %s to %s: %s",
                    choice.reference,
                    app_key(item.app),
                    exc,
                    extra={"application": app_key(item.app), "reason": "signature"},
                )
                failures.append((job, exc))
                continue
            kept.append(choice)
        return kept

    async def _check(
        self, app: Application, choice: ChosenImage, verification: Verification
    ) -> None:
        from imageupdater.signatures import BadSignature, Unsigned

        cosign = verification.cosign_key
        if cosign is None:  # the parser refuses enabled without a key; never write unchecked
            raise SignatureRejected(
                f"{choice.reference} must be verified, but no cosignKey is configured",
                verdict="no_key",
            )
        namespace = app.get("metadata", {}).get("namespace") or ""
        key = await self._key(namespace, cosign.secret_name, cosign.key)
        verdict = await self.verify(choice.policy, choice, key)
        if isinstance(verdict, Unsigned):
            raise SignatureRejected(
                f"{choice.reference} is not signed by the key in Secret "
                f"{namespace}/{cosign.secret_name} ({verdict.reason}); it is not written",
                verdict="unsigned",
            )
        if isinstance(verdict, BadSignature):
            raise SignatureRejected(
                f"{choice.reference} has a signature that does not verify with the key in "
                f"Secret {namespace}/{cosign.secret_name} ({verdict.reason}); it is not written",
                verdict="bad_signature",
            )

    async def _key(self, namespace: str, secret: str, data_key: str) -> VerificationKey:
        from imageupdater.signatures import load_public_key

        cache_key = (namespace, secret, data_key)
        cached = self._keys.get(cache_key)
        now = self.clock()
        if cached is not None and now - cached[0] < self.key_ttl:
            return cached[1]
        where = f"{namespace}/{secret}"
        found = await self.client.get_or_none(kube.SECRETS, namespace, secret)
        if found is None:
            raise CredentialError(f"the cosign key Secret {where} does not exist")
        data = found.get("data") or {}
        encoded = data.get(data_key) if isinstance(data, dict) else None
        if not isinstance(encoded, str):
            raise CredentialError(f"the Secret {where} has no data key {data_key!r}")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise CredentialError(
                f"the data key {data_key!r} of Secret {where} is not base64"
            ) from None
        key = load_public_key(raw, secret=where, key=data_key)
        self._keys[cache_key] = (now, key)
        return key


def registry_verifier(resolver: ResolverService) -> Verify:
    """Verdicts from ``resolver``'s registry client (its caches and credentials)."""

    async def verify(policy: ImagePolicy, choice: ChosenImage, key: VerificationKey) -> Verdict:
        from imageupdater.registry.signatures import verify_candidate

        return await verify_candidate(
            resolver.client,
            resolver.conf,
            policy.image,
            key,
            digest=choice.digest,
            tag=choice.tag,
            credentials=policy.pull_secret,
        )

    return verify

"""Keeping the webhook's TLS material current in the cluster.

One pass (``ensure``): read the Secret, renew what is due (``authority.renew``), store it
(create, or replace guarded by ``resourceVersion`` — when another replica wins the race we
adopt its material), inject the CA bundle into our Mutating- and
ValidatingWebhookConfigurations, and optionally write the files the webhook server reads.
``run`` repeats the pass until stopped, waking at the next rotation point or the check
interval, whichever comes first.

Configurations annotated for cert-manager's CA injector belong to cert-manager: we leave
them, and the Secret, alone. A configuration named that does not exist (neither a Mutating-
nor a ValidatingWebhookConfiguration of that name) fails the pass, naming it: a typo must
not pass for "already current" while the API server cannot reach the webhook.
"""

from __future__ import annotations

__all__ = ["CertSettings", "Outcome", "bundle_from_secret", "ensure", "run"]

import asyncio
import base64
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certs.authority import Bundle, renew, rotation_due, service_dns_names
from certs.files import write_files
from imageupdater import kube
from imageupdater.errors import KubeConflict, KubeNotFound

log = logging.getLogger("image_updater.certs")

CERT_MANAGER_ANNOTATIONS = (
    "cert-manager.io/inject-ca-from",
    "cert-manager.io/inject-ca-from-secret",
    "cert-manager.io/inject-apiserver-ca",
)
_KEYS = {"ca.crt": "ca_cert", "ca.key": "ca_key", "tls.crt": "cert", "tls.key": "key"}
_PREVIOUS_CA = "ca-previous.crt"
_CONFLICT_RETRIES = 3


@dataclass(frozen=True, slots=True)
class CertSettings:
    namespace: str
    service: str
    secret_name: str
    webhook_configurations: Sequence[str] = ()
    extra_dns_names: Sequence[str] = ()
    ip_addresses: Sequence[str] = ()
    cert_dir: Path | None = None
    cert_lifetime: dt.timedelta = dt.timedelta(days=365)
    ca_lifetime: dt.timedelta = dt.timedelta(days=3650)

    @property
    def dns_names(self) -> list[str]:
        return [*service_dns_names(self.service, self.namespace), *self.extra_dns_names]


@dataclass(slots=True)
class Outcome:
    bundle: Bundle | None = None
    renewed: bool = False
    injected: list[str] = field(default_factory=list)
    skipped_cert_manager: list[str] = field(default_factory=list)


def bundle_from_secret(secret: dict[str, Any] | None) -> Bundle | None:
    """The bundle a Secret holds, or None when it is missing or incomplete."""
    if secret is None:
        return None
    data = kube.decode_secret_data(secret)
    if not all(key in data for key in _KEYS):
        return None
    values = {attr: data[key] for key, attr in _KEYS.items()}
    return Bundle(**values, previous_ca=data.get(_PREVIOUS_CA, b""))


def _secret_body(settings: CertSettings, bundle: Bundle, resource_version: str | None) -> Any:
    data = {key: getattr(bundle, attr) for key, attr in _KEYS.items()}
    if bundle.previous_ca:
        data[_PREVIOUS_CA] = bundle.previous_ca
    metadata: dict[str, Any] = {
        "name": settings.secret_name,
        "namespace": settings.namespace,
        "labels": {"app.kubernetes.io/managed-by": "image-updater-certs"},
    }
    if resource_version is not None:
        metadata["resourceVersion"] = resource_version
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": metadata,
        "data": kube.encode_secret_data(data),
    }


async def _configurations(
    client: kube.KubeClient, names: Sequence[str]
) -> list[tuple[kube.Resource, dict[str, Any]]]:
    """Every configuration named, of either kind; KubeNotFound naming those of neither."""
    found = []
    missing = []
    for name in names:
        of_name = []
        for resource in (kube.MUTATING_WEBHOOKS, kube.VALIDATING_WEBHOOKS):
            obj = await client.get_or_none(resource, None, name)
            if obj is not None:
                of_name.append((resource, obj))
        if not of_name:
            missing.append(name)
        found += of_name
    if missing:
        listed = ", ".join(repr(name) for name in missing)
        raise KubeNotFound(
            f"webhook configuration{'s' if len(missing) > 1 else ''} {listed} not found: no "
            "MutatingWebhookConfiguration or ValidatingWebhookConfiguration has that name, so "
            "there is nothing to inject the CA bundle into; name the configurations the "
            "install created (default: image-updater)",
            status=404,
        )
    return found


def _managed_by_cert_manager(obj: dict[str, Any]) -> bool:
    annotations = obj.get("metadata", {}).get("annotations") or {}
    return any(key in annotations for key in CERT_MANAGER_ANNOTATIONS)


async def _store(
    client: kube.KubeClient, settings: CertSettings, now: dt.datetime
) -> tuple[Bundle, bool]:
    for _ in range(_CONFLICT_RETRIES):
        secret = await client.get_or_none(kube.SECRETS, settings.namespace, settings.secret_name)
        current = bundle_from_secret(secret)
        fresh = renew(
            current,
            settings.dns_names,
            now=now,
            ip_addresses=list(settings.ip_addresses),
            ca_lifetime=settings.ca_lifetime,
            cert_lifetime=settings.cert_lifetime,
        )
        if fresh is None:
            assert current is not None
            return current, False
        try:
            if secret is None:
                await client.create(
                    kube.SECRETS, settings.namespace, _secret_body(settings, fresh, None)
                )
            else:
                version = secret["metadata"]["resourceVersion"]
                body = _secret_body(settings, fresh, version)
                await client.replace(kube.SECRETS, settings.namespace, body)
        except KubeConflict:
            # Another replica stored its material first: read it back and adopt it.
            log.info("secret %s changed concurrently; re-reading", settings.secret_name)
            continue
        log.info(
            "stored new webhook certificate in secret %s/%s (valid until %s)",
            settings.namespace,
            settings.secret_name,
            fresh.not_after.isoformat(),
        )
        return fresh, True
    raise KubeConflict(
        f"secret {settings.namespace}/{settings.secret_name} kept changing during "
        f"{_CONFLICT_RETRIES} attempts to store the webhook certificate"
    )


async def _inject(
    client: kube.KubeClient, resource: kube.Resource, obj: dict[str, Any], ca_bundle: bytes
) -> bool:
    wanted = base64.b64encode(ca_bundle).decode()
    operations: list[dict[str, Any]] = []
    for index, webhook in enumerate(obj.get("webhooks") or []):
        client_config = webhook.get("clientConfig") or {}
        if client_config.get("caBundle") == wanted:
            continue
        op = "replace" if "caBundle" in client_config else "add"
        path = f"/webhooks/{index}/clientConfig/caBundle"
        operations.append({"op": op, "path": path, "value": wanted})
    if not operations:
        return False
    version = obj["metadata"]["resourceVersion"]
    guard = {"op": "test", "path": "/metadata/resourceVersion", "value": version}
    name = obj["metadata"]["name"]
    await client.patch(resource, None, name, [guard, *operations], content_type=kube.JSON_PATCH)
    return True


async def ensure(
    client: kube.KubeClient, settings: CertSettings, *, now: dt.datetime | None = None
) -> Outcome:
    """One pass: renew and store what is due, inject the CA bundle, write the files."""
    now = now or dt.datetime.now(dt.UTC)
    outcome = Outcome()
    configurations = await _configurations(client, settings.webhook_configurations)
    ours = []
    for resource, obj in configurations:
        if _managed_by_cert_manager(obj):
            outcome.skipped_cert_manager.append(obj["metadata"]["name"])
        else:
            ours.append((resource, obj))
    if configurations and not ours:
        log.info(
            "cert-manager injects the CA into %s; leaving certificates to it",
            ", ".join(outcome.skipped_cert_manager),
        )
        return outcome
    bundle, outcome.renewed = await _store(client, settings, now)
    outcome.bundle = bundle
    for resource, obj in ours:
        for _ in range(_CONFLICT_RETRIES):
            try:
                if await _inject(client, resource, obj, bundle.ca_bundle):
                    outcome.injected.append(obj["metadata"]["name"])
                break
            except KubeConflict:
                fresh = await client.get_or_none(resource, None, obj["metadata"]["name"])
                if fresh is None:
                    break
                obj = fresh
    if settings.cert_dir is not None:
        write_files(bundle, settings.cert_dir)
    return outcome


def next_check(bundle: Bundle | None, now: dt.datetime, interval: dt.timedelta) -> float:
    """Seconds until the next pass: the next rotation point, or ``interval`` if sooner."""
    deadline = now + interval
    if bundle is not None:
        deadline = min(deadline, rotation_due(bundle.cert), rotation_due(bundle.ca_cert))
    return max(1.0, (deadline - now).total_seconds())


async def run(
    client: kube.KubeClient,
    settings: CertSettings,
    *,
    interval: dt.timedelta = dt.timedelta(hours=12),
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    on_pass: Callable[[Outcome], None] | None = None,
) -> None:
    """Repeat ``ensure`` until cancelled; a failed pass is logged and retried a minute later."""
    while True:
        try:
            outcome = await ensure(client, settings, now=clock())
        except Exception as exc:
            log.warning("certificate pass failed, retrying in 60s: %s", exc)
            await asyncio.sleep(60)
            continue
        if on_pass is not None:
            on_pass(outcome)
        await asyncio.sleep(next_check(outcome.bundle, clock(), interval))

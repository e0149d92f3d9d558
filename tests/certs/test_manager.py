"""The certs manager against the API emulator: Secret, caBundle injection, cert-manager mode."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from certs import manager
from certs.authority import rotation_due
from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.errors import KubeNotFound

NOW = dt.datetime.now(dt.UTC)


def webhook_configuration(
    kind: str, name: str, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    hook = {
        "name": f"{kind.lower()}.image-updater.argoproj.io",
        "clientConfig": {
            "service": {"namespace": "argocd", "name": "image-updater-webhook", "path": "/x"}
        },
        "rules": [
            {
                "apiGroups": ["argoproj.io"],
                "apiVersions": ["v1alpha1"],
                "resources": ["applications"],
                "operations": ["CREATE"],
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "failurePolicy": "Ignore",
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name, "annotations": annotations or {}},
        "webhooks": [hook],
    }


def settings(tmp_path: Path | None = None) -> manager.CertSettings:
    return manager.CertSettings(
        namespace="argocd",
        service="image-updater-webhook",
        secret_name="image-updater-webhook-tls",
        webhook_configurations=["image-updater"],
        cert_dir=tmp_path,
    )


async def test_one_pass_stores_the_material_and_injects_the_ca_everywhere(
    cluster: kube.KubeClient, kube_api: KubeAPI, tmp_path: Path
) -> None:
    kube_api.store.put(webhook_configuration("MutatingWebhookConfiguration", "image-updater"))
    kube_api.store.put(webhook_configuration("ValidatingWebhookConfiguration", "image-updater"))
    outcome = await manager.ensure(cluster, settings(tmp_path), now=NOW)
    assert outcome.renewed
    assert sorted(outcome.injected) == ["image-updater", "image-updater"]
    secret = await cluster.get(kube.SECRETS, "argocd", "image-updater-webhook-tls")
    assert secret["type"] == "kubernetes.io/tls"
    bundle = manager.bundle_from_secret(secret)
    assert bundle is not None
    assert "image-updater-webhook.argocd.svc" in bundle.dns_names
    for resource in (kube.MUTATING_WEBHOOKS, kube.VALIDATING_WEBHOOKS):
        obj = await cluster.get(resource, None, "image-updater")
        assert base64.b64decode(obj["webhooks"][0]["clientConfig"]["caBundle"]) == bundle.ca_cert
    assert (tmp_path / "tls.crt").read_bytes() == bundle.cert
    assert (tmp_path / "tls.key").stat().st_mode & 0o777 == 0o600


async def test_a_second_pass_changes_nothing(cluster: kube.KubeClient, kube_api: KubeAPI) -> None:
    kube_api.store.put(webhook_configuration("ValidatingWebhookConfiguration", "image-updater"))
    await manager.ensure(cluster, settings(), now=NOW)
    writes = kube_api.requests.count(verb="update") + kube_api.requests.count(verb="patch")
    outcome = await manager.ensure(cluster, settings(), now=NOW + dt.timedelta(days=1))
    assert not outcome.renewed
    assert outcome.injected == []
    assert kube_api.requests.count(verb="update") + kube_api.requests.count(verb="patch") == writes


async def test_rotation_replaces_the_serving_certificate_but_keeps_the_ca_bundle(
    cluster: kube.KubeClient, kube_api: KubeAPI
) -> None:
    kube_api.store.put(webhook_configuration("ValidatingWebhookConfiguration", "image-updater"))
    first = await manager.ensure(cluster, settings(), now=NOW)
    assert first.bundle is not None
    later = rotation_due(first.bundle.cert) + dt.timedelta(minutes=1)
    second = await manager.ensure(cluster, settings(), now=later)
    assert second.renewed and second.bundle is not None
    assert second.bundle.cert != first.bundle.cert
    assert second.bundle.ca_cert == first.bundle.ca_cert
    assert second.injected == []  # the CA did not change, so the bundle stays as it was
    serial = x509.load_pem_x509_certificate(second.bundle.cert).serial_number
    stored = manager.bundle_from_secret(
        await cluster.get(kube.SECRETS, "argocd", "image-updater-webhook-tls")
    )
    assert stored is not None
    assert x509.load_pem_x509_certificate(stored.cert).serial_number == serial


async def test_configurations_managed_by_cert_manager_are_left_alone(
    cluster: kube.KubeClient, kube_api: KubeAPI
) -> None:
    annotations = {"cert-manager.io/inject-ca-from": "argocd/image-updater-webhook"}
    kube_api.store.put(
        webhook_configuration("MutatingWebhookConfiguration", "image-updater", annotations)
    )
    outcome = await manager.ensure(cluster, settings(), now=NOW)
    assert outcome.skipped_cert_manager == ["image-updater"]
    assert outcome.bundle is None
    assert await cluster.get_or_none(kube.SECRETS, "argocd", "image-updater-webhook-tls") is None


async def test_a_replica_that_loses_the_race_adopts_the_winners_material(
    cluster: kube.KubeClient, kube_api: KubeAPI
) -> None:
    kube_api.store.put(webhook_configuration("ValidatingWebhookConfiguration", "image-updater"))
    winner = await manager.ensure(cluster, settings(), now=NOW)
    assert winner.bundle is not None
    kube_api.faults.inject(verb="update", resource="secrets", status=409, times=1)
    later = rotation_due(winner.bundle.cert) + dt.timedelta(minutes=1)
    outcome = await manager.ensure(cluster, settings(), now=later)
    assert outcome.bundle is not None
    outcome.bundle.validate()


async def test_a_configuration_that_does_not_exist_fails_the_pass_naming_it(
    cluster: kube.KubeClient, kube_api: KubeAPI
) -> None:
    kube_api.store.put(webhook_configuration("ValidatingWebhookConfiguration", "image-updater"))
    named = manager.CertSettings(
        namespace="argocd",
        service="image-updater-webhook",
        secret_name="image-updater-webhook-tls",
        webhook_configurations=["image-updater", "image-updater-typo", "other"],
    )
    with pytest.raises(KubeNotFound) as failed:
        await manager.ensure(cluster, named, now=NOW)
    message = str(failed.value)
    assert "'image-updater-typo', 'other' not found" in message
    assert "'image-updater'," not in message  # the one that exists is not blamed
    # Nothing was stored or injected on the strength of a half-right list.
    assert await cluster.get_or_none(kube.SECRETS, "argocd", "image-updater-webhook-tls") is None

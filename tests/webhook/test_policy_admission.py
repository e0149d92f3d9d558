"""Update policies at ``kubectl apply``: kubectl → API emulator → our HTTPS webhook, with the
webhook configurations from ``manifests/`` and the policies read through the API.

A broken policy is refused with the parser's words; an Application that breaks an
``Enforce`` policy is refused naming the policy, the rule, the value and what is allowed; a
``Warn`` policy admits with ``Warning:`` lines; a write that leaves a breach as it was (a
policy written after the Application) is let through with a warning.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from devcluster.kubeapi import KubeAPI, write_kubeconfig
from devcluster.kubeapi.server import DEFAULT_CRDS
from imageupdater import kube
from tests.webhook.kubectl_cluster import (
    KubectlCluster,
    register_webhooks,
    serve_webhook,
    webhook_certificates,
)
from webhook.admission import Admission, AdmissionSettings
from webhook.metrics import WebhookMetrics
from webhook.policies import PolicyWatch

ROOT = Path(__file__).parents[2]
MANIFESTS = ROOT / "manifests" / "base" / "webhook-configurations.yaml"
POLICY_CRDS = ROOT / "manifests" / "crds"
DENIED = 'admission webhook "validate.image-updater.argoproj.io" denied the request: '
POLICY_DENIED = (
    'admission webhook "validate-policies.image-updater.argoproj.io" denied the request: '
)


@dataclass
class Cluster(KubectlCluster):
    policies: PolicyWatch


def application(name: str, image: str, **spec_source: Any) -> dict[str, Any]:
    source = {"repoURL": "https://git.example/r.git", "path": name, "kustomize": {}}
    source.update(spec_source)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": "argocd",
            "annotations": {"argocd-image-updater.argoproj.io/image-list": f"web={image}"},
        },
        "spec": {
            "project": "default",
            "source": source,
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "apps"},
        },
    }


def policy(name: str, rules: dict[str, Any], action: str = "Enforce") -> dict[str, Any]:
    return {
        "apiVersion": "image-updater.io/v1alpha1",
        "kind": "ClusterImageUpdatePolicy",
        "metadata": {"name": name},
        "spec": {"action": action, "rules": rules},
    }


StartCluster = Callable[[], Awaitable[Cluster]]


@pytest.fixture
async def start_cluster(aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[StartCluster]:
    closing: list[Callable[[], Awaitable[None]]] = []

    async def start() -> Cluster:
        bundle, context = webhook_certificates(tmp_path / "certs")
        api = KubeAPI(crds=(DEFAULT_CRDS, POLICY_CRDS))  # DEFAULT_CRDS has ImageUpdater
        server = await aiohttp_server(api.app())
        url = str(server.make_url("")).rstrip("/")
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", url)
        client = await kube.KubeClient.connect(str(kubeconfig))
        closing.append(client.close)
        watch = PolicyWatch(client.list)
        admission = Admission(AdmissionSettings(), policies=watch)
        runner, port = await serve_webhook(admission, WebhookMetrics(CollectorRegistry()), context)
        closing.append(runner.cleanup)
        api.dispatcher.service_addresses[("argocd", "image-updater-webhook")] = f"127.0.0.1:{port}"
        register_webhooks(api, bundle)
        return Cluster(api, kubeconfig, tmp_path / "kcache", watch)

    yield start
    for close in reversed(closing):
        await close()


async def test_a_broken_policy_is_refused_with_every_problem_and_its_field(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster()
    code, _, err = await cluster.apply(policy("bad", {"maxBump": "huge", "deniedTags": ["[a"]}))
    assert code == 1
    assert POLICY_DENIED + "2 problems in the update policy:" in err
    assert "spec.rules.maxBump" in err and "spec.rules.deniedTags" in err
    assert cluster.api.store.list("image-updater.io", None, "clusterimageupdatepolicies") == []


async def test_a_rollout_is_checked_at_apply_and_a_valid_one_is_stored(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster()
    staged = policy("staged", {})
    staged["spec"]["rollout"] = {"firstWave": {"count": 1, "percent": 10}, "soak": "1d"}
    code, _, err = await cluster.apply(staged)
    assert code == 1
    assert POLICY_DENIED + "2 problems in the update policy:" in err
    assert "spec.rollout.firstWave: needs exactly one of count" in err
    assert "spec.rollout.soak" in err and "168h" in err
    staged["spec"]["rollout"] = {"firstWave": {"selector": {"matchLabels": {"wave": "canary"}}}}
    code, _, err = await cluster.apply(staged)
    assert code == 0, err
    (stored,) = cluster.api.store.list("image-updater.io", None, "clusterimageupdatepolicies")
    assert stored["spec"]["rollout"]["firstWave"]["selector"] == {"matchLabels": {"wave": "canary"}}


async def test_an_application_breaking_an_enforce_policy_is_refused_naming_it(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster()
    code, _, err = await cluster.apply(policy("ghcr-only", {"allowedRegistries": ["ghcr.io"]}))
    assert code == 0, err
    await cluster.policies.refresh()
    code, _, err = await cluster.apply(application("shop", "docker.io/library/nginx:1.x"))
    assert code == 1
    assert DENIED + "1 update-policy violation:" in err
    assert "policy ClusterImageUpdatePolicy/ghcr-only (Enforce), rule allowedRegistries" in err
    assert "'docker.io'" in err and "'ghcr.io'" in err
    code, _, err = await cluster.apply(application("shop", "ghcr.io/acme/web:1.x"))
    assert code == 0, err


async def test_an_override_written_in_the_spec_is_judged_too(start_cluster: StartCluster) -> None:
    cluster = await start_cluster()
    assert (await cluster.apply(policy("no-latest", {"deniedTags": ["latest"]})))[0] == 0
    await cluster.policies.refresh()
    app = application(
        "shop", "ghcr.io/acme/web:1.x", kustomize={"images": ["ghcr.io/acme/web:latest"]}
    )
    code, _, err = await cluster.apply(app)
    assert code == 1
    assert "rule deniedTags" in err and "'latest'" in err


async def test_a_warn_policy_admits_with_warning_lines(start_cluster: StartCluster) -> None:
    cluster = await start_cluster()
    rules = {"allowedRegistries": ["ghcr.io"]}
    assert (await cluster.apply(policy("advice", rules, action="Warn")))[0] == 0
    await cluster.policies.refresh()
    code, _, err = await cluster.apply(application("shop", "quay.io/acme/web:1.x"))
    assert code == 0, err
    assert "Warning: policy ClusterImageUpdatePolicy/advice (Warn), rule allowedRegistries" in err


async def test_a_breach_left_as_it_was_does_not_block_other_writes(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster()
    assert (await cluster.apply(application("shop", "quay.io/acme/web:1.x")))[0] == 0
    assert (await cluster.apply(policy("ghcr-only", {"allowedRegistries": ["ghcr.io"]})))[0] == 0
    await cluster.policies.refresh()
    app = application("shop", "quay.io/acme/web:1.x")
    app["metadata"]["labels"] = {"team": "shop"}  # a write that changes neither image nor spec
    code, _, err = await cluster.apply(app)
    assert code == 0, err
    assert "Warning: update policy not met: policy ClusterImageUpdatePolicy/ghcr-only" in err


IU_DENIED = (
    'admission webhook "validate-imageupdaters.image-updater.argoproj.io" denied the request: '
)


async def test_an_image_updater_resource_with_mistakes_is_refused_with_field_paths(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster()
    resource = {
        "apiVersion": "argocd-image-updater.argoproj.io/v1alpha1",
        "kind": "ImageUpdater",
        "metadata": {"name": "updater", "namespace": "argocd"},
        "spec": {
            "applicationRefs": [
                {
                    "namePattern": "*",
                    "images": [
                        {
                            "alias": "web",
                            "imageName": "nginx:1.x",
                            "commonUpdateSettings": {"updateStrategy": "semverr"},
                        }
                    ],
                }
            ]
        },
    }
    code, _, err = await cluster.apply(resource)
    assert code == 1
    assert IU_DENIED + "1 problem in the ImageUpdater resource:" in err
    assert "spec.applicationRefs[0].images[0].commonUpdateSettings.updateStrategy" in err
    assert "did you mean 'semver'?" in err
    resource["spec"]["applicationRefs"][0]["images"][0]["commonUpdateSettings"] = {
        "updateStrategy": "semver"
    }
    code, _, err = await cluster.apply(resource)
    assert code == 0, err

"""The webhook as a cluster drives it: kubectl apply → API emulator → our HTTPS webhook.

The webhook configurations are the ones in ``manifests/``, with the CA bundle that
``certs`` issued; the registry is the real local one (or the fault-injecting one).
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from certs.authority import Bundle, renew, service_dns_names
from certs.files import CertReloader, write_files
from devcluster.faultregistry import FaultRegistry
from devcluster.kubeapi import KubeAPI, write_kubeconfig
from devcluster.registry import LocalRegistry
from devcluster.seeder import ImageSeeder
from imageupdater.registries_conf import RegistriesConf
from imageupdater.registry import ClientSettings
from imageupdater.service import ResolverService
from tests.webhook.kubectl_cluster import (
    KubectlCluster,
    register_webhooks,
    serve_webhook,
    webhook_certificates,
)
from tests.webhook.reviews import body, review
from webhook.admission import Admission, AdmissionSettings
from webhook.metrics import WebhookMetrics

BASE = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)


@dataclass
class Cluster(KubectlCluster):
    bundle: Bundle
    certs: Path
    webhook_url: str
    reloader: CertReloader
    metrics: WebhookMetrics

    def stored(self, name: str) -> dict[str, Any]:
        obj = self.api.store.get("argoproj.io", None, "applications", "argocd", name)
        assert obj is not None, f"{name} was not stored"
        return copy.deepcopy(dict(obj))


def application(
    name: str, annotations: dict[str, str], source: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": "argocd",
            "annotations": {
                f"argocd-image-updater.argoproj.io/{k}": v for k, v in annotations.items()
            },
        },
        "spec": {
            "project": "default",
            "source": source
            or {"repoURL": "https://git.example/r.git", "path": name, "kustomize": {}},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "apps"},
        },
    }


StartCluster = Callable[..., Awaitable[Cluster]]


@pytest.fixture
async def start_cluster(
    aiohttp_server: Any, tmp_path: Path, registry: LocalRegistry
) -> AsyncIterator[StartCluster]:
    stack: list[Callable[[], Awaitable[None]]] = []

    async def start(*, extra_registries: str = "", resolve_timeout: float = 2.0) -> Cluster:
        certs = tmp_path / "certs"
        bundle, context = webhook_certificates(certs)
        reloader = CertReloader(context, certs / "tls.crt", certs / "tls.key", interval=0.05)
        conf = RegistriesConf.parse(
            f"registries:\n- name: local\n  prefix: {registry.host}\n  api_url: {registry.url}\n"
            + extra_registries,
            source="test",
        )
        resolver = ResolverService(conf, settings=ClientSettings(request_timeout=10))
        await resolver.__aenter__()
        metrics = WebhookMetrics(CollectorRegistry(), registry_snapshot=resolver.client.snapshot)
        admission = Admission(AdmissionSettings(resolve_timeout=resolve_timeout), resolver.resolve)
        runner, port = await serve_webhook(admission, metrics, context)
        stack.append(runner.cleanup)
        stack.append(lambda: resolver.__aexit__(None, None, None))
        api = KubeAPI(service_addresses={("argocd", "image-updater-webhook"): f"127.0.0.1:{port}"})
        server = await aiohttp_server(api.app())
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", str(server.make_url("")).rstrip("/"))
        register_webhooks(api, bundle)
        return Cluster(
            api,
            kubeconfig,
            tmp_path / "kcache",
            bundle,
            certs,
            f"https://127.0.0.1:{port}",
            reloader,
            metrics,
        )

    yield start
    for close in reversed(stack):
        await close()


async def test_kubectl_apply_of_a_bad_application_prints_every_problem(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster()
    app = application(
        "bad",
        {
            "image-list": "web=nginx:~1.26",
            "web.update-stratgy": "semver",
            "web.allow-tags": "regexp:(",
        },
    )
    code, out, err = await cluster.apply(app)
    assert code == 1, out
    assert (
        'admission webhook "validate.image-updater.argoproj.io" denied the request: '
        "2 problems in image-updater annotations:" in err
    )
    assert (
        "argocd-image-updater.argoproj.io/web.update-stratgy: unknown annotation; did you mean"
        in err
    )
    assert "argocd-image-updater.argoproj.io/web.allow-tags:" in err
    assert cluster.api.store.get("argoproj.io", None, "applications", "argocd", "bad") is None


async def test_kubectl_apply_of_a_risky_application_prints_warnings(
    start_cluster: StartCluster, registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> None:
    await seeder.push(unique_repo, "1.0.0", created=BASE)
    cluster = await start_cluster()
    image = f"{registry.host}/{unique_repo}"
    app = application(
        "risky",
        {
            "image-list": f"web={image},hub=nginx",
            "web.update-strategy": "latest",
            "hub.update-strategy": "newest-build",
            "hub.ignore-tags": "*",
        },
    )
    code, out, err = await cluster.apply(app)
    assert code == 0, err
    assert "application.argoproj.io/risky created" in out
    assert (
        "Warning: argocd-image-updater.argoproj.io/web.update-strategy:" in err
        and "deprecated" in err
    )
    assert "Warning: image 'hub': newest-build reads a manifest per tag" in err
    assert "Warning: image 'hub': ignore-tags '*' ignores every tag, updates are paused" in err


async def test_good_kustomize_and_helm_applications_come_back_with_resolved_overrides(
    start_cluster: StartCluster, registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> None:
    for day, tag in enumerate(["1.0.0", "1.1.0", "1.1.5", "2.0.0"]):
        await seeder.push(unique_repo, tag, created=BASE + dt.timedelta(days=day))
    cluster = await start_cluster()
    image = f"{registry.host}/{unique_repo}"
    code, _, err = await cluster.apply(application("kust", {"image-list": f"web={image}:~1.1"}))
    assert code == 0, err
    assert f"Warning: image-updater set {image} to 1.1.5" in err
    assert cluster.stored("kust")["spec"]["source"]["kustomize"]["images"] == [f"{image}:1.1.5"]
    helm = {
        "repoURL": "https://charts.example",
        "chart": "web",
        "helm": {"parameters": [{"name": "replicas", "value": "2"}]},
    }
    annotations = {
        "image-list": f"web={image}",
        "web.helm.image-name": "image.repository",
        "web.helm.image-tag": "image.tag",
    }
    code, _, err = await cluster.apply(application("helm", annotations, helm))
    assert code == 0, err
    assert cluster.stored("helm")["spec"]["source"]["helm"]["parameters"] == [
        {"name": "replicas", "value": "2"},
        {"name": "image.repository", "value": image, "forceString": True},
        {"name": "image.tag", "value": "2.0.0", "forceString": True},
    ]
    # Applying the same manifest again is "unchanged"-equivalent: no new override, no patch.
    code, _, err = await cluster.apply(application("kust", {"image-list": f"web={image}:~1.1"}))
    assert code == 0, err
    assert cluster.stored("kust")["spec"]["source"]["kustomize"]["images"] == [f"{image}:1.1.5"]


async def test_a_hanging_registry_lets_the_apply_through_within_the_deadline(
    start_cluster: StartCluster, fault_registry: FaultRegistry
) -> None:
    host = fault_registry.url.removeprefix("http://")
    fault_registry.add_tags("hang/app", ["1.0.0"])
    fault_registry.slow(8.0)
    extra = f"- name: hanging\n  prefix: {host}\n  api_url: {fault_registry.url}\n"
    cluster = await start_cluster(extra_registries=extra, resolve_timeout=1.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    code, _, err = await cluster.apply(application("slow", {"image-list": f"{host}/hang/app"}))
    elapsed = loop.time() - started
    assert code == 0, err
    assert elapsed < 4.0
    assert f"Warning: image '{host}/hang/app' was not resolved within 1s" in err
    assert not cluster.stored("slow")["spec"]["source"]["kustomize"]
    assert (
        cluster.metrics.registry.get_sample_value(
            "image_updater_admission_image_resolutions_total", {"outcome": "deadline"}
        )
        == 1.0
    )


async def test_certificate_rotation_during_a_stream_of_reviews_loses_none(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster()
    names = [*service_dns_names("image-updater-webhook", "argocd"), "localhost"]
    fresh = [
        renew(
            cluster.bundle,
            names,
            now=dt.datetime.now(dt.UTC),
            ip_addresses=["127.0.0.1"],
            force=True,
        )
        for _ in range(3)
    ]
    trust = ssl.create_default_context(cadata=cluster.bundle.ca_bundle.decode())
    payload = body(review(application("stream", {"image-list": "nginx", "update-strategy": "x"})))
    answers: list[bool] = []
    errors: list[BaseException] = []

    async def stream() -> None:
        connector = aiohttp.TCPConnector(force_close=True)  # a handshake per review
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(30):
                try:
                    async with session.post(
                        f"{cluster.webhook_url}/validate", data=payload, ssl=trust
                    ) as resp:
                        answers.append(json.loads(await resp.read())["response"]["allowed"])
                except Exception as exc:  # every failure is a lost review
                    errors.append(exc)

    async def rotate() -> None:
        for bundle in fresh:
            assert bundle is not None
            await asyncio.sleep(0.05)
            write_files(bundle, cluster.certs)

    async with cluster.reloader.running():
        await asyncio.gather(stream(), stream(), rotate())
        await asyncio.sleep(0.1)
    assert errors == []
    assert answers == [False] * 60
    assert cluster.reloader.reloads >= 1


async def test_a_misspelled_image_list_key_is_caught_at_apply_time(
    start_cluster: StartCluster,
) -> None:
    cluster = await start_cluster()
    code, _, err = await cluster.apply(application("typo", {"image-lists": "nginx"}))
    assert code == 1
    assert "argocd-image-updater.argoproj.io/image-lists: unknown annotation" in err
    assert "did you mean 'argocd-image-updater.argoproj.io/image-list'" in err

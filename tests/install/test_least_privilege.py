"""Least privilege, proven: each rule of each Role and ClusterRole the install ships is
needed. For every rule, what the product does with it (through the product's own
adapters, as the component's ServiceAccount) succeeds with the shipped roles and is
refused with a 403 once that one rule is removed. A new rule without a probe here fails
the suite."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from certs.manager import CertSettings, ensure
from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.kubeapi.server import DEFAULT_CRDS
from imageupdater import kube
from imageupdater.errors import CredentialError, InvalidInput, KubeForbidden
from imageupdater.gitcreds import KubeGitSecrets
from reconciler.apps_api import KubeApplications
from reconciler.events import EventRecorder
from reconciler.imageupdaters import IMAGE_UPDATERS, ImageUpdaters
from reconciler.leader import LeaderElector
from reconciler.metrics import ReconcilerMetrics
from reconciler.policies import PolicyReporter
from reconciler.shard_options import LeaseTiming
from reconciler.shards import ShardCoordinator
from reconciler.work import CycleResult
from tests.install.harness import NAMESPACE, render
from tests.reconciler.conftest import application
from webhook.policies import PolicyWatch
from webhook.windows import SyncWindowGate

Probe = Callable[[kube.KubeClient], Awaitable[None]]
TEAM = "team-a"


def workload() -> list[dict[str, Any]]:
    """What the probes touch: an Application in a tenant namespace, its pull secret, Argo
    CD's repository Secret and SSH known hosts, the default AppProject."""
    # Without our annotations, so the webhook configurations (installed, with no server
    # behind them here) let its patch through, as their matchConditions do.
    app = application("web", {}, namespace=TEAM)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "regcreds", "namespace": TEAM},
        "data": {"creds": "dTpw"},
    }
    repository = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "repo",
            "namespace": NAMESPACE,
            "labels": {"argocd.argoproj.io/secret-type": "repository"},
        },
        "data": {"url": "aHR0cHM6Ly9naXQuZXhhbXBsZS9hLmdpdA=="},
    }
    known_hosts = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-ssh-known-hosts-cm", "namespace": NAMESPACE},
        "data": {"ssh_known_hosts": "git.example ssh-ed25519 AAAA\n"},
    }
    project = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "default", "namespace": NAMESPACE},
        "spec": {},
    }
    cluster_policy = {
        "apiVersion": "image-updater.io/v1alpha1",
        "kind": "ClusterImageUpdatePolicy",
        "metadata": {"name": "prod"},
        "spec": {
            "match": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": TEAM}}},
            "rules": {"deniedTags": ["latest"]},
        },
    }
    team_policy = {
        "apiVersion": "image-updater.io/v1alpha1",
        "kind": "ImageUpdatePolicy",
        "metadata": {"name": "ghcr", "namespace": TEAM},
        "spec": {"rules": {"allowedRegistries": ["ghcr.io"]}},
    }
    team = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": TEAM}}
    updater = {
        "apiVersion": "argocd-image-updater.argoproj.io/v1alpha1",
        "kind": "ImageUpdater",
        "metadata": {"name": "teams", "namespace": NAMESPACE, "generation": 1},
        "spec": {"applicationRefs": [{"namePattern": "*", "useAnnotations": True}]},
    }
    return [
        app, secret, repository, known_hosts, project, team, cluster_policy, team_policy, updater
    ]  # fmt: skip


POLICY_CRDS = Path(__file__).resolve().parents[2] / "manifests" / "crds"

# ---- what each component does with each rule ----


async def applications(client: kube.KubeClient) -> None:
    api = KubeApplications(client, ReconcilerMetrics(CollectorRegistry()))
    listed, _ = await api.list_all()
    assert [a["metadata"]["name"] for a in listed] == ["web"]
    await api.get(TEAM, "web")
    await api.patch(TEAM, "web", {"metadata": {"annotations": {"probe": "1"}}})
    watch = api.watch(None, None)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0.5):
            async for _event in watch:
                break
    await watch.aclose()


async def projects(client: kube.KubeClient) -> None:
    api = KubeApplications(client, ReconcilerMetrics(CollectorRegistry()))
    assert await api.get_project(NAMESPACE, "default") is not None


async def events(client: kube.KubeClient) -> None:
    recorder = EventRecorder(client, aggregation_interval=dt.timedelta(0))
    app = application("web", {}, namespace=TEAM)
    app["metadata"]["uid"] = "u1"
    for _ in range(2):  # a new Event, then its count patched
        await recorder.record(app, "Warning", "ImageUpdateFailed", "registry down")
    assert (recorder.sent, recorder.patched) == (1, 1)


async def admission_windows(client: kube.KubeClient) -> None:
    async def read(namespace: str, name: str) -> dict[str, Any] | None:
        return await client.get_or_none(kube.APPPROJECTS, namespace, name)

    gate = SyncWindowGate(read, project_namespace=NAMESPACE)
    held = await gate.holds(application("web", {}, namespace=TEAM))
    assert held is None, held


async def admission_policies(client: kube.KubeClient) -> None:
    watch = PolicyWatch(client.list)
    await watch.refresh()
    assert sorted(p.ref.name for p in watch.snapshot.policies) == ["ghcr", "prod"]


async def admission_namespaces(client: kube.KubeClient) -> None:
    watch = PolicyWatch(client.list)
    await watch.refresh()
    assert TEAM in watch.snapshot.namespace_labels


async def reconciler_policies(client: kube.KubeClient) -> None:
    watch = PolicyWatch(client.list, component="the reconciler")
    await watch.refresh()
    assert sorted(p.ref.name for p in watch.snapshot.policies) == ["ghcr", "prod"]


async def reconciler_namespaces(client: kube.KubeClient) -> None:
    watch = PolicyWatch(client.list, component="the reconciler")
    await watch.refresh()
    assert TEAM in watch.snapshot.namespace_labels


async def policy_status(client: kube.KubeClient) -> None:
    # Listing is rule 4's (kept while this rule is the one removed): only the write is this one's.
    watch = PolicyWatch(client.list, component="the reconciler")
    await watch.refresh()
    reporter = PolicyReporter(
        watch,
        client=client,
        metrics=ReconcilerMetrics(CollectorRegistry()),
        events=EventRecorder(None),
    )
    await reporter.finish("resync")  # after a complete cycle (of no Application)
    assert reporter.status_writes == 2  # the cluster policy's and the team policy's


def _image_updaters(client: kube.KubeClient) -> ImageUpdaters:
    return ImageUpdaters(client, events=EventRecorder(None), namespaces=(NAMESPACE,))


async def image_updaters(client: kube.KubeClient) -> None:
    updaters = _image_updaters(client)
    await updaters.refresh()  # a refused list is logged, and leaves nothing listed
    assert sorted(updaters.stored) == [(NAMESPACE, "teams")]
    watch = client.watch(IMAGE_UPDATERS, NAMESPACE, timeout_seconds=1)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(0.5):
            async for _event in watch:
                break
    await watch.aclose()


async def image_updater_status(client: kube.KubeClient) -> None:
    # Listing is rule 4's (kept while this rule is the one removed): only the write is this one's.
    updaters = _image_updaters(client)
    await updaters.refresh()
    await updaters.finish(CycleResult(), "resync")  # after a complete cycle (of no Application)
    assert updaters.status_writes == 1


async def pull_secret(client: kube.KubeClient) -> None:
    assert await KubeGitSecrets(client).read_secret(TEAM, "regcreds")


async def lease(client: kube.KubeClient) -> None:
    elector = LeaderElector(client, namespace=NAMESPACE, name="image-updater-leader", identity="a")
    assert await elector.try_acquire_or_renew()  # created
    assert await elector.try_acquire_or_renew()  # read and renewed


async def lease_renewal(client: kube.KubeClient) -> None:
    await lease(client)


def _shards(client: kube.KubeClient, count: int | None) -> ShardCoordinator:
    timing = LeaseTiming(duration=15.0, renew_deadline=10.0, retry_period=2.0)
    return ShardCoordinator(
        client,
        namespace=NAMESPACE,
        identity="a",
        shards=count,
        workload="image-updater-reconciler",
        timing=timing,
    )


async def shard_leases(client: kube.KubeClient) -> None:
    shards = _shards(client, 2)
    await shards.start()  # created (rule 0), then read: get of a lease not named in rule 1
    await shards.tick()  # renewed
    assert shards.held() == {0, 1}


async def shard_count(client: kube.KubeClient) -> None:
    shards = _shards(client, None)
    try:
        await shards.start()
    except InvalidInput as exc:  # says which Deployment it could not read; the cause is the 403
        raise exc.__cause__ or exc from None
    assert shards.count == 3


async def repository_secrets(client: kube.KubeClient) -> None:
    listed = await KubeGitSecrets(client).list_secrets(
        NAMESPACE, "argocd.argoproj.io/secret-type=repository"
    )
    assert [s["metadata"]["name"] for s in listed] == ["repo"]


async def known_hosts(client: kube.KubeClient) -> None:
    found = await KubeGitSecrets(client).read_config_map(NAMESPACE, "argocd-ssh-known-hosts-cm")
    assert found is not None


def _cert_settings() -> CertSettings:
    return CertSettings(
        namespace=NAMESPACE,
        service="image-updater-webhook",
        secret_name="image-updater-webhook-tls",
        webhook_configurations=("image-updater",),
    )


async def certificates(client: kube.KubeClient) -> None:
    first = await ensure(client, _cert_settings())  # creates the Secret, injects the CA
    assert first.bundle is not None and sorted(first.injected)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=300)
    renewed = await ensure(client, _cert_settings(), now=later)  # reads and updates it
    assert renewed.renewed


# (kind, name, index of the rule) -> (ServiceAccount, probe)
PROBES: dict[tuple[str, str, int], tuple[str, Probe]] = {
    ("ClusterRole", "image-updater-reconciler", 0): ("image-updater-reconciler", applications),
    ("ClusterRole", "image-updater-reconciler", 1): ("image-updater-reconciler", projects),
    ("ClusterRole", "image-updater-reconciler", 2): ("image-updater-reconciler", events),
    ("ClusterRole", "image-updater-reconciler", 3): ("image-updater-reconciler", pull_secret),
    ("ClusterRole", "image-updater-reconciler", 4): (
        "image-updater-reconciler",
        reconciler_policies,
    ),
    ("ClusterRole", "image-updater-reconciler", 5): (
        "image-updater-reconciler",
        reconciler_namespaces,
    ),
    ("ClusterRole", "image-updater-reconciler", 6): ("image-updater-reconciler", policy_status),
    ("Role", "image-updater-reconciler", 0): ("image-updater-reconciler", lease),
    ("Role", "image-updater-reconciler", 1): ("image-updater-reconciler", lease_renewal),
    ("Role", "image-updater-reconciler", 2): ("image-updater-reconciler", repository_secrets),
    ("Role", "image-updater-reconciler", 3): ("image-updater-reconciler", known_hosts),
    ("Role", "image-updater-reconciler", 4): ("image-updater-reconciler", image_updaters),
    ("Role", "image-updater-reconciler", 5): ("image-updater-reconciler", image_updater_status),
    ("ClusterRole", "image-updater-admission", 0): ("image-updater-admission", pull_secret),
    ("ClusterRole", "image-updater-admission", 1): ("image-updater-admission", admission_windows),
    ("ClusterRole", "image-updater-admission", 2): ("image-updater-admission", admission_policies),
    ("ClusterRole", "image-updater-admission", 3): (
        "image-updater-admission",
        admission_namespaces,
    ),
    ("Role", "image-updater-admission-certs", 0): ("image-updater-admission", certificates),
    ("Role", "image-updater-admission-certs", 1): ("image-updater-admission", certificates),
    ("ClusterRole", "image-updater-admission-certs", 0): ("image-updater-admission", certificates),
}


# The shards overlay's rules, beyond the default install's.
SHARD_PROBES: dict[tuple[str, str, int], tuple[str, Probe]] = {
    ("Role", "image-updater-reconciler", 6): ("image-updater-reconciler", shard_leases),
    ("Role", "image-updater-reconciler", 7): ("image-updater-reconciler", shard_count),
}


def shipped_rules(overlay: str = "self-signed") -> list[tuple[str, str, int]]:
    found = []
    for doc in render(overlay):
        if doc["kind"] in ("Role", "ClusterRole"):
            for index in range(len(doc.get("rules", []))):
                found.append((doc["kind"], doc["metadata"]["name"], index))
    return found


def test_every_shipped_rule_has_a_probe_and_every_probe_a_rule() -> None:
    assert sorted(shipped_rules()) == sorted(PROBES)
    assert sorted(shipped_rules("shards")) == sorted({**PROBES, **SHARD_PROBES})


@contextlib.asynccontextmanager
async def cluster_as(
    tmp_path: Path,
    account: str,
    without: tuple[str, str, int] | None,
    overlay: str = "self-signed",
) -> AsyncIterator[tuple[KubeAPI, kube.KubeClient]]:
    api = KubeAPI(crds=(DEFAULT_CRDS, POLICY_CRDS))
    for doc in render(overlay):
        doc = copy.deepcopy(doc)
        if without is not None and (doc["kind"], doc["metadata"]["name"]) == without[:2]:
            del doc["rules"][without[2]]
        api.store.put(doc)
    for doc in workload():
        api.store.put(doc)
    with run_in_thread(api) as server:
        token = api.issue_token(NAMESPACE, account)
        config = write_kubeconfig(tmp_path / f"{account}.kubeconfig", server.url, token=token)
        async with await kube.KubeClient.connect(str(config)) as client:
            yield api, client


@pytest.mark.parametrize("rule", sorted(PROBES), ids=lambda r: f"{r[0]}/{r[1]}[{r[2]}]")
async def test_the_rule_is_needed_and_enough(tmp_path: Path, rule: tuple[str, str, int]) -> None:
    account, probe = PROBES[rule]
    async with cluster_as(tmp_path / "all", account, None) as (api, client):
        await probe(client)
        assert api.requests.count(status=403) == 0
    async with cluster_as(tmp_path / "less", account, rule) as (api, client):
        # Refused: the adapter's own error (a CredentialError names the missing permission),
        # or the product's result shows the write did not happen.
        with pytest.raises((KubeForbidden, CredentialError, AssertionError)):
            await probe(client)
        assert api.requests.count(status=403) >= 1


@pytest.mark.parametrize("rule", sorted(SHARD_PROBES), ids=lambda r: f"{r[0]}/{r[1]}[{r[2]}]")
async def test_the_shards_overlays_rule_is_needed_and_enough(
    tmp_path: Path, rule: tuple[str, str, int]
) -> None:
    account, probe = SHARD_PROBES[rule]
    async with cluster_as(tmp_path / "all", account, None, "shards") as (api, client):
        await probe(client)
        assert api.requests.count(status=403) == 0
    async with cluster_as(tmp_path / "less", account, rule, "shards") as (api, client):
        with pytest.raises((KubeForbidden, AssertionError)):
            await probe(client)
        assert api.requests.count(status=403) >= 1

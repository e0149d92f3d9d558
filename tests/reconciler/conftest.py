"""Fixtures for reconciler tests: an emulated cluster, the real local registry, a cycle."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from devcluster.kubeapi import KubeAPI
from devcluster.registry import LocalRegistry
from devcluster.seeder import ImageSeeder
from imageupdater import kube
from imageupdater.registries_conf import RegistriesConf
from imageupdater.service import ResolverService
from reconciler.apps_api import KubeApplications
from reconciler.cycle import Cycle, CycleSettings
from reconciler.events import EventRecorder
from reconciler.metrics import ReconcilerMetrics

PREFIX = "argocd-image-updater.argoproj.io/"
BASE = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def application(
    name: str,
    annotations: dict[str, str],
    *,
    source: dict[str, Any] | None = None,
    sources: list[dict[str, Any]] | None = None,
    images: list[str] | None = None,
    namespace: str = "argocd",
    source_type: str | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "project": "default",
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "apps"},
    }
    if sources is not None:
        spec["sources"] = sources
    else:
        spec["source"] = source or {
            "repoURL": "https://git.example/r.git",
            "path": name,
            "kustomize": {},
        }
    status: dict[str, Any] = {"summary": {"images": images or []}}
    if source_type:
        status["sourceType"] = source_type
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels or {},
            "annotations": {PREFIX + k: v for k, v in annotations.items()},
        },
        "spec": spec,
        "status": status,
    }


def stored(api: KubeAPI, name: str, namespace: str = "argocd") -> dict[str, Any]:
    obj = api.store.get("argoproj.io", None, "applications", namespace, name)
    assert obj is not None
    return copy.deepcopy(dict(obj))


@pytest.fixture
def conf(registry: LocalRegistry) -> RegistriesConf:
    return RegistriesConf.parse(
        f"registries:\n- name: local\n  prefix: {registry.host}\n  api_url: {registry.url}\n",
        source="test",
    )


@pytest.fixture
async def resolver(conf: RegistriesConf) -> AsyncIterator[ResolverService]:
    async with ResolverService(conf) as service:
        yield service


@pytest.fixture
def metrics() -> ReconcilerMetrics:
    return ReconcilerMetrics(CollectorRegistry())


@pytest.fixture
def make_cycle(
    cluster: kube.KubeClient, resolver: ResolverService, metrics: ReconcilerMetrics
) -> Callable[..., Cycle]:
    def build(
        *,
        dry_run: bool = False,
        clock: Callable[[], dt.datetime] | None = None,
        is_leader: Callable[[], bool] = lambda: True,
        api: Any = None,
        writers: Any = None,
    ) -> Cycle:
        return Cycle(
            api=api or KubeApplications(cluster, metrics),
            resolve=resolver.resolve,
            metrics=metrics,
            events=EventRecorder(cluster),
            settings=CycleSettings(dry_run=dry_run),
            is_leader=is_leader,
            clock=clock or (lambda: dt.datetime.now(dt.UTC)),
            writers=writers,
        )

    return build


@pytest.fixture
def seeded(
    registry: LocalRegistry, seeder: ImageSeeder, unique_repo: str
) -> Callable[[list[str]], Awaitable[str]]:
    """Push tags (one day apart) to this test's own repository; returns the image name."""

    async def seed(tags: list[str]) -> str:
        await seed_tags(seeder, unique_repo, tags)
        return f"{registry.host}/{unique_repo}"

    return seed


async def seed_tags(seeder: ImageSeeder, repo: str, tags: list[str]) -> dict[str, str]:
    digests = {}
    for day, tag in enumerate(tags):
        digests[tag] = await seeder.push(repo, tag, created=BASE + dt.timedelta(days=day))
    return digests

"""A controller acting on ImageUpdater resources against the API emulator and the local
registry, wired as ``reconciler.runner`` wires it (one Cycle, one ConfigSource)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.service import ResolverService
from reconciler.apps_api import KubeApplications
from reconciler.cycle import Cycle, CycleSettings
from reconciler.events import EventRecorder
from reconciler.imageupdaters import IMAGE_UPDATERS, ImageUpdaters
from reconciler.metrics import ReconcilerMetrics
from reconciler.verification import SignatureGate, registry_verifier
from tests.reconciler.conftest import stored
from tests.reconciler.test_controller import ObservedController

GROUP = IMAGE_UPDATERS.group


@dataclass
class Rig:
    controller: ObservedController
    updaters: ImageUpdaters
    cycle: Cycle
    events: EventRecorder


@contextlib.asynccontextmanager
async def running(
    cluster: kube.KubeClient,
    resolver: ResolverService,
    metrics: ReconcilerMetrics,
    *,
    watch_namespaces: tuple[str, ...] | None = ("argocd",),
    annotation_namespaces: tuple[str, ...] = (),
    dry_run: bool = False,
    interval: float = 3600,
    clock: Callable[[], dt.datetime] | None = None,
    start: bool = True,
) -> AsyncIterator[Rig]:
    from reconciler.imageupdaters import application_namespaces

    api = KubeApplications(
        cluster, metrics, namespaces=application_namespaces(annotation_namespaces, watch_namespaces)
    )
    events = EventRecorder(cluster)
    updaters = ImageUpdaters(
        cluster,
        events=events,
        namespaces=watch_namespaces,
        annotation_namespaces=annotation_namespaces or None,
        dry_run=dry_run,
        clock=clock or (lambda: dt.datetime.now(dt.UTC)),
        metrics=metrics,
    )
    versions = await updaters.refresh()
    cycle = Cycle(
        api=api,
        resolve=resolver.resolve,
        scope=resolver.cycle,
        metrics=metrics,
        events=events,
        settings=CycleSettings(dry_run=dry_run),
        configs=updaters,
        signatures=SignatureGate(
            cluster, required=updaters.verification, verify=registry_verifier(resolver)
        ),
    )
    from reconciler.controller import ControllerSettings

    controller = ObservedController(
        api=api,
        cycle=cycle,
        metrics=metrics,
        settings=ControllerSettings(interval=interval, debounce=0.05),
    )
    updaters.connect(
        lambda: controller.index.values(),
        lambda keys: controller.run_for(keys, trigger="imageupdater"),
    )
    tasks: list[asyncio.Task[Any]] = []
    if start:
        tasks = [
            asyncio.create_task(controller.run()),
            asyncio.create_task(updaters.run(versions)),
        ]
    try:
        yield Rig(controller, updaters, cycle, events)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def stored_updater(api: KubeAPI, name: str, namespace: str = "argocd") -> dict[str, Any]:
    obj = api.store.get(GROUP, None, "imageupdaters", namespace, name)
    assert obj is not None, f"no ImageUpdater {namespace}/{name}"
    return dict(obj)


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for found in (obj.get("status") or {}).get("conditions") or []:
        if found.get("type") == kind:
            return dict(found)
    raise AssertionError(f"no condition {kind} in {obj.get('status')}")


def events_of(api: KubeAPI, kind: str, name: str, reason: str) -> list[dict[str, Any]]:
    return [
        dict(e)
        for e in api.store.list("", None, "events")
        if e.get("involvedObject", {}).get("kind") == kind
        and e.get("involvedObject", {}).get("name") == name
        and e.get("reason") == reason
    ]


def images_of(api: KubeAPI, name: str, namespace: str = "argocd") -> list[str]:
    """The Kustomize images the Application's source sets."""
    app = stored(api, name, namespace)
    return list(app["spec"]["source"].get("kustomize", {}).get("images", []))

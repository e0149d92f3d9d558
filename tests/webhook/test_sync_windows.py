"""Mutation respects what the reconciler respects: no override is injected while an
AppProject sync window forbids syncing (a warning says why), and none when the windows
cannot be read; the same ``syncwindows.can_update`` decides both."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from imageupdater.errors import KubeUnavailable
from tests.webhook.reviews import application, body, ours, review
from tests.webhook.test_mutation import FakeRegistry
from webhook import review as wire
from webhook.admission import Admission, AdmissionSettings
from webhook.windows import SyncWindowGate

NOW = dt.datetime(2026, 12, 3, 12, 30, tzinfo=dt.UTC)


def project(*windows: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "default"}, "spec": {"syncWindows": list(windows)}}


DENY_NOW = {"kind": "deny", "schedule": "0 12 * * *", "duration": "1h", "applications": ["*"]}
DENY_LATER = {"kind": "deny", "schedule": "0 20 * * *", "duration": "1h", "applications": ["*"]}


class Projects:
    def __init__(self, found: Mapping[str, Any] | None, fail: bool = False) -> None:
        self.found = found
        self.fail = fail
        self.reads: list[tuple[str, str]] = []

    async def read(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        self.reads.append((namespace, name))
        if self.fail:
            raise KubeUnavailable("get appprojects argocd/default: 503")
        return self.found


async def mutate(projects: Projects, namespace: str | None = "argocd") -> wire.Verdict:
    gate = SyncWindowGate(projects.read, project_namespace=namespace, clock=lambda: NOW)
    admission = Admission(
        AdmissionSettings(resolve_timeout=1.0),
        FakeRegistry({"nginx": "1.27.1"}).resolve,
        windows=gate,
    )
    try:
        data = review(application(ours(image_list="web=nginx:~1.27")))
        return (await admission.mutate(wire.decode(body(data)))).verdict
    finally:
        await admission.close()


async def test_no_override_is_injected_while_a_deny_window_is_active() -> None:
    verdict = await mutate(Projects(project(DENY_NOW)))
    assert verdict.allowed and not verdict.patch
    assert any(
        "image overrides not set now" in w and "sync window allows" in w for w in verdict.warnings
    )


async def test_the_override_is_injected_when_no_window_forbids_it() -> None:
    verdict = await mutate(Projects(project(DENY_LATER)))
    assert verdict.patch
    assert any("set nginx to 1.27.1" in w for w in verdict.warnings)


async def test_unreadable_windows_hold_the_override_back_with_a_warning() -> None:
    verdict = await mutate(Projects(None, fail=True))
    assert not verdict.patch
    assert any("cannot be read" in w for w in verdict.warnings)


async def test_projects_are_read_in_argo_cds_namespace_and_remembered() -> None:
    projects = Projects(project())
    gate = SyncWindowGate(projects.read, project_namespace="argocd", clock=lambda: NOW)
    app = application(ours(image_list="nginx"))
    app["metadata"]["namespace"] = "team-a"
    for _ in range(3):
        assert await gate.holds(app) is None
    assert projects.reads == [("argocd", "default")]

"""Rollbacks with git write-back, against a real git server: the record is written on the
Application before the push, a revert in Git (seen through the live images) is held, and a
watched update that degrades is written back by a commit."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from devcluster.gitserver import GitRepos
from devcluster.kubeapi import KubeAPI
from tests.reconciler.conftest import stored
from tests.reconciler.gitwriter.conftest import WriterKit, git_app
from tests.reconciler.test_rollbacks import Clock, set_status

Seeded = Callable[[list[str]], Awaitable[str]]
Kit = Callable[..., WriterKit]
HOLD = "image-updater.io/hold.web"


def override(name: str) -> str:
    return f"apps/{name}/.argocd-source-{name}.yaml"


def annotations(api: KubeAPI) -> dict[str, str]:
    found: dict[str, str] = stored(api, "shop")["metadata"]["annotations"]
    return found


def record(api: KubeAPI) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(annotations(api)["image-updater.io/last-written"])
    return raw["web"]


def live(api: KubeAPI, image: str, tag: str) -> None:
    """Argo CD synced the repository: the live image is what git says."""
    app = stored(api, "shop")
    app["status"]["summary"]["images"] = [f"{image}:{tag}"]
    api.store.put(app)


async def pushed_once(
    kube_api: KubeAPI, seeded: Seeded, remote: tuple[GitRepos, str], extra: dict[str, str]
) -> tuple[str, GitRepos]:
    repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    app = git_app("shop", image, url, path="apps/a", alias="web")
    app["metadata"]["annotations"].update(extra)
    kube_api.store.put(app)
    return image, repos


async def test_a_git_update_is_recorded_before_the_push_and_seen_once_it_runs(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    image, repos = await pushed_once(kube_api, seeded, remote, {})
    clock = Clock()
    cycle = kit().cycle(clock=clock)
    result = await cycle.run([stored(kube_api, "shop")])
    assert result.images_updated == 1
    assert "1.1.0" in (repos.read("apps", "main", "apps/a/.argocd-source-shop.yaml") or "")
    assert (record(kube_api)["version"], record(kube_api).get("seen")) == ("1.1.0", None)
    live(kube_api, image, "1.1.0")
    clock.advance(minutes=2)
    await cycle.run([stored(kube_api, "shop")])
    assert record(kube_api)["seen"] == "2026-03-20T12:02:00Z"
    # A revert of the commit, synced by Argo CD, is respected.
    live(kube_api, image, "1.0.0")
    result = await cycle.run([stored(kube_api, "shop")])
    assert result.images_updated == 0
    assert annotations(kube_api)[HOLD] == "rolled back from 1.1.0 to 1.0.0 by someone else"
    assert len(repos.log("apps", "main")) == 2


async def test_a_degraded_git_update_is_written_back_by_a_commit_and_held(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    gated = {"image-updater.io/rollback-on-degraded": "true"}
    image, repos = await pushed_once(kube_api, seeded, remote, gated)
    clock = Clock()
    cycle = kit().cycle(clock=clock)
    await cycle.run([stored(kube_api, "shop")])
    assert record(kube_api)["state"] == "watching"
    live(kube_api, image, "1.1.0")
    set_status(kube_api, "Degraded")
    clock.advance(minutes=1)
    result = await cycle.run([stored(kube_api, "shop")])
    assert result.images_updated == 1
    text = repos.read("apps", "main", "apps/a/.argocd-source-shop.yaml") or ""
    assert f"{image}:1.0.0" in text
    assert len(repos.log("apps", "main")) == 3
    assert annotations(kube_api)[HOLD].startswith("rolled back from 1.1.0 to 1.0.0")
    assert record(kube_api)["state"] == "rolled-back"
    assert any(
        e["reason"] == "UpdateRolledBack" for e in kube_api.store.list("", None, "events", "argocd")
    )

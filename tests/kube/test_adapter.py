"""The Kubernetes adapter against the API emulator: statuses become our errors, watches resume."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.errors import (
    CredentialError,
    KubeConflict,
    KubeGone,
    KubeInvalid,
    KubeNotFound,
    KubeUnavailable,
)


def app(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "labels": labels},
        "spec": {"project": "default"},
    }


async def test_a_missing_object_is_not_found_and_get_or_none_says_none(
    cluster: kube.KubeClient,
) -> None:
    with pytest.raises(KubeNotFound, match="get applications argocd/ghost"):
        await cluster.get(kube.APPLICATIONS, "argocd", "ghost")
    assert await cluster.get_or_none(kube.APPLICATIONS, "argocd", "ghost") is None


async def test_create_list_with_a_selector_and_merge_patch(cluster: kube.KubeClient) -> None:
    await cluster.create(kube.APPLICATIONS, "argocd", app("a", team="web"))
    await cluster.create(kube.APPLICATIONS, "argocd", app("b", team="api"))
    listed = await cluster.list(kube.APPLICATIONS, "argocd", label_selector="team=web")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a"]
    patched = await cluster.patch(kube.APPLICATIONS, "argocd", "a", {"spec": {"project": "p"}})
    assert patched["spec"]["project"] == "p"


async def test_a_stale_resource_version_is_a_conflict(cluster: kube.KubeClient) -> None:
    created = await cluster.create(kube.APPLICATIONS, "argocd", app("c"))
    stale = created["metadata"]["resourceVersion"]
    await cluster.patch(kube.APPLICATIONS, "argocd", "c", {"spec": {"project": "x"}})
    with pytest.raises(KubeConflict, match="the object has been modified"):
        await cluster.patch(
            kube.APPLICATIONS, "argocd", "c", {"metadata": {"resourceVersion": stale}, "spec": {}}
        )
    assert KubeConflict.transient


async def test_a_duplicate_create_is_a_conflict_and_a_bad_patch_is_invalid(
    cluster: kube.KubeClient,
) -> None:
    await cluster.create(kube.APPLICATIONS, "argocd", app("d"))
    with pytest.raises(KubeConflict):
        await cluster.create(kube.APPLICATIONS, "argocd", app("d"))
    with pytest.raises(KubeInvalid):
        await cluster.patch(
            kube.APPLICATIONS,
            "argocd",
            "d",
            [{"op": "test", "path": "/spec/project", "value": "no"}],
            content_type=kube.JSON_PATCH,
        )


async def test_server_errors_are_transient(cluster: kube.KubeClient, kube_api: KubeAPI) -> None:
    kube_api.faults.inject(verb="get", resource="applications", status=500, times=1)
    with pytest.raises(KubeUnavailable) as caught:
        await cluster.get(kube.APPLICATIONS, "argocd", "anything")
    assert caught.value.transient


async def test_secrets_are_read_decoded_and_a_missing_one_is_a_credential_error(
    cluster: kube.KubeClient,
) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "argocd"},
        "data": {"creds": base64.b64encode(b"user:pass").decode()},
    }
    await cluster.create(kube.SECRETS, "argocd", secret)
    assert await cluster.read_secret("argocd", "creds") == {"creds": b"user:pass"}
    with pytest.raises(CredentialError, match="secret argocd/nope not found"):
        await cluster.read_secret("argocd", "nope")


async def test_a_watch_streams_changes_and_an_expired_version_is_gone(
    cluster: kube.KubeClient, kube_api: KubeAPI
) -> None:
    created = await cluster.create(kube.APPLICATIONS, "argocd", app("w"))
    version = created["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []

    async def watch() -> None:
        async for event in cluster.watch(
            kube.APPLICATIONS, "argocd", resource_version=version, timeout_seconds=2
        ):
            if event.type != "BOOKMARK":
                seen.append((event.type, event.object["spec"]["project"]))
            if len(seen) == 2:
                return

    # The watch resumes from ``version``: it sees both patches whether it is open before them
    # or replays them, so nothing here waits for it to open.
    task = asyncio.create_task(watch())
    await cluster.patch(kube.APPLICATIONS, "argocd", "w", {"spec": {"project": "one"}})
    await cluster.patch(kube.APPLICATIONS, "argocd", "w", {"spec": {"project": "two"}})
    await asyncio.wait_for(task, 5)
    assert seen == [("MODIFIED", "one"), ("MODIFIED", "two")]
    kube_api.store.compact()
    with pytest.raises(KubeGone):
        async for _ in cluster.watch(
            kube.APPLICATIONS, "argocd", resource_version=version, timeout_seconds=2
        ):
            pass

"""The reconciler refuses a tenant's env:/ext: credential reference and reports it; the
referenced credentials are never read, and the registry is never asked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from devcluster.kubeapi import KubeAPI
from imageupdater.service import ResolverService
from reconciler.cycle import Cycle
from tests.reconciler.conftest import application, stored
from tests.reconciler.test_cycle import put


@pytest.mark.parametrize("reference", ["env:GHCR_CREDS", "ext:/bin/sh"], ids=["env", "ext"])
async def test_a_tenant_env_or_ext_reference_is_refused_with_an_event_and_nothing_is_sent(
    reference: str,
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
    resolver: ResolverService,
) -> None:
    image = await seeded(["1.0.0", "1.1.0"])
    annotations = {"image-list": f"web={image}", "web.pull-secret": reference}
    put(kube_api, application("tenant", annotations, images=[f"{image}:1.0.0"]))
    before = resolver.client.counters.requests()
    result = await make_cycle().run([stored(kube_api, "tenant")])
    assert result.errors == 1 and result.patches == 0
    assert resolver.client.counters.requests() == before
    (event,) = [
        e for e in kube_api.store.list("", None, "events", "argocd") if e["type"] == "Warning"
    ]
    assert event["reason"] == "InvalidConfiguration"
    assert "is not allowed in an Application" in event["message"]
    assert "kustomize" not in stored(kube_api, "tenant")["spec"]["source"] or not stored(
        kube_api, "tenant"
    )["spec"]["source"]["kustomize"].get("images")

"""The webhook and the reconciler agree: what one writes, the other finds current.

Both run against the same real registry through the same resolver, for every strategy and
every source kind. A disagreement is a needless write and Event per Application per cycle
(newest-build once came back from the webhook as ``tag@digest`` and was rewritten as
``tag`` by every next cycle).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable
from typing import Any

import jsonpatch
import pytest

from devcluster.kubeapi import KubeAPI
from imageupdater.service import ResolverService
from reconciler.cycle import Cycle
from tests.reconciler.conftest import application, stored
from tests.webhook.reviews import review
from webhook import review as wire
from webhook.admission import Admission, AdmissionSettings

# Pushed one day apart in this order: newest-build picks 1.1.0, alphabetical "latest",
# semver ~1.0 picks 1.0.1, digest follows "latest" by its digest.
TAGS = ["1.0.0", "1.0.1", "latest", "1.1.0"]
STRATEGIES = {
    "semver": ("{image}:~1.0", {}, "1.0.1"),
    "newest-build": ("{image}", {"update-strategy": "newest-build"}, "1.1.0"),
    "alphabetical": ("{image}", {"update-strategy": "alphabetical"}, "latest"),
    "digest": ("{image}:latest", {"update-strategy": "digest"}, "latest@"),
}


def _helm() -> dict[str, Any]:
    return {"repoURL": "https://charts.example", "chart": "web", "helm": {"parameters": []}}


def _plugin() -> dict[str, Any]:
    return {"repoURL": "https://git.example/r.git", "path": "p", "plugin": {"env": []}}


SOURCES: dict[str, dict[str, Any]] = {
    "kustomize": {},
    "helm": {"source": _helm()},
    "plugin": {"source": _plugin()},
    "multi-source": {
        "sources": [{"repoURL": "https://git.example/values.git", "ref": "values"}, _helm()]
    },
}
PLUGIN_KEYS = {"web.plugin.image-name": "IMAGE_NAME", "web.plugin.image-tag": "IMAGE_TAG"}


def _app(image: str, strategy: str, kind: str) -> dict[str, Any]:
    entry, keys, _ = STRATEGIES[strategy]
    annotations = {"image-list": "web=" + entry.format(image=image), **keys}
    if kind == "plugin":
        annotations.update(PLUGIN_KEYS)
    return application(
        f"{kind}-{strategy}", annotations, images=[f"{image}:1.0.0"], **SOURCES[kind]
    )


def _written(app: dict[str, Any], kind: str, image: str) -> str:
    """The version the Application's source now names for the image."""
    spec = app["spec"]
    source = spec["sources"][1] if kind == "multi-source" else spec["source"]
    if kind == "kustomize":
        (entry,) = source["kustomize"]["images"]
        return str(entry).removeprefix(image + ":")
    if kind == "plugin":
        return next(e["value"] for e in source["plugin"]["env"] if e["name"] == "IMAGE_TAG")
    return next(p["value"] for p in source["helm"]["parameters"] if p["name"] == "image.tag")


async def _mutate(admission: Admission, obj: dict[str, Any]) -> wire.Verdict:
    data = review(obj)
    decision = await admission.mutate(wire.decode(json.dumps(data).encode()))
    return decision.verdict


def _events(kube_api: KubeAPI) -> int:
    return kube_api.requests.count(verb="create", resource="events") + kube_api.requests.count(
        verb="patch", resource="events"
    )


CASES = [
    pytest.param(strategy, kind, id=f"{strategy}-{kind}")
    for strategy in STRATEGIES
    for kind in SOURCES
]


@pytest.fixture
async def admission(resolver: ResolverService) -> Any:
    admission = Admission(AdmissionSettings(resolve_timeout=10.0), resolver.resolve)
    yield admission
    await admission.close()


@pytest.mark.parametrize(("strategy", "kind"), CASES)
async def test_what_the_webhook_sets_the_next_cycle_leaves_alone(
    strategy: str,
    kind: str,
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
    admission: Admission,
) -> None:
    image = await seeded(TAGS)
    app = _app(image, strategy, kind)
    verdict = await _mutate(admission, app)
    assert verdict.allowed and verdict.patch, verdict.warnings
    mutated = jsonpatch.apply_patch(copy.deepcopy(app), list(verdict.patch))
    written = _written(mutated, kind, image)
    expected = STRATEGIES[strategy][2]
    # Only the digest strategy writes a digest; newest-build reads one but must not.
    assert written.startswith(expected) and ("@" in written) == (strategy == "digest")
    kube_api.store.put(mutated)
    events_before = _events(kube_api)

    result = await make_cycle().run([stored(kube_api, app["metadata"]["name"])])

    assert (result.patches, result.images_updated, result.errors) == (0, 0, 0)
    assert _events(kube_api) == events_before


@pytest.mark.parametrize(("strategy", "kind"), CASES)
async def test_what_the_reconciler_writes_the_webhook_leaves_alone(
    strategy: str,
    kind: str,
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
    make_cycle: Callable[..., Cycle],
    admission: Admission,
) -> None:
    image = await seeded(TAGS)
    app = _app(image, strategy, kind)
    kube_api.store.put(app)
    result = await make_cycle().run([stored(kube_api, app["metadata"]["name"])])
    assert (result.patches, result.errors) == (1, 0)
    updated = stored(kube_api, app["metadata"]["name"])
    assert _written(updated, kind, image).startswith(STRATEGIES[strategy][2])

    # Applied again as it now stands (a re-create, or an apply that changes annotations):
    # the webhook finds every image current and sets nothing.
    verdict = await _mutate(admission, updated)

    assert verdict.allowed
    assert list(verdict.patch) == []
    assert not [w for w in verdict.warnings if "image-updater set" in w]

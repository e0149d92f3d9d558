"""Update policies at admission: the snapshot the webhook keeps, and the verdict on a policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from imageupdater.errors import KubeForbidden, KubeNotFound, KubeUnavailable
from imageupdater.kube import Resource
from tests.updatepolicy.builders import application, config, resource
from webhook.policies import (
    NAMESPACES,
    PolicyWatch,
    application_findings,
    policy_verdict,
)
from webhook.review import Request


class Listings:
    """Our own adapter's ``list`` answers, by plural; ``fail`` makes every listing fail."""

    def __init__(self, **items: list[dict[str, Any]]) -> None:
        self.items = items
        self.fail = False
        self.asked: list[str] = []

    async def __call__(self, resource: Resource) -> Mapping[str, Any]:
        self.asked.append(resource.plural)
        if self.fail:
            raise KubeUnavailable("list: connection refused")
        return {"items": self.items.get(resource.plural, [])}


def request(obj: dict[str, Any], operation: str = "CREATE") -> Request:
    api_version = obj.get("apiVersion", "")
    return Request(
        api_version="admission.k8s.io/v1",
        uid="u",
        operation=operation,  # type: ignore[arg-type]
        group=api_version.partition("/")[0],
        kind=obj.get("kind", ""),
        namespace=obj.get("metadata", {}).get("namespace") or "",
        name=obj.get("metadata", {}).get("name", ""),
        object=obj,
        old_object=None,
        dry_run=False,
    )


async def test_the_snapshot_holds_the_valid_policies_of_both_kinds() -> None:
    listings = Listings(
        clusterimageupdatepolicies=[resource({"deniedTags": ["latest"]}, name="no-latest")],
        imageupdatepolicies=[
            resource(
                {"allowedRegistries": ["ghcr.io"]},
                kind="ImageUpdatePolicy",
                name="ghcr",
                namespace="team-a",
            )
        ],
    )
    watch = PolicyWatch(listings)
    assert await watch.refresh()
    assert [p.ref.name for p in watch.snapshot.policies] == ["no-latest", "ghcr"]
    assert NAMESPACES.plural not in listings.asked  # no policy selects by namespace labels


async def test_a_stored_policy_with_mistakes_is_left_out_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = resource({"maxBump": "huge"}, name="broken")
    listings = Listings(clusterimageupdatepolicies=[broken, resource({}, name="fine")])
    watch = PolicyWatch(listings)
    await watch.refresh()
    await watch.refresh()
    assert [p.ref.name for p in watch.snapshot.policies] == ["fine"]
    lines = [r.getMessage() for r in caplog.records if "is not applied" in r.getMessage()]
    assert len(lines) == 1 and "maxBump" in lines[0]


async def test_a_failed_listing_keeps_the_last_snapshot() -> None:
    listings = Listings(clusterimageupdatepolicies=[resource({"deniedTags": ["latest"]})])
    watch = PolicyWatch(listings)
    await watch.refresh()
    listings.fail = True
    assert not await watch.refresh()
    assert len(watch.snapshot.policies) == 1


async def test_namespace_labels_are_read_only_when_a_policy_selects_by_them() -> None:
    selector = {"namespaceSelector": {"matchLabels": {"env": "prod"}}}
    listings = Listings(
        clusterimageupdatepolicies=[
            resource({"allowedRegistries": ["ghcr.io"]}, name="prod", match=selector)
        ],
        namespaces=[
            {"metadata": {"name": "shop", "labels": {"env": "prod"}}},
            {"metadata": {"name": "lab", "labels": {"env": "dev"}}},
        ],
    )
    watch = PolicyWatch(listings)
    await watch.refresh()
    assert NAMESPACES.plural in listings.asked
    annotations = {"image-list": "web=nginx:1.x"}
    prod = application(annotations, namespace="shop")
    lab = application(annotations, namespace="lab")
    assert application_findings(watch.snapshot, prod, config(annotations))
    assert application_findings(watch.snapshot, lab, config(annotations)) == ()


def test_a_policy_with_mistakes_is_denied_with_every_problem_and_its_field_path() -> None:
    verdict, errors = policy_verdict(
        request(resource({"maxBump": "huge", "minimumAge": "soon"}, name="bad"))
    )
    assert not verdict.allowed and verdict.code == 422
    assert verdict.message.startswith("2 problems in the update policy:\n")
    assert "spec.rules.maxBump" in verdict.message
    assert "spec.rules.minimumAge" in verdict.message
    assert len(errors) == 2


def test_a_correct_policy_is_admitted() -> None:
    verdict, errors = policy_verdict(request(resource({"deniedTags": ["latest"]})))
    assert verdict.allowed and errors == ()


async def test_a_kind_this_install_may_not_list_counts_as_empty_and_is_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Forbidden(Listings):
        async def __call__(self, resource: Resource) -> Mapping[str, Any]:
            if resource.plural == "clusterimageupdatepolicies":
                raise KubeForbidden("list clusterimageupdatepolicies: forbidden")
            return await super().__call__(resource)

    listings = Forbidden(
        imageupdatepolicies=[
            resource({}, kind="ImageUpdatePolicy", name="mine", namespace="argocd")
        ]
    )
    watch = PolicyWatch(listings)
    assert await watch.refresh()
    assert await watch.refresh()
    assert [p.ref.name for p in watch.snapshot.policies] == ["mine"]
    said = [r for r in caplog.records if "not allowed to list" in r.getMessage()]
    assert len(said) == 1


async def test_policy_kinds_the_api_server_does_not_serve_count_as_empty_and_are_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class NoCrds(Listings):
        served = False

        async def __call__(self, resource: Resource) -> Mapping[str, Any]:
            if not self.served:
                raise KubeNotFound(f"list {resource.plural}: the server could not find it")
            return await super().__call__(resource)

    listings = NoCrds(clusterimageupdatepolicies=[resource({}, name="later")])
    watch = PolicyWatch(listings)
    assert await watch.refresh()
    assert await watch.refresh()
    assert watch.snapshot.policies == ()
    said = [r.getMessage() for r in caplog.records if "does not serve" in r.getMessage()]
    assert len(said) == 2  # once per kind, not once per listing
    assert "its CRD is not installed: kubectl apply -k manifests/crds" in said[0]
    assert not any("keeping the last ones read" in r.getMessage() for r in caplog.records)
    listings.served = True  # the CRDs are installed: their policies apply at the next listing
    assert await watch.refresh()
    assert [p.ref.name for p in watch.snapshot.policies] == ["later"]

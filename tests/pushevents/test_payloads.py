"""Each registry type's documented payload reads as the push it describes; payloads that
are not pushes, or not well formed, are refused with a reason (upstream behaviour §15)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from imageupdater.errors import InvalidInput, InvalidPushEvent
from imageupdater.pushevents import SOURCES, Delivery, PushEvent
from tests.pushevents import payloads as p

JSON = {"content-type": "application/json"}


def _parse(kind: str, payload: object, query: dict[str, str] | None = None) -> tuple[Any, ...]:
    delivery = Delivery(query=query or {}, headers=JSON, body=p.body(payload))
    return tuple(
        (e.registry_host, e.repository, e.tag, e.digest, e.type)
        for e in SOURCES[kind].parse(delivery)
    )


# (id, type, payload, query, events as (registry, repository, tag, digest, type))
VECTORS: list[tuple[str, str, object, dict[str, str], tuple[Any, ...]]] = [
    (
        "docker hub: repo_name and push_data.tag, registry docker.io",
        "docker.io",
        p.DOCKER_HUB,
        {},
        (("docker.io", "svendowideit/testhook", "latest", None, "docker.io"),),
    ),
    (
        "docker hub: namespace/name when repo_name is missing",
        "docker.io",
        {"repository": {"namespace": "team", "name": "app"}, "push_data": {"tag": "1.0"}},
        {},
        (("docker.io", "team/app", "1.0", None, "docker.io"),),
    ),
    (
        "docker hub: name alone when there is no namespace",
        "docker.io",
        {"repository": {"name": "nginx"}, "push_data": {"tag": "1.27"}},
        {},
        (("docker.io", "nginx", "1.27", None, "docker.io"),),
    ),
    (
        "ghcr: owner/package lower-cased, the container metadata's tag",
        "ghcr.io",
        p.GHCR,
        {},
        (("ghcr.io", "octo-org/my-app", "v1.2.3", None, "ghcr.io"),),
    ),
    (
        "ghcr: the version name when the container metadata has no tag",
        "ghcr.io",
        {
            **p.GHCR,
            "package": {**p.GHCR["package"], "package_version": {"name": "2.0", "version": "x"}},
        },
        {},
        (("ghcr.io", "octo-org/my-app", "2.0", None, "ghcr.io"),),
    ),
    (
        "ghcr: an untagged version named by its digest is a push by digest",
        "ghcr.io",
        {**p.GHCR, "package": {**p.GHCR["package"], "package_version": {"name": p.DIGEST}}},
        {},
        (("ghcr.io", "octo-org/my-app", None, p.DIGEST, "ghcr.io"),),
    ),
    (
        "quay: the host of docker_url, one event per updated tag",
        "quay.io",
        p.QUAY,
        {},
        (
            ("quay.io", "mynamespace/repository", "1.0.1", None, "quay.io"),
            ("quay.io", "mynamespace/repository", "latest", None, "quay.io"),
        ),
    ),
    (
        "quay: a self-hosted Quay's docker_url names its host",
        "quay.io",
        {**p.QUAY, "docker_url": "https://quay.internal:8443/mynamespace/repository"},
        {},
        (
            ("quay.internal:8443", "mynamespace/repository", "1.0.1", None, "quay.io"),
            ("quay.internal:8443", "mynamespace/repository", "latest", None, "quay.io"),
        ),
    ),
    (
        "quay: quay.io when docker_url is missing",
        "quay.io",
        {"repository": "ns/repo", "updated_tags": ["v2"]},
        {},
        (("quay.io", "ns/repo", "v2", None, "quay.io"),),
    ),
    (
        "harbor: host of resources[0].resource_url, repo_full_name, tag and digest",
        "harbor",
        p.HARBOR,
        {},
        (("harbor.example.com", "library/app", "2.0.0", p.DIGEST, "harbor"),),
    ),
    (
        "acr: request.host, target.repository, tag and digest",
        "acr",
        p.ACR,
        {},
        (("myregistry.azurecr.io", "hello-world", "v1", p.DIGEST, "acr"),),
    ),
    (
        "acr: a push by digest (empty tag) is still a push",
        "acr",
        {**p.ACR, "target": {**p.ACR["target"], "tag": ""}},
        {},
        (("myregistry.azurecr.io", "hello-world", None, p.DIGEST, "acr"),),
    ),
    (
        "aliyun: registry.<region>.aliyuncs.com from the region",
        "aliyun-acr",
        p.ALIYUN,
        {},
        (
            (
                "registry.cn-hangzhou.aliyuncs.com",
                "namespace/repotest",
                "latest",
                p.DIGEST,
                "aliyun-acr",
            ),
        ),
    ),
    (
        "aliyun: ?registry_url= names an Enterprise Edition instance",
        "aliyun-acr",
        p.ALIYUN,
        {"registry_url": "my-instance-registry.cn-shanghai.cr.aliyuncs.com"},
        (
            (
                "my-instance-registry.cn-shanghai.cr.aliyuncs.com",
                "namespace/repotest",
                "latest",
                p.DIGEST,
                "aliyun-acr",
            ),
        ),
    ),
    (
        "cloudevents: ECR push, registry from source and registryId",
        "cloudevents",
        p.CLOUDEVENTS_ECR,
        {},
        (
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                "team/app",
                "1.4.0",
                p.DIGEST,
                "cloudevents",
            ),
        ),
    ),
    (
        "cloudevents: ECR push with an arn source and the tag from subject",
        "cloudevents",
        {
            **p.CLOUDEVENTS_ECR,
            "source": "arn:aws:ecr:eu-west-1:210987654321:repository/team/app",
            "data": {"repositoryName": "team/app"},
        },
        {},
        (
            (
                "210987654321.dkr.ecr.eu-west-1.amazonaws.com",
                "team/app",
                "1.4.0",
                None,
                "cloudevents",
            ),
        ),
    ),
    (
        "cloudevents: a generic container event, registry from the source URL",
        "cloudevents",
        p.CLOUDEVENTS_GENERIC,
        {},
        (("registry.example.com", "team/svc", "3.1.0", p.DIGEST, "cloudevents"),),
    ),
    (
        "distribution: the manifest push of an envelope; blobs and pulls skipped",
        "distribution",
        p.distribution_envelope("127.0.0.1:5000", "team/app"),
        {},
        (("127.0.0.1:5000", "team/app", "1.0.0", p.DIGEST, "distribution"),),
    ),
    (
        "distribution: a manifest pushed by digest has no tag",
        "distribution",
        p.distribution_envelope("registry.example.com", "team/app", tag=None),
        {},
        (("registry.example.com", "team/app", None, p.DIGEST, "distribution"),),
    ),
    (
        "distribution: an envelope of pulls only has nothing to act on",
        "distribution",
        {"events": [{"action": "pull", "target": {"repository": "x"}}]},
        {},
        (),
    ),
    (
        "generic: registry, repository, tag and digest as sent",
        "generic",
        p.GENERIC,
        {},
        (("registry.example.com:5000", "team/api", "0.9.0", p.DIGEST, "generic"),),
    ),
]


@pytest.mark.parametrize(
    ("kind", "payload", "query", "expected"),
    [pytest.param(*vector[1:], id=vector[0]) for vector in VECTORS],
)
def test_a_documented_payload_reads_as_the_push_it_describes(
    kind: str, payload: object, query: dict[str, str], expected: tuple[Any, ...]
) -> None:
    assert _parse(kind, payload, query) == expected


def _without(payload: dict[str, Any], *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(payload)
    node = changed
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return changed


# (id, type, payload, reason, words in the message)
REFUSED: list[tuple[str, str, object, str, str]] = [
    (
        "docker hub without a tag",
        "docker.io",
        _without(p.DOCKER_HUB, "push_data", "tag"),
        "malformed",
        "push_data.tag",
    ),
    (
        "docker hub without a repository",
        "docker.io",
        {"push_data": {"tag": "1"}},
        "malformed",
        "repository",
    ),
    (
        "docker hub tag of the wrong type",
        "docker.io",
        {"repository": {"repo_name": "a/b"}, "push_data": {"tag": 7}},
        "malformed",
        "push_data.tag",
    ),
    (
        "ghcr updated, not published",
        "ghcr.io",
        {**p.GHCR, "action": "updated"},
        "not_a_push",
        "'updated'",
    ),
    (
        "ghcr npm package",
        "ghcr.io",
        {**p.GHCR, "package": {**p.GHCR["package"], "package_type": "npm"}},
        "not_a_push",
        "npm",
    ),
    (
        "ghcr without an owner",
        "ghcr.io",
        {**p.GHCR, "package": {**p.GHCR["package"], "owner": {}}},
        "malformed",
        "owner",
    ),
    ("quay without tags", "quay.io", {**p.QUAY, "updated_tags": []}, "malformed", "updated_tags"),
    ("harbor pull", "harbor", {**p.HARBOR, "type": "PULL_ARTIFACT"}, "not_a_push", "PULL_ARTIFACT"),
    (
        "harbor without resource_url (upstream guesses 'harbor')",
        "harbor",
        {
            **p.HARBOR,
            "event_data": {
                **p.HARBOR["event_data"],
                "resources": [{"tag": "1", "digest": p.DIGEST}],
            },
        },
        "malformed",
        "resource_url",
    ),
    ("acr delete", "acr", {**p.ACR, "action": "delete"}, "not_a_push", "'delete'"),
    (
        "acr without request.host",
        "acr",
        _without(p.ACR, "request", "host"),
        "malformed",
        "request.host",
    ),
    (
        "aliyun without region or registry_url",
        "aliyun-acr",
        _without(p.ALIYUN, "repository", "region"),
        "malformed",
        "registry_url",
    ),
    (
        "cloudevents without specversion",
        "cloudevents",
        _without(p.CLOUDEVENTS_ECR, "specversion"),
        "malformed",
        "specversion",
    ),
    (
        "cloudevents of another kind",
        "cloudevents",
        {**p.CLOUDEVENTS_ECR, "type": "com.example.build.finished"},
        "not_a_push",
        "build",
    ),
    (
        "cloudevents ECR with a source naming no registry",
        "cloudevents",
        {**p.CLOUDEVENTS_ECR, "source": "somewhere"},
        "malformed",
        "names no registry",
    ),
    ("distribution events not a list", "distribution", {"events": {}}, "malformed", "list"),
    (
        "distribution push without request.host",
        "distribution",
        {
            "events": [
                {
                    "action": "push",
                    "target": {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "repository": "a/b",
                    },
                }
            ]
        },
        "malformed",
        "request.host",
    ),
    (
        "generic without tag or digest",
        "generic",
        {"registry": "r.example", "repository": "a"},
        "malformed",
        "tag, a digest",
    ),
    (
        "a repository with upper case",
        "generic",
        {**p.GENERIC, "repository": "Team/API"},
        "malformed",
        "does not name an image",
    ),
    ("a tag with a slash", "generic", {**p.GENERIC, "tag": "a/b"}, "malformed", "tag"),
    (
        "a digest that is not one",
        "generic",
        {**p.GENERIC, "digest": "sha256:xyz"},
        "malformed",
        "digest",
    ),
    (
        "a registry that is not a host",
        "acr",
        {**p.ACR, "request": {"host": "harbor"}},
        "malformed",
        "not a host",
    ),
]


@pytest.mark.parametrize(
    ("kind", "payload", "reason", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in REFUSED],
)
def test_a_payload_that_is_not_a_well_formed_push_is_refused_with_its_reason(
    kind: str, payload: object, reason: str, words: str
) -> None:
    with pytest.raises(InvalidPushEvent) as caught:
        _parse(kind, payload)
    assert caught.value.reason == reason
    assert words in str(caught.value)
    assert isinstance(caught.value, InvalidInput)


@pytest.mark.parametrize("kind", sorted(SOURCES))
@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[1, 2]", b"\xff\xfe"], ids=["empty", "text", "array", "binary"]
)
def test_a_body_that_is_not_a_json_object_is_malformed_for_every_type(
    kind: str, raw: bytes
) -> None:
    with pytest.raises(InvalidPushEvent) as caught:
        SOURCES[kind].parse(Delivery(headers=JSON, body=raw))
    assert caught.value.reason == "malformed"


def test_a_push_event_knows_its_image_and_prints_as_a_reference() -> None:
    event = PushEvent("index.docker.io", "nginx", "1.27", p.DIGEST, type="docker.io")
    assert event.identity() == ("docker.io", "library/nginx")
    assert str(event) == f"index.docker.io/nginx:1.27@{p.DIGEST}"

"""Each type's authentication: the right secret or signature is admitted; a missing,
wrong or tampered one is refused before anything is parsed; a type without a secret is
not served unless secrets are turned off (upstream's --webhook-require-secret)."""

from __future__ import annotations

import pytest

from imageupdater.errors import InvalidPushEvent
from imageupdater.pushevents import (
    SOURCES,
    Delivery,
    ReceiverConfig,
    ReplayGuard,
    admit_body,
    admit_head,
)
from imageupdater.pushevents.auth import hmac_sha256
from tests.pushevents import payloads as p

SECRET = "s3cr3t-\u00e9-value"
JSON = "application/json"

BODIES = {
    "docker.io": p.body(p.DOCKER_HUB),
    "ghcr.io": p.body(p.GHCR),
    "quay.io": p.body(p.QUAY),
    "harbor": p.body(p.HARBOR),
    "acr": p.body(p.ACR),
    "aliyun-acr": p.body(p.ALIYUN),
    "cloudevents": p.body(p.CLOUDEVENTS_ECR),
    "distribution": p.body(p.distribution_envelope("127.0.0.1:5000", "team/app")),
    "generic": p.body(p.GENERIC),
}


def signed(kind: str, secret: str, body: bytes) -> Delivery:
    """A delivery of ``body`` carrying ``secret`` the way ``kind`` sends it."""
    query: dict[str, str] = {"type": kind}
    headers = {"content-type": JSON}
    if kind in ("docker.io", "quay.io", "aliyun-acr", "cloudevents"):
        query["secret"] = secret
    elif kind in ("harbor", "acr", "distribution"):
        headers["authorization"] = secret
    elif kind == "ghcr.io":
        headers["x-github-event"] = "package"
        headers["x-hub-signature-256"] = hmac_sha256(secret, body)
    elif kind == "generic":
        headers["x-signature"] = hmac_sha256(secret, body)
    return Delivery(query=query, headers=headers, body=body)


def admit(config: ReceiverConfig, delivery: Delivery, guard: ReplayGuard | None = None) -> int:
    source, secret = config.source(delivery)
    admit_head(source, secret, delivery)
    admit_body(source, secret, delivery, guard or ReplayGuard(), now=0.0)
    return len(source.parse(delivery))


ALL = ReceiverConfig(dict.fromkeys(SOURCES, SECRET))


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_the_right_secret_is_admitted(kind: str) -> None:
    assert admit(ALL, signed(kind, SECRET, BODIES[kind])) >= 1


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_a_wrong_secret_is_refused(kind: str) -> None:
    with pytest.raises(InvalidPushEvent) as caught:
        admit(ALL, signed(kind, "not-the-secret", BODIES[kind]))
    assert (caught.value.reason, caught.value.status) == ("bad_secret", 401)
    assert SECRET not in str(caught.value) and "not-the-secret" not in str(caught.value)


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_a_missing_secret_is_refused(kind: str) -> None:
    delivery = signed(kind, SECRET, BODIES[kind])
    headers = {
        k: v
        for k, v in delivery.headers.items()
        if k not in ("authorization", "x-hub-signature-256", "x-signature")
    }
    query = {k: v for k, v in delivery.query.items() if k != "secret"}
    with pytest.raises(InvalidPushEvent) as caught:
        admit(ALL, Delivery(query=query, headers=headers, body=delivery.body))
    assert caught.value.reason == "missing_secret"


@pytest.mark.parametrize("kind", ["ghcr.io", "generic"])
def test_a_body_changed_after_signing_is_refused(kind: str) -> None:
    delivery = signed(kind, SECRET, BODIES[kind])
    tampered = Delivery(delivery.query, delivery.headers, delivery.body.replace(b"o", b"0", 1))
    with pytest.raises(InvalidPushEvent) as caught:
        admit(ALL, tampered)
    assert caught.value.reason == "bad_secret"


@pytest.mark.parametrize("kind", ["ghcr.io", "generic"])
def test_a_signature_without_its_algorithm_prefix_is_refused(kind: str) -> None:
    delivery = signed(kind, SECRET, BODIES[kind])
    header = "x-hub-signature-256" if kind == "ghcr.io" else "x-signature"
    bare = {**delivery.headers, header: delivery.headers[header].removeprefix("sha256=")}
    with pytest.raises(InvalidPushEvent) as caught:
        admit(ALL, Delivery(delivery.query, bare, delivery.body))
    assert caught.value.reason == "bad_secret"


@pytest.mark.parametrize("kind", ["ghcr.io", "generic"])
def test_a_signed_body_delivered_again_is_refused_as_a_replay(kind: str) -> None:
    guard = ReplayGuard(window=600)
    delivery = signed(kind, SECRET, BODIES[kind])
    source, secret = ALL.source(delivery)
    admit_body(source, secret, delivery, guard, now=0.0)
    with pytest.raises(InvalidPushEvent) as caught:
        admit_body(source, secret, delivery, guard, now=599.0)
    assert (caught.value.reason, caught.value.status) == ("replayed", 409)
    # Past the window the body is new again (the guard's memory is bounded in time).
    admit_body(source, secret, delivery, guard, now=1200.0)


def test_the_replay_memory_is_bounded_in_entries() -> None:
    guard = ReplayGuard(window=600, max_entries=3)
    for n in range(10):
        guard.check("generic", str(n).encode(), now=0.0)
    assert len(guard._seen) <= 3


def test_the_cloudevents_secret_may_come_in_the_x_webhook_secret_header() -> None:
    body = BODIES["cloudevents"]
    delivery = Delivery(
        query={"type": "cloudevents"},
        headers={"content-type": "application/cloudevents+json", "x-webhook-secret": SECRET},
        body=body,
    )
    assert admit(ALL, delivery) == 1


def test_the_type_may_come_in_the_x_registry_type_header() -> None:
    delivery = signed("acr", SECRET, BODIES["acr"])
    headers = {**delivery.headers, "x-registry-type": "acr"}
    assert admit(ALL, Delivery(query={}, headers=headers, body=delivery.body)) == 1


@pytest.mark.parametrize(
    ("query", "reason", "words"),
    [
        pytest.param({}, "unknown_type", "?type=", id="no type"),
        pytest.param({"type": "dockerhub"}, "unknown_type", "'dockerhub'", id="unknown type"),
    ],
)
def test_a_delivery_without_a_known_type_is_refused(
    query: dict[str, str], reason: str, words: str
) -> None:
    with pytest.raises(InvalidPushEvent) as caught:
        ALL.source(Delivery(query=query))
    assert caught.value.reason == reason
    assert words in str(caught.value)


def test_with_secrets_required_a_type_without_one_is_not_served() -> None:
    config = ReceiverConfig({"acr": SECRET})
    assert config.enabled() == ("acr",)
    with pytest.raises(InvalidPushEvent) as caught:
        config.source(Delivery(query={"type": "quay.io"}))
    assert (caught.value.reason, caught.value.status) == ("type_disabled", 403)
    assert "served: acr" in str(caught.value)


def test_with_secrets_not_required_every_type_is_served_and_one_without_a_secret_is_open() -> None:
    config = ReceiverConfig({"acr": SECRET}, require_secret=False)
    assert config.enabled() == tuple(sorted(SOURCES))
    delivery = Delivery(query={"type": "quay.io"}, body=BODIES["quay.io"])
    assert admit(config, delivery) == 2
    # A type that has a secret still checks it.
    with pytest.raises(InvalidPushEvent):
        admit(config, signed("acr", "wrong", BODIES["acr"]))


@pytest.mark.parametrize("kind", ["harbor", "acr", "cloudevents", "generic", "distribution"])
def test_a_type_whose_registry_sends_json_refuses_another_content_type(kind: str) -> None:
    delivery = signed(kind, SECRET, BODIES[kind])
    form = Delivery(delivery.query, {**delivery.headers, "content-type": "text/plain"}, b"")
    source, secret = ALL.source(form)
    with pytest.raises(InvalidPushEvent) as caught:
        admit_head(source, secret, form)
    assert (caught.value.reason, caught.value.status) == ("content_type", 415)


def test_distribution_s_own_media_type_is_json() -> None:
    delivery = signed("distribution", SECRET, BODIES["distribution"])
    events = {
        **delivery.headers,
        "content-type": "application/vnd.docker.distribution.events.v1+json",
    }
    assert admit(ALL, Delivery(delivery.query, events, delivery.body)) == 1


def test_ghcr_without_the_package_event_header_is_refused_before_the_body() -> None:
    delivery = signed("ghcr.io", SECRET, BODIES["ghcr.io"])
    headers = {k: v for k, v in delivery.headers.items() if k != "x-github-event"}
    source, secret = ALL.source(delivery)
    with pytest.raises(InvalidPushEvent) as caught:
        admit_head(source, secret, Delivery(delivery.query, headers, b""))
    assert caught.value.reason == "event_header"


@pytest.mark.parametrize(
    "kind", ["docker.io", "quay.io", "harbor", "acr", "aliyun-acr", "cloudevents", "distribution"]
)
def test_a_shared_secret_is_checked_before_the_body_is_read(kind: str) -> None:
    """admit_head alone refuses a wrong secret: the receiver need not read the body."""
    delivery = signed(kind, "wrong", b"")
    source, secret = ALL.source(delivery)
    with pytest.raises(InvalidPushEvent) as caught:
        admit_head(source, secret, delivery)
    assert caught.value.reason == "bad_secret"


def test_the_configuration_never_shows_its_secrets() -> None:
    assert SECRET not in repr(ALL)
    with pytest.raises(ValueError, match="no registry type nope"):
        ReceiverConfig({"nope": "x"})

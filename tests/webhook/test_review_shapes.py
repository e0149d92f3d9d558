"""The AdmissionReview wire shapes: what decode reads and encode writes is what they declare."""

from __future__ import annotations

from typing import Any, get_type_hints

import pytest

from imageupdater.errors import ImageUpdaterError, InvalidInput
from tests.webhook.reviews import application, body, ours, review
from webhook import review as wire


def declared(shape: type) -> set[str]:
    return set(get_type_hints(shape))


def test_a_malformed_review_is_permanent_invalid_input_in_the_one_error_tree() -> None:
    with pytest.raises(InvalidInput) as refused:
        wire.decode(b"[]")
    assert isinstance(refused.value, wire.MalformedReview)
    assert isinstance(refused.value, ValueError)
    assert isinstance(refused.value, ImageUpdaterError)
    assert not refused.value.transient


def test_the_test_reviews_use_only_declared_request_fields() -> None:
    data = review(application(ours(image_list="nginx")))
    assert set(data) <= declared(wire.AdmissionReview)
    assert set(data["request"]) <= declared(wire.AdmissionRequest)


@pytest.mark.parametrize(
    "verdict",
    [
        pytest.param(wire.Verdict(), id="allowed"),
        pytest.param(
            wire.Verdict(allowed=False, message="no", reason="Invalid", code=422, warnings=["w"]),
            id="denied-with-a-warning",
        ),
        pytest.param(
            wire.Verdict(patch=[{"op": "add", "path": "/x", "value": 1}], warnings=["w"]),
            id="patched",
        ),
    ],
)
def test_every_key_an_answer_carries_is_declared(verdict: wire.Verdict) -> None:
    request = wire.decode(body(review(application())))
    encoded: dict[str, Any] = dict(wire.encode(request, verdict))
    assert set(encoded) <= declared(wire.AdmissionReview)
    response = encoded["response"]
    assert set(response) <= declared(wire.AdmissionResponse)
    assert set(response.get("status", {})) <= declared(wire.ResponseStatus)


def test_a_delete_takes_its_name_and_namespace_from_the_old_object() -> None:
    data = review(None, operation="DELETE", old=application(name="web", namespace="apps"))
    del data["request"]["name"], data["request"]["namespace"]
    request = wire.decode(body(data))
    assert (request.namespace, request.name) == ("apps", "web")
    assert request.object is None

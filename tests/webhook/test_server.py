"""The HTTP layer: malformed and oversized reviews, probes, metrics, v1beta1 answered in kind."""

from __future__ import annotations

import json
from typing import Any

from prometheus_client import CollectorRegistry

from tests.webhook.reviews import application, body, ours, review
from webhook.admission import Admission, AdmissionSettings
from webhook.metrics import WebhookMetrics
from webhook.server import make_app


def server_app(max_body: int = 1024 * 1024) -> Any:
    metrics = WebhookMetrics(CollectorRegistry())
    return make_app(Admission(AdmissionSettings()), metrics, max_body=max_body)


async def test_a_malformed_review_gets_400_with_the_reason(aiohttp_client: Any) -> None:
    client = await aiohttp_client(server_app())
    resp = await client.post("/validate", data=b'{"kind": "Pod"}')
    assert resp.status == 400
    assert "expected kind AdmissionReview" in (await resp.json())["error"]
    metrics = await (await client.get("/metrics")).text()
    assert "image_updater_admission_malformed_requests_total 1.0" in metrics


async def test_an_oversized_review_is_refused(aiohttp_client: Any) -> None:
    client = await aiohttp_client(server_app(max_body=2048))
    resp = await client.post("/validate", data=b"x" * 4096)
    assert resp.status == 413


async def test_a_denial_travels_as_an_admission_review_and_is_counted(aiohttp_client: Any) -> None:
    client = await aiohttp_client(server_app())
    data = review(application(ours(image_list="nginx", update_strategy="x")), version="v1beta1")
    resp = await client.post("/validate", data=body(data))
    assert resp.status == 200
    answer = json.loads(await resp.read())
    assert answer["apiVersion"] == "admission.k8s.io/v1beta1"
    assert answer["response"]["allowed"] is False
    metrics = await (await client.get("/metrics")).text()
    assert 'image_updater_admission_denials_total{reason="invalid-annotations"} 1.0' in metrics
    labels = 'endpoint="validate",operation="CREATE",outcome="denied"'
    assert f"image_updater_admission_duration_seconds_count{{{labels}}} 1.0" in metrics


async def test_probes_answer(aiohttp_client: Any) -> None:
    client = await aiohttp_client(server_app())
    for path in ("/healthz", "/readyz"):
        resp = await client.get(path)
        assert resp.status == 200
        assert await resp.text() == "ok"

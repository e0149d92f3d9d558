"""A tenant's annotations cannot stall the webhook: reviews over the caps are denied naming
the cap, and the probes answer while hostile reviews arrive."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from prometheus_client import CollectorRegistry

from imageupdater.annotations import limits
from tests.webhook.reviews import PREFIX, application, body, review
from webhook.admission import MAX_DENIAL_LINES, Admission, AdmissionSettings
from webhook.metrics import WebhookMetrics
from webhook.server import make_app


def _hostile(n: int) -> dict[str, str]:
    """27 KiB and more: 1,000 aliases and 300 unknown keys (each once a 15,000-way search)."""
    annotations = {
        PREFIX + "image-list": ", ".join(f"a{i}=ghcr.io/x/a{i}-{n}" for i in range(1000))
    }
    annotations |= {PREFIX + f"a{i}.update-stratgy{i}": "semver" for i in range(300)}
    return annotations


def _at_the_key_cap(n: int) -> dict[str, str]:
    annotations = {PREFIX + "image-list": ", ".join(f"a{i}=ghcr.io/x/a{i}" for i in range(64))}
    annotations |= {
        PREFIX + f"a{i % 64}.update-stratgy-{i}-{n}": "semver" for i in range(limits.MAX_KEYS - 1)
    }
    return annotations


async def test_hostile_reviews_are_denied_naming_the_cap_while_healthz_answers(
    aiohttp_client: Any,
) -> None:
    app = make_app(Admission(AdmissionSettings()), WebhookMetrics(CollectorRegistry()))
    client = await aiohttp_client(app)

    async def attack(n: int) -> dict[str, Any]:
        resp = await client.post("/validate", data=body(review(application(_hostile(n)))))
        assert resp.status == 200
        return dict(json.loads(await resp.read())["response"])

    attacks = [asyncio.create_task(attack(n)) for n in range(20)]
    # Before the caps one such review held the loop for 14–19 s; the probe now gets through
    # while twenty of them are being answered.
    async with asyncio.timeout(5):
        probe = await client.get("/healthz")
    assert probe.status == 200
    answers = await asyncio.gather(*attacks)
    for answer in answers:
        assert answer["allowed"] is False
        assert f"at most {limits.MAX_KEYS} are accepted" in answer["status"]["message"]


async def test_a_denial_at_the_key_cap_lists_twenty_problems_and_counts_the_rest(
    aiohttp_client: Any,
) -> None:
    app = make_app(Admission(AdmissionSettings()), WebhookMetrics(CollectorRegistry()))
    client = await aiohttp_client(app)
    resp = await client.post("/validate", data=body(review(application(_at_the_key_cap(0)))))
    message = json.loads(await resp.read())["response"]["status"]["message"]
    lines = message.splitlines()
    assert lines[0] == f"{limits.MAX_KEYS - 1} problems in image-updater annotations:"
    assert len(lines) == 1 + MAX_DENIAL_LINES + 1
    assert lines[-1].endswith(
        f"and {limits.MAX_KEYS - 1 - MAX_DENIAL_LINES} more (image-updater lint lists them all)"
    )

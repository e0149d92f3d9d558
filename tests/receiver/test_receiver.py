"""The receiver over HTTP: health, acceptance, the 1 MiB limit, TLS by default, followers,
and that refused deliveries cost no registry or API request."""

from __future__ import annotations

import io
import json
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devcluster.kubeapi import KubeAPI
from imageupdater.pushevents.auth import hmac_sha256
from reconciler.receiver import MAX_BODY
from reconciler.receiver_tls import TlsSettings
from tests.receiver.conftest import SECRET, Pushes
from tests.reconciler.conftest import application

Start = Callable[..., Any]


def generic(repository: str, tag: str, host: str = "127.0.0.1:1") -> bytes:
    return json.dumps({"registry": host, "repository": repository, "tag": tag}).encode()


def signature(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Signature": hmac_sha256(secret, body)}


async def test_healthz_answers_ok(start_pushes: Start) -> None:
    async with start_pushes() as pushes, pushes.session.get(pushes.url + "/healthz") as response:
        assert (response.status, await response.text()) == (200, "OK")


async def test_an_authentic_delivery_is_answered_at_once_and_counted(start_pushes: Start) -> None:
    async with start_pushes() as pushes:
        body = generic("team/app", "1.0.0")
        status, text = await pushes.post("generic", body, headers=signature(body))
        assert (status, text) == (200, "Webhook received and processing")
        await pushes.batcher.idle()
        assert _sample(pushes, "image_updater_push_events_accepted_total", type="generic") == 1
        assert _sample(pushes, "image_updater_push_batches_total", result="no_match") == 1


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_one_mebibyte_is_refused_with_413(
    start_pushes: Start, chunked: bool
) -> None:
    async with start_pushes() as pushes:
        big = b'{"registry": "' + b"a" * MAX_BODY + b'"}'

        async def stream() -> Any:
            for start in range(0, len(big), 65536):
                yield big[start : start + 65536]

        data: Any = stream() if chunked else io.BytesIO(big)
        status, _ = await pushes.post("generic", data, headers=signature(big))
        assert status == 413
        assert (
            _sample(
                pushes,
                "image_updater_push_events_rejected_total",
                type="generic",
                reason="too_large",
            )
            == 1
        )


async def test_a_flood_of_bad_signatures_costs_no_registry_or_api_request(
    start_pushes: Start,
    kube_api: KubeAPI,
    seeded: Callable[[list[str]], Awaitable[str]],
) -> None:
    image = await seeded(["1.0.0"])
    host, repository = image.split("/", 1)
    kube_api.store.put(
        application("app", {"image-list": f"{image}:1.x"}, images=[f"{image}:1.0.0"])
    )
    async with start_pushes() as pushes:
        await pushes.controller.run_once("resync")
        api_before, lists_before = len(kube_api.requests.records), pushes.tag_lists()
        body = generic(repository, "1.1.0", host)
        for n in range(200):
            bad = signature(body, secret=f"guess-{n}")
            status, text = await pushes.post("generic", body, headers=bad)
            assert status == 401 and SECRET not in text
        await pushes.batcher.idle()
        assert pushes.tag_lists() == lists_before
        assert len(kube_api.requests.records) == api_before
        assert pushes.batcher.batches_run == 0
        assert (
            _sample(
                pushes,
                "image_updater_push_events_rejected_total",
                type="generic",
                reason="bad_secret",
            )
            == 200
        )


async def test_a_type_without_a_secret_is_not_served_and_an_unknown_type_is_named(
    start_pushes: Start,
) -> None:
    async with start_pushes() as pushes:
        status, text = await pushes.post("quay.io", b"{}")
        assert status == 403 and "not served" in text and "served: distribution, generic" in text
        status, text = await pushes.post("nexus", b"{}")
        assert status == 400 and "unknown registry type 'nexus'" in text
        assert (
            _sample(
                pushes,
                "image_updater_push_events_rejected_total",
                type="unknown",
                reason="unknown_type",
            )
            == 1
        )


async def test_a_follower_answers_503_so_the_registry_retries_at_the_leader(
    start_pushes: Start,
) -> None:
    async with start_pushes(is_leader=lambda: False) as pushes:
        body = generic("team/app", "1.0.0")
        status, _ = await pushes.post("generic", body, headers=signature(body))
        assert status == 503


async def test_tls_is_on_by_default_with_a_self_signed_certificate_and_tls_1_3(
    start_pushes: Start, tmp_path: Path
) -> None:
    tls = TlsSettings(cert_file=tmp_path / "none.crt", key_file=tmp_path / "none.key")
    async with start_pushes(tls=tls) as pushes:
        client = ssl.create_default_context()
        client.check_hostname = False
        client.verify_mode = ssl.CERT_NONE
        async with pushes.session.get(pushes.url + "/healthz", ssl=client) as response:
            assert response.status == 200
        old = ssl.create_default_context()
        old.check_hostname = False
        old.verify_mode = ssl.CERT_NONE
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(aiohttp.ClientError):
            async with pushes.session.get(pushes.url + "/healthz", ssl=old):
                pass


def _sample(pushes: Pushes, name: str, **labels: str) -> float:
    value = pushes.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value

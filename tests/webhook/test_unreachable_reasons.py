"""Mutation warnings are read by whoever wrote the Application: a registry that cannot be
reached is "unreachable", never why (closed port, plaintext, TLS, the operator's policy)."""

from __future__ import annotations

import pytest

from imageupdater.errors import (
    RegistryError,
    RegistryNotFound,
    RegistryProtocolError,
    RegistryRefused,
    RegistryUnavailable,
)
from imageupdater.policy import ImagePolicy
from imageupdater.resolver import Resolution
from tests.webhook.reviews import application, body, ours, review
from webhook import review as wire
from webhook.admission import Admission, AdmissionSettings

HOST = "10.0.0.8:5000"


class Failing:
    def __init__(self, error: RegistryError) -> None:
        self.error = error

    async def resolve(self, policy: ImagePolicy, current: str | None) -> Resolution:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(
            RegistryRefused(
                f"registry {HOST}: GET /v2/ refused by the reachability policy: 10.0.0.8 is "
                "internal (10.0.0.0/8, see --internal-networks)",
                registry=HOST,
            ),
            id="policy",
        ),
        pytest.param(
            RegistryUnavailable(
                f"registry {HOST}: GET /v2/ failed: cannot connect: Connection refused",
                registry=HOST,
            ),
            id="closed",
        ),
        pytest.param(
            RegistryUnavailable(
                f"registry {HOST}: GET /v2/ failed: TLS handshake failed", registry=HOST
            ),
            id="plaintext",
        ),
        pytest.param(
            RegistryProtocolError(
                f"registry {HOST}: GET /v2/ answered 404; https://{HOST} is not a Docker v2 "
                "registry API (expected 200 or 401)",
                registry=HOST,
            ),
            id="not-a-registry",
        ),
    ],
)
async def test_the_warning_says_only_unreachable(error: RegistryError) -> None:
    admission = Admission(AdmissionSettings(resolve_timeout=1.0), Failing(error).resolve)
    data = review(application(ours(image_list=f"{HOST}/team/app")))
    try:
        verdict = (await admission.mutate(wire.decode(body(data)))).verdict
    finally:
        await admission.close()
    assert verdict.allowed
    [warning] = [w for w in verdict.warnings if "could not be resolved" in w]
    assert f"could not be resolved (registry {HOST} unreachable)" in warning
    for detail in ("policy", "internal", "TLS", "refused", "404", "connect"):
        assert detail not in warning


async def test_a_registry_answer_keeps_its_message() -> None:
    error = RegistryNotFound(
        "registry ghcr.io: tag list of acme/api not found (404)", registry="ghcr.io"
    )
    admission = Admission(AdmissionSettings(resolve_timeout=1.0), Failing(error).resolve)
    data = review(application(ours(image_list="ghcr.io/acme/api")))
    try:
        verdict = (await admission.mutate(wire.decode(body(data)))).verdict
    finally:
        await admission.close()
    assert any("tag list of acme/api not found (404)" in w for w in verdict.warnings)

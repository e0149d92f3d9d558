"""Keys and clients for the signature tests: cosign-style keys made with ``cryptography``
(``devcluster.cosign``), their ``VerificationKey``, and endpoints for local registries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from devcluster import cosign
from imageupdater.registries_conf import RegistryEndpoint
from imageupdater.registry import ClientSettings
from imageupdater.signatures import VerificationKey, load_public_key

FAST = ClientSettings(backoff=0.01, tls_cert_dir=None)


class ManualClock:
    """The client's clock, moved by the test (sleeps advance it)."""

    def __init__(self) -> None:
        self.time = 1000.0

    def monotonic(self) -> float:
        return self.time

    def now(self) -> datetime:
        return datetime(2024, 6, 1, tzinfo=UTC) + timedelta(seconds=self.time)

    async def sleep(self, seconds: float) -> None:
        self.time += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self.time += seconds


def verification_key(key: ec.EllipticCurvePrivateKey) -> VerificationKey:
    return load_public_key(cosign.public_pem(key), secret="argocd/cosign", key="cosign.pub")


def endpoint_for(url: str, **fields: object) -> RegistryEndpoint:
    return RegistryEndpoint(name="local", api_url=url.rstrip("/"), **fields)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return cosign.generate_key()


@pytest.fixture(scope="session")
def other_key() -> ec.EllipticCurvePrivateKey:
    return cosign.generate_key()


@pytest.fixture(scope="session")
def public_key(signing_key: ec.EllipticCurvePrivateKey) -> VerificationKey:
    return verification_key(signing_key)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()

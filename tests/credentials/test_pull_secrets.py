"""Choosing the `auths` entry of a pull secret: by host, with Docker Hub's many spellings."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from imageupdater.credential_sources import resolve
from imageupdater.credentials import CredentialRef, Credentials
from imageupdater.errors import CredentialError
from tests.credentials.fakes import InMemorySecrets

SECRET = "pull-s3cret"


def _auth(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def _reader(auths: dict[str, Any] | None = None, *, raw: bytes | None = None) -> InMemorySecrets:
    body = raw if raw is not None else json.dumps({"auths": auths}).encode()
    return InMemorySecrets({("argocd", "regcred"): {".dockerconfigjson": body}})


async def _resolve(secrets: InMemorySecrets, registry_host: str, api_url: str) -> Credentials:
    return await resolve(
        CredentialRef.parse("pullsecret:argocd/regcred"),
        registry_host=registry_host,
        api_url=api_url,
        secrets=secrets,
        environ={},
    )


DOCKER_HUB_KEYS = [
    "docker.io",
    "index.docker.io",
    "https://index.docker.io/v1/",
    "registry-1.docker.io",
    "https://registry-1.docker.io",
]


@pytest.mark.parametrize("key", [pytest.param(k, id=k) for k in DOCKER_HUB_KEYS])
@pytest.mark.parametrize(
    ("registry_host", "api_url"),
    [
        pytest.param("docker.io", "https://registry-1.docker.io", id="image-docker.io"),
        pytest.param("registry-1.docker.io", "https://registry-1.docker.io", id="image-registry-1"),
    ],
)
async def test_every_docker_hub_key_serves_docker_hub(
    key: str, registry_host: str, api_url: str
) -> None:
    secrets = _reader({"ghcr.io": _auth("other", "x"), key: _auth("hubuser", "hubpass")})
    assert await _resolve(secrets, registry_host, api_url) == Credentials("hubuser", "hubpass")


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("registry.example.com", id="bare-host"),
        pytest.param("https://registry.example.com", id="https-scheme"),
        pytest.param("https://registry.example.com/v1/", id="scheme-and-path"),
        pytest.param("http://registry.example.com/", id="http-scheme-trailing-slash"),
        pytest.param("REGISTRY.example.com", id="host-case-differs"),
    ],
)
async def test_a_key_matches_by_host_whatever_scheme_or_path_it_carries(key: str) -> None:
    secrets = _reader({key: _auth("robot", "pw")})
    creds = await _resolve(secrets, "registry.example.com", "https://registry.example.com")
    assert creds == Credentials("robot", "pw")


async def test_the_port_is_part_of_the_host() -> None:
    secrets = _reader({"localhost:5000": _auth("a", "1"), "localhost:5001": _auth("b", "2")})
    assert await _resolve(secrets, "localhost:5001", "http://localhost:5001") == Credentials(
        "b", "2"
    )


async def test_the_api_host_matches_when_it_differs_from_the_image_host() -> None:
    secrets = _reader({"api.example.com": _auth("robot", "pw")})
    creds = await _resolve(secrets, "images.example.com", "https://api.example.com/")
    assert creds == Credentials("robot", "pw")


async def test_the_image_host_wins_over_the_api_host_and_docker_hub_aliases() -> None:
    secrets = _reader(
        {
            "https://index.docker.io/v1/": _auth("alias", "1"),
            "https://registry-1.docker.io": _auth("api", "2"),
            "docker.io": _auth("image", "3"),
        }
    )
    creds = await _resolve(secrets, "docker.io", "https://registry-1.docker.io")
    assert creds == Credentials("image", "3")


async def test_docker_hub_keys_do_not_serve_other_registries() -> None:
    secrets = _reader({"https://index.docker.io/v1/": _auth("hub", "x")})
    with pytest.raises(CredentialError):
        await _resolve(secrets, "ghcr.io", "https://ghcr.io")


async def test_an_entry_may_carry_username_and_password_instead_of_auth() -> None:
    secrets = _reader({"ghcr.io": {"username": "robot", "password": "pw", "email": "x@y"}})
    assert await _resolve(secrets, "ghcr.io", "https://ghcr.io") == Credentials("robot", "pw")


async def test_no_matching_entry_lists_the_registry_keys_but_no_credentials() -> None:
    secrets = _reader({"quay.io": _auth("robot", SECRET), "https://gcr.io": _auth("g", SECRET)})
    with pytest.raises(CredentialError) as caught:
        await _resolve(secrets, "ghcr.io", "https://ghcr.io")
    message = str(caught.value)
    assert "pull secret argocd/regcred has no auth entry for registry 'ghcr.io'" in message
    assert "'https://gcr.io', 'quay.io'" in message
    assert SECRET not in message
    assert base64.b64encode(f"robot:{SECRET}".encode()).decode() not in message


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        pytest.param({"auth": "%%%not-base64"}, "not valid base64", id="bad-base64"),
        pytest.param(
            {"auth": base64.b64encode(SECRET.encode()).decode()},
            "<username>:<password>",
            id="decoded-without-colon",
        ),
        pytest.param({"auth": 42}, "'auth' is not a string", id="auth-not-string"),
        pytest.param({"username": "robot"}, "neither 'auth' nor", id="username-only"),
        pytest.param("robot:pw", "is not an object", id="entry-not-object"),
    ],
)
async def test_a_malformed_matching_entry_is_an_error_that_does_not_leak(
    entry: object, reason: str
) -> None:
    with pytest.raises(CredentialError) as caught:
        await _resolve(_reader({"ghcr.io": entry}), "ghcr.io", "https://ghcr.io")
    assert reason in str(caught.value)
    assert "auths entry 'ghcr.io'" in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(b'{"auths": ', "is not valid JSON at line 1", id="truncated-json"),
        pytest.param(b"\xff\xfe", "is not valid JSON", id="not-utf8"),
        pytest.param(b'{"auths": {}}', "has no 'auths' entries", id="empty-auths"),
        pytest.param(b'{"credsStore": "x"}', "has no 'auths' entries", id="no-auths"),
        pytest.param(b"[]", "has no 'auths' entries", id="not-an-object"),
    ],
)
async def test_a_broken_dockerconfigjson_is_an_error(raw: bytes, reason: str) -> None:
    with pytest.raises(CredentialError, match=reason):
        await _resolve(_reader(raw=raw), "ghcr.io", "https://ghcr.io")


async def test_a_secret_without_dockerconfigjson_lists_its_fields() -> None:
    secrets = InMemorySecrets({("argocd", "regcred"): {".dockercfg": b"{}"}})
    with pytest.raises(CredentialError, match=r"no field '\.dockerconfigjson'.*\.dockercfg"):
        await _resolve(secrets, "ghcr.io", "https://ghcr.io")

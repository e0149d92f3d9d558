"""The htpasswd and token-auth flavours of the launched registry, and the token server."""

from __future__ import annotations

import base64
import json

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from devcluster.registry import LocalRegistry
from devcluster.seeder import ImageSeeder, SeedingFailed
from tests.conftest import AUTH_PASSWORD, AUTH_USER, TOKEN_PASSWORD, TOKEN_USER
from tests.devcluster_registry.conftest import Skopeo


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth(user, password)}


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def status_of(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        return resp.status, resp.headers.get("WWW-Authenticate", "")


async def fetch_token(
    registry: LocalRegistry, scope: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, object]]:
    assert registry.token_realm is not None
    params = {"service": "devcluster-registry", "scope": scope}
    async with (
        aiohttp.ClientSession() as session,
        session.get(registry.token_realm, params=params, headers=headers) as resp,
    ):
        return resp.status, json.loads(await resp.read())


# -- htpasswd ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(None, id="no-credentials"),
        pytest.param(basic(AUTH_USER, "wrong"), id="wrong-password"),
        pytest.param(basic("nobody", AUTH_PASSWORD), id="unknown-user"),
    ],
)
async def test_the_htpasswd_registry_turns_away_bad_credentials(
    auth_registry: LocalRegistry, headers: dict[str, str] | None
) -> None:
    status, challenge = await status_of(f"{auth_registry.url}/v2/", headers)

    assert status == 401
    assert challenge.startswith("Basic realm=")


async def test_the_htpasswd_registry_accepts_its_user(auth_registry: LocalRegistry) -> None:
    status, _ = await status_of(f"{auth_registry.url}/v2/", basic(AUTH_USER, AUTH_PASSWORD))

    assert status == 200


async def test_the_seeder_pushes_with_basic_credentials(
    auth_registry: LocalRegistry, unique_repo: str, skopeo: Skopeo
) -> None:
    async with aiohttp.ClientSession() as session:
        seeder = ImageSeeder(auth_registry.url, session, username=AUTH_USER, password=AUTH_PASSWORD)
        digest = await seeder.push(unique_repo, "1.0")

    ref = f"docker://{auth_registry.host}/{unique_repo}:1.0"
    creds = f"{AUTH_USER}:{AUTH_PASSWORD}"
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", creds, ref).stdout)
    assert inspected["Digest"] == digest


async def test_the_seeder_without_credentials_says_what_to_pass(
    auth_registry: LocalRegistry, unique_repo: str
) -> None:
    async with aiohttp.ClientSession() as session:
        seeder = ImageSeeder(auth_registry.url, session)
        with pytest.raises(SeedingFailed, match="pass username= and password="):
            await seeder.push(unique_repo, "1.0")


# -- token auth --------------------------------------------------------------------------------


async def test_the_token_registry_challenges_with_the_token_servers_realm(
    token_registry: LocalRegistry,
) -> None:
    status, challenge = await status_of(f"{token_registry.url}/v2/some/repo/tags/list")

    assert status == 401
    assert challenge.startswith(f'Bearer realm="{token_registry.token_realm}"')
    assert 'scope="repository:some/repo:pull"' in challenge


async def test_a_token_is_an_es256_jwt_signed_by_the_certificate_in_its_header(
    token_registry: LocalRegistry,
) -> None:
    status, body = await fetch_token(
        token_registry, "repository:team/app:pull,push", basic(TOKEN_USER, TOKEN_PASSWORD)
    )

    assert status == 200
    token = str(body["token"])
    head, claims, signature = token.split(".")
    header = json.loads(b64url_decode(head))
    payload = json.loads(b64url_decode(claims))
    cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    raw = b64url_decode(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    assert header["alg"] == "ES256"
    assert payload["iss"] == "devcluster-issuer"
    assert payload["aud"] == "devcluster-registry"
    assert payload["sub"] == TOKEN_USER
    assert payload["nbf"] <= payload["iat"] < payload["exp"]
    assert payload["access"] == [
        {"type": "repository", "name": "team/app", "actions": ["pull", "push"]}
    ]


async def test_an_anonymous_token_grants_pull_only(token_registry: LocalRegistry) -> None:
    status, body = await fetch_token(token_registry, "repository:team/app:pull,push")

    claims = json.loads(b64url_decode(str(body["token"]).split(".")[1]))
    assert status == 200
    assert claims["access"] == [{"type": "repository", "name": "team/app", "actions": ["pull"]}]


async def test_the_token_server_refuses_bad_credentials(token_registry: LocalRegistry) -> None:
    assert token_registry.token_server is not None
    rejected_before = token_registry.token_server.rejected

    status, _ = await fetch_token(
        token_registry, "repository:team/app:pull", basic(TOKEN_USER, "wrong")
    )

    assert status == 401
    assert token_registry.token_server.rejected == rejected_before + 1


async def test_the_token_registry_rejects_a_garbage_token(token_registry: LocalRegistry) -> None:
    status, challenge = await status_of(
        f"{token_registry.url}/v2/team/app/tags/list", {"Authorization": "Bearer not.a.jwt"}
    )

    assert status == 401
    assert 'error="invalid_token"' in challenge


async def test_an_anonymous_token_cannot_push(
    token_registry: LocalRegistry, unique_repo: str
) -> None:
    _, body = await fetch_token(token_registry, f"repository:{unique_repo}:pull,push")

    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{token_registry.url}/v2/{unique_repo}/blobs/uploads/",
            headers={"Authorization": f"Bearer {body['token']}"},
        ) as resp,
    ):
        challenge = resp.headers.get("WWW-Authenticate", "")

    assert resp.status == 401
    assert 'error="insufficient_scope"' in challenge


async def test_the_seeder_pushes_through_the_token_flow_with_one_token_per_repository(
    token_registry: LocalRegistry, unique_repo: str, skopeo: Skopeo
) -> None:
    server = token_registry.token_server
    assert server is not None
    scope = f"repository:{unique_repo}:pull,push"
    before = server.requests_for(scope)

    async with aiohttp.ClientSession() as session:
        seeder = ImageSeeder(
            token_registry.url, session, username=TOKEN_USER, password=TOKEN_PASSWORD
        )
        digests = await seeder.push_many(unique_repo, ["1.0", "1.1", "1.2"])

    creds = f"{TOKEN_USER}:{TOKEN_PASSWORD}"
    ref = f"docker://{token_registry.host}/{unique_repo}"
    listed = json.loads(skopeo("list-tags", "--tls-verify=false", "--creds", creds, ref).stdout)
    assert sorted(listed["Tags"]) == sorted(digests)
    assert server.requests_for(scope) == before + 1
    assert seeder.token_requests == 1

"""GitHub App installation tokens against the GitHub emulator: a signed JWT exchanged once,
cached until a minute before expiry (an injected clock, no sleeping), Enterprise base URLs,
refusals, and neither key nor token in any message, log line or repr."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from devcluster.scm import GitHubEmulator, github_emulator
from imageupdater.errors import CredentialError, SCMError
from imageupdater.scm import pull_requests
from imageupdater.scm.githubapp import GitHubAppTokens, sign_app_jwt

APP, INSTALLATION = "123456", "42"
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # GitHub's download: PKCS#1
        serialization.NoEncryption(),
    ).decode()


def _public(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def gh(clock: Clock, key: rsa.RSAPrivateKey) -> AsyncIterator[GitHubEmulator]:
    async with github_emulator(token="unused-pat", clock=clock) as emulator:
        emulator.register_app(APP, _public(key), installations={INSTALLATION})
        yield emulator


@pytest.fixture
def tokens(gh: GitHubEmulator, session: aiohttp.ClientSession, clock: Clock) -> GitHubAppTokens:
    return GitHubAppTokens(session, api_url=str(gh.url), clock=clock)


def _claims(jwt: str) -> dict[str, object]:
    payload = jwt.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return decoded


def test_the_jwt_carries_issuer_and_a_nine_minute_window_from_a_minute_ago(
    key: rsa.RSAPrivateKey,
) -> None:
    jwt = sign_app_jwt(APP, _pem(key), now=T0)
    header = json.loads(base64.urlsafe_b64decode(jwt.split(".")[0] + "=="))
    assert header == {"alg": "RS256", "typ": "JWT"}
    assert _claims(jwt) == {"iat": int(T0) - 60, "exp": int(T0) + 540, "iss": APP}


async def test_a_token_is_minted_once_and_served_from_the_cache(
    tokens: GitHubAppTokens, gh: GitHubEmulator, key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    first = await tokens.token(APP, INSTALLATION, _pem(key), None)
    clock.now += 3000  # 50 minutes: still more than a minute before the hour runs out
    second = await tokens.token(APP, INSTALLATION, _pem(key), None)
    assert first == second == gh.minted[0]
    assert tokens.minted == 1
    [call] = gh.requests
    assert (call.method, call.path) == ("POST", f"/app/installations/{INSTALLATION}/access_tokens")


async def test_a_token_is_minted_again_a_minute_before_it_expires(
    tokens: GitHubAppTokens, gh: GitHubEmulator, key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    first = await tokens.token(APP, INSTALLATION, _pem(key), None)
    clock.now += 3600 - 61
    assert await tokens.token(APP, INSTALLATION, _pem(key), None) == first
    clock.now += 2  # now 59 s before expiry
    second = await tokens.token(APP, INSTALLATION, _pem(key), None)
    assert second != first and gh.minted == [first, second]


async def test_concurrent_callers_share_one_exchange(
    tokens: GitHubAppTokens, gh: GitHubEmulator, key: rsa.RSAPrivateKey
) -> None:
    pem = _pem(key)
    results = await asyncio.gather(*(tokens.token(APP, INSTALLATION, pem, None) for _ in range(5)))
    assert len(set(results)) == 1 and len(gh.requests) == 1


async def test_the_minted_token_opens_pull_requests(
    tokens: GitHubAppTokens, gh: GitHubEmulator, key: rsa.RSAPrivateKey,
    session: aiohttp.ClientSession,
) -> None:  # fmt: skip
    token = await tokens.token(APP, INSTALLATION, _pem(key), None)
    client = pull_requests(
        "github", repo_url="https://github.com/o/r", token=token, session=session,
        api_url=str(gh.url),
    )  # fmt: skip
    pr = await client.create(head="h", base="main", title="t", body="", labels=[])
    assert pr.number == 1


async def test_an_enterprise_base_url_gains_api_v3(
    session: aiohttp.ClientSession, key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    async with github_emulator(token="pat", prefix="/api/v3", clock=clock) as ghe:
        ghe.register_app(APP, _public(key), installations={INSTALLATION})
        tokens = GitHubAppTokens(session, clock=clock)  # default api.github.com is not used
        token = await tokens.token(APP, INSTALLATION, _pem(key), str(ghe.root_url))
        assert token == ghe.minted[0]
        assert ghe.requests[0].path == f"/api/v3/app/installations/{INSTALLATION}/access_tokens"
        again = await tokens.token(APP, INSTALLATION, _pem(key), f"{ghe.root_url}/api/v3/")
        assert again == token  # the same API, so the same cache entry


async def test_a_jwt_signed_by_another_key_is_refused(
    tokens: GitHubAppTokens, gh: GitHubEmulator, other_key: rsa.RSAPrivateKey
) -> None:
    pem = _pem(other_key)
    with pytest.raises(SCMError) as caught:
        await tokens.token(APP, INSTALLATION, pem, None)
    assert caught.value.status == 401 and not caught.value.transient
    assert "could not be decoded" in str(caught.value)
    assert gh.minted == []


async def test_an_unknown_installation_is_not_found(
    tokens: GitHubAppTokens, key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(SCMError) as caught:
        await tokens.token(APP, "999", _pem(key), None)
    assert caught.value.status == 404


async def test_a_clock_far_ahead_of_the_server_makes_a_refused_jwt(
    tokens: GitHubAppTokens, gh: GitHubEmulator, key: rsa.RSAPrivateKey, clock: Clock
) -> None:
    gh.clock = lambda: T0 - 3600  # the server is an hour behind: our exp is its future+1h
    with pytest.raises(SCMError, match="claim"):
        await tokens.token(APP, INSTALLATION, _pem(key), None)


async def test_a_failed_exchange_is_not_cached(
    tokens: GitHubAppTokens, gh: GitHubEmulator, key: rsa.RSAPrivateKey
) -> None:
    gh.fail_next(1, 503)
    with pytest.raises(SCMError) as caught:
        await tokens.token(APP, INSTALLATION, _pem(key), None)
    assert caught.value.transient
    assert await tokens.token(APP, INSTALLATION, _pem(key), None) == gh.minted[0]


async def test_an_answer_without_a_token_is_a_clear_error(
    tokens: GitHubAppTokens, gh: GitHubEmulator, key: rsa.RSAPrivateKey
) -> None:
    gh.fail_next(1, 201, text='{"expires_at": "2027-01-01T00:00:00Z"}')
    with pytest.raises(SCMError, match="lacks 'token'"):
        await tokens.token(APP, INSTALLATION, _pem(key), None)
    gh.fail_next(1, 201, text='{"token": "ghs_x", "expires_at": "soon"}')
    with pytest.raises(SCMError, match="not an ISO 8601 time"):
        await tokens.token(APP, INSTALLATION, _pem(key), None)


@pytest.mark.parametrize(
    "pem",
    [
        pytest.param("not a key", id="garbage"),
        pytest.param("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                     id="truncated"),
    ],
)  # fmt: skip
async def test_a_private_key_that_does_not_load_is_a_credential_error(
    tokens: GitHubAppTokens, pem: str
) -> None:
    with pytest.raises(CredentialError, match="does not load") as caught:
        await tokens.token(APP, INSTALLATION, pem, None)
    assert pem not in str(caught.value) and "AAAA" not in str(caught.value)


async def test_a_key_that_is_not_rsa_is_a_credential_error(tokens: GitHubAppTokens) -> None:
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(CredentialError, match="not an RSA key"):
        await tokens.token(APP, INSTALLATION, ec_pem.decode(), None)


async def test_neither_key_nor_token_reaches_logs_messages_or_reprs(
    tokens: GitHubAppTokens, gh: GitHubEmulator, key: rsa.RSAPrivateKey, clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    pem = _pem(key)
    body = pem.splitlines()[1]
    with caplog.at_level(logging.DEBUG):
        token = await tokens.token(APP, INSTALLATION, pem, None)
        clock.now += 3600
        jwt = sign_app_jwt(APP, pem, now=clock.now)  # RS256 (PKCS#1 v1.5) is deterministic
        gh.fail_next(1, 500, text=json.dumps({"message": f"bad header Bearer {jwt}"}))
        with pytest.raises(SCMError) as caught:
            await tokens.token(APP, INSTALLATION, pem, None)
    assert "<redacted>" in str(caught.value)
    texts = [r.getMessage() for r in caplog.records] + [str(caught.value), repr(tokens)]
    texts.append(repr(gh.requests))
    for text in texts:
        assert token not in text and body not in text and jwt not in text
    assert any("minted an installation token" in t for t in texts)

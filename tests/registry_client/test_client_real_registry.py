"""The client against Debian's docker-registry 2.8.2: media types, digests, auth, TLS."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from devcluster.registry import LocalRegistry
from devcluster.seeder import ImageSeeder
from imageupdater.credential_sources import CredentialCache, CredentialSource
from imageupdater.credentials import CredentialRef, Credentials
from imageupdater.errors import CredentialError, RegistryAuthError, RegistryUnavailable
from imageupdater.platforms import Platform
from imageupdater.registry import ClientSettings, RegistryClient
from tests.conftest import AUTH_PASSWORD, AUTH_USER, TOKEN_PASSWORD, TOKEN_USER

from .conftest import ENV_REF, Skopeo, credential_cache, endpoint_for

AMD64 = (Platform("linux", "amd64"),)
NO_TLS_DIR = ClientSettings(tls_cert_dir=None)


@pytest.mark.parametrize(
    ("media", "platforms"),
    [
        pytest.param("docker", ["linux/amd64"], id="docker-v2s2"),
        pytest.param("oci", ["linux/amd64"], id="oci-manifest"),
        pytest.param("docker", ["linux/amd64", "linux/arm64/v8"], id="docker-manifest-list"),
        pytest.param("oci", ["linux/amd64", "linux/arm64/v8"], id="oci-index"),
    ],
)
async def test_every_manifest_type_resolves_with_the_digest_skopeo_sees(
    seeder: ImageSeeder,
    registry: LocalRegistry,
    unique_repo: str,
    skopeo: Skopeo,
    media: str,
    platforms: list[str],
) -> None:
    pushed = await seeder.push(unique_repo, "1.0", media=media, platforms=platforms)  # type: ignore[arg-type]
    endpoint = endpoint_for(registry.url)
    async with RegistryClient(settings=NO_TLS_DIR) as client:
        digest = await client.manifest_digest(endpoint, unique_repo, "1.0")
        info = await client.tag_info(endpoint, unique_repo, "1.0", platforms=AMD64)
    raw = skopeo(
        "inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/{unique_repo}:1.0"
    )
    assert digest == pushed == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert info is not None
    assert info.digest == digest
    assert info.created is not None


async def test_an_image_for_another_platform_has_no_metadata_for_ours(
    seeder: ImageSeeder, registry: LocalRegistry, unique_repo: str
) -> None:
    await seeder.push(unique_repo, "arm", platforms=["linux/arm64/v8"])
    async with RegistryClient(settings=NO_TLS_DIR) as client:
        endpoint = endpoint_for(registry.url)
        assert await client.tag_info(endpoint, unique_repo, "arm", platforms=AMD64) is None
        arm = await client.tag_info(
            endpoint, unique_repo, "arm", platforms=[Platform("linux", "arm64")]
        )
    assert arm is not None


# -- Basic auth -------------------------------------------------------------------------------


@pytest.fixture
async def auth_seeder(auth_registry: LocalRegistry) -> AsyncIterator[ImageSeeder]:
    async with aiohttp.ClientSession() as session:
        yield ImageSeeder(auth_registry.url, session, username=AUTH_USER, password=AUTH_PASSWORD)


async def test_basic_auth_lists_and_reads_with_the_registrys_credentials(
    auth_seeder: ImageSeeder, auth_registry: LocalRegistry, unique_repo: str
) -> None:
    await auth_seeder.push(unique_repo, "1.0")
    cache, resolver = credential_cache(Credentials(AUTH_USER, AUTH_PASSWORD))
    endpoint = endpoint_for(auth_registry.url, credentials=ENV_REF)
    async with RegistryClient(settings=NO_TLS_DIR, credentials=cache) as client:
        assert await client.list_tags(endpoint, unique_repo) == ("1.0",)
        assert await client.tag_info(endpoint, unique_repo, "1.0", platforms=AMD64) is not None
    assert resolver.calls == 1


async def test_a_401_is_retried_once_with_fresh_credentials(
    auth_seeder: ImageSeeder, auth_registry: LocalRegistry, unique_repo: str
) -> None:
    await auth_seeder.push(unique_repo, "1.0")
    cache, resolver = credential_cache(
        Credentials(AUTH_USER, "rotated-away"), Credentials(AUTH_USER, AUTH_PASSWORD)
    )
    endpoint = endpoint_for(auth_registry.url, credentials=ENV_REF)
    async with RegistryClient(settings=NO_TLS_DIR, credentials=cache) as client:
        assert await client.list_tags(endpoint, unique_repo) == ("1.0",)
        statuses = client.snapshot()["requests"][endpoint.api_url.removeprefix("http://")]
    assert resolver.calls == 2
    assert statuses["tags"] == {"2xx": 1, "4xx": 1}


async def test_wrong_credentials_fail_after_one_retry_without_showing_them(
    auth_seeder: ImageSeeder, auth_registry: LocalRegistry, unique_repo: str
) -> None:
    await auth_seeder.push(unique_repo, "1.0")
    cache, resolver = credential_cache(Credentials(AUTH_USER, "hunter2-wrong"))
    endpoint = endpoint_for(auth_registry.url, credentials=ENV_REF)
    async with RegistryClient(settings=NO_TLS_DIR, credentials=cache) as client:
        with pytest.raises(RegistryAuthError) as caught:
            await client.list_tags(endpoint, unique_repo)
    message = str(caught.value)
    assert auth_registry.host in message
    assert "refused (401)" in message
    assert "hunter2-wrong" not in message and AUTH_USER not in message
    assert "hunter2-wrong" not in repr(caught.value.__cause__)
    assert resolver.calls == 2


async def test_no_credentials_for_an_auth_registry_is_an_auth_error(
    auth_registry: LocalRegistry, unique_repo: str
) -> None:
    async with RegistryClient(settings=NO_TLS_DIR) as client:
        with pytest.raises(RegistryAuthError, match="without credentials"):
            await client.list_tags(endpoint_for(auth_registry.url), unique_repo)


# -- Bearer tokens ------------------------------------------------------------------------------


async def test_one_token_is_fetched_per_scope_and_reused(
    token_registry: LocalRegistry, unique_repo: str
) -> None:
    async with aiohttp.ClientSession() as session:
        seeder = ImageSeeder(
            token_registry.url, session, username=TOKEN_USER, password=TOKEN_PASSWORD
        )
        await seeder.push(unique_repo, "1.0", platforms=["linux/amd64", "linux/arm64"])
        await seeder.push(unique_repo, "1.1")
        await seeder.push(f"{unique_repo}-other", "2.0")
    server = token_registry.token_server
    assert server is not None
    server.reset_counts()
    cache, _ = credential_cache(Credentials(TOKEN_USER, TOKEN_PASSWORD))
    endpoint = endpoint_for(token_registry.url, credentials=ENV_REF)
    async with RegistryClient(settings=NO_TLS_DIR, credentials=cache) as client:
        tags = await client.list_tags(endpoint, unique_repo)
        for tag in tags:
            assert await client.tag_info(endpoint, unique_repo, tag, platforms=AMD64)
        assert await client.list_tags(endpoint, f"{unique_repo}-other") == ("2.0",)
        snapshot = client.snapshot()
    assert server.requests_for(f"repository:{unique_repo}:pull") == 1
    assert server.requests_for(f"repository:{unique_repo}-other:pull") == 1
    assert server.requests == 2
    assert snapshot["cache"]["token"]["hit"] >= 4


async def test_a_refused_token_request_names_the_registry_not_the_password(
    token_registry: LocalRegistry, unique_repo: str
) -> None:
    cache, resolver = credential_cache(Credentials(TOKEN_USER, "not-the-password"))
    endpoint = endpoint_for(token_registry.url, credentials=ENV_REF)
    async with RegistryClient(settings=NO_TLS_DIR, credentials=cache) as client:
        with pytest.raises(RegistryAuthError, match="token server refused") as caught:
            await client.list_tags(endpoint, unique_repo)
    assert token_registry.host in str(caught.value)
    assert "not-the-password" not in str(caught.value)
    assert resolver.calls == 2


# -- TLS ---------------------------------------------------------------------------------------


@pytest.fixture
async def tls_repo(tls_registry: LocalRegistry, unique_repo: str) -> str:
    async with aiohttp.ClientSession() as session:
        seeder = ImageSeeder(tls_registry.url, session, ssl=tls_registry.ssl_context())
        await seeder.push(unique_repo, "1.0")
    return unique_repo


async def test_a_tls_registry_is_trusted_through_its_ca_file(
    tls_registry: LocalRegistry, tls_repo: str
) -> None:
    assert tls_registry.ca_file is not None
    endpoint = endpoint_for(tls_registry.url, ca_file=str(tls_registry.ca_file))
    async with RegistryClient(settings=NO_TLS_DIR) as client:
        assert await client.list_tags(endpoint, tls_repo) == ("1.0",)


async def test_a_tls_registry_is_trusted_through_inline_ca_data(
    tls_registry: LocalRegistry, tls_repo: str
) -> None:
    assert tls_registry.ca_file is not None
    endpoint = endpoint_for(tls_registry.url, ca_data=tls_registry.ca_file.read_text())
    async with RegistryClient(settings=NO_TLS_DIR) as client:
        assert await client.list_tags(endpoint, tls_repo) == ("1.0",)


async def test_an_untrusted_certificate_is_refused_unless_insecure(
    tls_registry: LocalRegistry, tls_repo: str
) -> None:
    endpoint = endpoint_for(tls_registry.url)
    async with RegistryClient(settings=NO_TLS_DIR) as client:
        with pytest.raises(RegistryUnavailable, match="TLS certificate verification failed"):
            await client.list_tags(endpoint, tls_repo)
        insecure = replace(endpoint, insecure=True)
        assert await client.list_tags(insecure, tls_repo) == ("1.0",)


async def test_a_ca_in_the_argocd_tls_directory_is_used_when_ca_file_is_unset(
    tls_registry: LocalRegistry, tls_repo: str, tmp_path: Path
) -> None:
    assert tls_registry.ca_file is not None
    cert_dir = tmp_path / "tls"
    cert_dir.mkdir()
    (cert_dir / "127.0.0.1").write_text(tls_registry.ca_file.read_text())
    settings = ClientSettings(tls_cert_dir=str(cert_dir))
    async with RegistryClient(settings=settings) as client:
        assert await client.list_tags(endpoint_for(tls_registry.url), tls_repo) == ("1.0",)


async def test_failing_operator_credentials_are_detailed_in_the_error_but_not_to_tenants(
    auth_registry: LocalRegistry, unique_repo: str
) -> None:
    operators = CredentialRef.parse("pullsecret:argocd/registry-robot")
    cache = CredentialCache(CredentialSource(secrets=None, environ={}))
    async with RegistryClient(settings=NO_TLS_DIR, credentials=cache) as client:
        with pytest.raises(CredentialError) as caught:
            await client.list_tags(
                endpoint_for(auth_registry.url, credentials=operators), unique_repo
            )
        assert "argocd/registry-robot" in str(caught.value)
        assert "argocd/registry-robot" not in caught.value.public_message
        assert "configured for it by the operator" in caught.value.public_message
        # A tenant's own pull secret is the tenant's to read about.
        tenants = CredentialRef.parse("pullsecret:team-a/regcred")
        with pytest.raises(CredentialError) as own:
            await client.list_tags(
                endpoint_for(auth_registry.url), unique_repo, credentials=tenants
            )
        assert "team-a/regcred" in own.value.public_message

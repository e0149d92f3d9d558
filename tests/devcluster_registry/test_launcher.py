"""Starting and stopping Debian's docker-registry in each flavour, and serving it over TLS."""

from __future__ import annotations

import json
import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from devcluster.registry import LaunchFailed, LocalRegistry
from devcluster.seeder import ImageSeeder
from tests.devcluster_registry.conftest import Skopeo


def ping(registry: LocalRegistry) -> int:
    try:
        with urllib.request.urlopen(  # noqa: S310 - our registry's http(s) URL
            f"{registry.url}/v2/", timeout=5, context=registry.ssl_context()
        ) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def port_is_closed(host: str) -> bool:
    address, port = host.split(":")
    with socket.socket() as sock:
        return sock.connect_ex((address, int(port))) != 0


@pytest.mark.parametrize(
    ("options", "expected_ping"),
    [
        pytest.param({}, 200, id="anonymous"),
        pytest.param({"auth": "htpasswd", "users": {"u": "p"}}, 401, id="htpasswd"),
        pytest.param({"auth": "token", "users": {"u": "p"}}, 401, id="token"),
        pytest.param({"tls": True}, 200, id="tls"),
    ],
)
def test_the_launcher_starts_and_stops_the_registry_in_each_mode(
    tmp_path: Path, options: dict[str, Any], expected_ping: int
) -> None:
    registry = LocalRegistry(tmp_path, **options)

    with registry:
        answered = ping(registry)
        host = registry.host
        token_url = registry.token_realm

    assert answered == expected_ping
    assert host.startswith("127.0.0.1:")
    assert port_is_closed(host)
    if token_url is not None:
        assert port_is_closed(token_url.removeprefix("http://").removesuffix("/token"))


def test_the_config_listens_on_loopback_and_allows_deletes(registry: LocalRegistry) -> None:
    config = yaml.safe_load((registry.workdir / "config.yml").read_text())

    assert config["http"]["addr"] == registry.host
    assert config["storage"]["delete"] == {"enabled": True}


def test_a_missing_binary_fails_with_the_command_that_installs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(LaunchFailed, match=r"run \./dev test"):
        LocalRegistry(tmp_path).start()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"auth": "basic"}, "expected 'none', 'htpasswd' or 'token'", id="bad-mode"),
        pytest.param({"auth": "htpasswd"}, "needs users=", id="htpasswd-without-users"),
        pytest.param({"auth": "token", "users": {"a:b": "c"}}, "must not contain ':'", id="colon"),
    ],
)
def test_invalid_launcher_options_are_errors(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LocalRegistry(tmp_path, **options)


async def test_the_tls_registry_is_trusted_through_its_ca_file(
    tls_registry: LocalRegistry, tls_client_context: ssl.SSLContext, unique_repo: str
) -> None:
    async with aiohttp.ClientSession() as session:
        seeder = ImageSeeder(tls_registry.url, session, ssl=tls_client_context)
        digest = await seeder.push(unique_repo, "1.0")

    assert tls_registry.url.startswith("https://127.0.0.1:")
    assert digest.startswith("sha256:")


async def test_the_tls_registry_is_not_trusted_without_its_ca(
    tls_registry: LocalRegistry,
) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(f"{tls_registry.url}/v2/")


async def test_skopeo_reads_the_tls_registry_with_the_ca_folder_as_cert_dir(
    tls_registry: LocalRegistry,
    tls_client_context: ssl.SSLContext,
    unique_repo: str,
    skopeo: Skopeo,
) -> None:
    assert tls_registry.ca_file is not None
    async with aiohttp.ClientSession() as session:
        await ImageSeeder(tls_registry.url, session, ssl=tls_client_context).push(unique_repo, "v1")

    ref = f"docker://{tls_registry.host}/{unique_repo}"
    listed = skopeo("list-tags", "--cert-dir", str(tls_registry.ca_file.parent), ref).stdout
    assert json.loads(listed)["Tags"] == ["v1"]

"""Proxies to the API server: the kubeconfig's proxy-url (with credentials that never show
in a message), else HTTPS_PROXY/HTTP_PROXY from the environment unless NO_PROXY exempts the
server — through a small CONNECT proxy on 127.0.0.1 that records what it was asked."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import trustme

from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.errors import KubeUnavailable
from imageupdater.kube.proxy import proxy_for
from imageupdater.kube.settings import ClusterSettings

from .conftest import ca_data, one_context, server_tls

Serve = Callable[..., Awaitable[str]]


class TunnelProxy:
    """An HTTP proxy that only tunnels (CONNECT), recording each request head."""

    def __init__(self) -> None:
        self.heads: list[list[str]] = []
        self.url = ""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")[:-2]
            self.heads.append(head)
            method, target, _ = head[0].split(" ")
            if method != "CONNECT":
                writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            host, _, port = target.rpartition(":")
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(OSError):
            writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[TunnelProxy]:
    server = TunnelProxy()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def tls_url(serve: Serve, server_cert: trustme.LeafCert) -> str:
    return await serve(KubeAPI().app(), server_tls(server_cert))


def trusted(ca: trustme.CA, **more: str) -> dict[str, str]:
    return {"certificate-authority-data": ca_data(ca), **more}


async def test_proxy_url_tunnels_with_its_credentials(
    tls_url: str, ca: trustme.CA, proxy: TunnelProxy, tmp_path: Path
) -> None:
    with_password = proxy.url.replace("http://", "http://me:pr0xy-pass@")
    path = one_context(tmp_path / "k", tls_url, cluster=trusted(ca, **{"proxy-url": with_password}),
                       user={})  # fmt: skip
    async with await kube.KubeClient.connect(str(path), environ={}) as client:
        await client.list(kube.APPLICATIONS, "argocd")
    (head,) = proxy.heads
    assert head[0] == f"CONNECT {tls_url.removeprefix('https://')} HTTP/1.1"
    assert f"Proxy-Authorization: Basic {base64.b64encode(b'me:pr0xy-pass').decode()}" in head


async def test_an_unreachable_proxy_is_unavailable_without_its_password(
    tls_url: str, ca: trustme.CA, tmp_path: Path
) -> None:
    closed = "http://me:pr0xy-pass@127.0.0.1:1"
    path = one_context(tmp_path / "k", tls_url, cluster=trusted(ca, **{"proxy-url": closed}),
                       user={})  # fmt: skip
    async with await kube.KubeClient.connect(str(path), environ={}) as client:
        with pytest.raises(KubeUnavailable) as caught:
            await client.list(kube.APPLICATIONS, "argocd")
    assert "pr0xy-pass" not in str(caught.value)


async def test_the_environment_proxy_is_used_unless_no_proxy_exempts_the_server(
    tls_url: str, ca: trustme.CA, proxy: TunnelProxy, tmp_path: Path
) -> None:
    path = one_context(tmp_path / "k", tls_url, cluster=trusted(ca), user={})
    for environ in ({"HTTPS_PROXY": proxy.url},
                    {"https_proxy": proxy.url, "NO_PROXY": "example.com,127.0.0.1"}):  # fmt: skip
        async with await kube.KubeClient.connect(str(path), environ=environ) as client:
            await client.list(kube.APPLICATIONS, "argocd")
    assert len(proxy.heads) == 1


@pytest.mark.parametrize(
    ("server", "no_proxy", "proxied"),
    [
        ("https://kube.example.com:6443", "", True),
        ("https://kube.example.com:6443", "*", False),
        ("https://kube.example.com:6443", "example.com", False),
        ("https://kube.example.com:6443", ".example.com", False),
        ("https://kube.example.com:6443", "ample.com", True),  # whole labels only
        ("https://kube.example.com:6443", "other.com, example.org", True),
        ("https://kube.example.com:6443", "kube.example.com:6443", False),
        ("https://kube.example.com:6443", "kube.example.com:443", True),
        ("https://10.1.2.3", "10.0.0.0/8", False),
        ("https://10.1.2.3", "192.168.0.0/16", True),
        ("https://[fd00::1]:443", "fd00::/8", False),
        ("http://kube.example.com", "", True),
    ],
)
def test_no_proxy_rules(server: str, no_proxy: str, proxied: bool) -> None:
    environ = {"HTTPS_PROXY": "http://proxy:3128", "HTTP_PROXY": "proxy:3128",
               "NO_PROXY": no_proxy}  # fmt: skip
    chosen = proxy_for(ClusterSettings("c", server), environ)
    assert (chosen is not None) == proxied
    if chosen is not None:
        assert chosen.url == "http://proxy:3128"


def test_a_socks_proxy_in_the_environment_is_refused_naming_the_variable() -> None:
    with pytest.raises(Exception, match=r"\$HTTPS_PROXY 'socks5://proxy:1080': SOCKS proxies"):
        proxy_for(ClusterSettings("c", "https://k"), {"HTTPS_PROXY": "socks5://u:p@proxy:1080"})

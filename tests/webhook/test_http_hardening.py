"""The admission server as served in production: TLS 1.2+ with AEAD suites only, a handshake
deadline, and probes that answer while slow clients hold connections."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from certs.authority import Bundle, renew
from certs.files import server_context, write_files
from imageupdater.serving import HardenedServer, ServerLimits, serve_app
from tests.serving.test_hardened_server import all_closed_by_peer
from webhook.admission import Admission, AdmissionSettings
from webhook.metrics import WebhookMetrics
from webhook.server import make_app

CBC_ONLY = "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256"


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    made = renew(None, ["localhost"], now=dt.datetime.now(dt.UTC), ip_addresses=["127.0.0.1"])
    assert made is not None
    return made


@pytest.fixture
def tls(bundle: Bundle, tmp_path: Path) -> ssl.SSLContext:
    write_files(bundle, tmp_path)
    return server_context(tmp_path / "tls.crt", tmp_path / "tls.key")


def trusting(bundle: Bundle) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=bundle.ca_cert.decode())


def cbc_client(bundle: Bundle) -> ssl.SSLContext:
    context = trusting(bundle)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(CBC_ONLY)
    assert context.get_ciphers()
    assert not any(c["aead"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.2")
    return context


@contextlib.asynccontextmanager
async def admission_server(
    context: ssl.SSLContext, limits: ServerLimits | None = None
) -> AsyncIterator[HardenedServer]:
    app = make_app(Admission(AdmissionSettings()), WebhookMetrics(CollectorRegistry()))
    async with serve_app(app, "127.0.0.1", 0, ssl_context=context, limits=limits) as server:
        yield server


async def healthz(port: int, client: ssl.SSLContext) -> tuple[int, str]:
    """GET /healthz over TLS; (status, negotiated cipher suite)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
    try:
        cipher = writer.get_extra_info("cipher")[0]
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        async with asyncio.timeout(3):
            answer = await reader.read()
        return int(answer.split(b" ", 2)[1]), cipher
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


async def test_a_tls12_client_offering_only_cbc_suites_fails_the_handshake(
    bundle: Bundle, tls: ssl.SSLContext
) -> None:
    async with admission_server(tls) as server:
        # OpenSSL answers "no shared cipher" with an alert and closes: the client sees
        # either the alert or the reset, depending on which it reads first.
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            await asyncio.open_connection("127.0.0.1", server.port, ssl=cbc_client(bundle))


async def test_the_same_cbc_client_would_be_served_by_a_default_context(
    bundle: Bundle, tmp_path: Path
) -> None:
    # The control for the test above: the refusal is our suite list, not the client's setup.
    write_files(bundle, tmp_path)
    permissive = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    permissive.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    async with admission_server(permissive) as server:
        status, cipher = await healthz(server.port, cbc_client(bundle))
    assert status == 200
    assert "GCM" not in cipher
    assert "CHACHA" not in cipher


@pytest.mark.parametrize(
    "version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["tls1.2", "tls1.3"]
)
async def test_a_normal_client_is_served_with_an_aead_suite(
    bundle: Bundle, tls: ssl.SSLContext, version: ssl.TLSVersion
) -> None:
    client = trusting(bundle)
    client.maximum_version = version
    async with admission_server(tls) as server:
        status, cipher = await healthz(server.port, client)
    assert status == 200
    assert "GCM" in cipher or "CHACHA20" in cipher
    if version is ssl.TLSVersion.TLSv1_2:
        assert cipher.startswith("ECDHE-")


async def test_a_connection_stuck_in_the_tls_handshake_is_closed_at_the_handshake_timeout(
    tls: ssl.SSLContext,
) -> None:
    limits = ServerLimits(handshake_timeout=0.5)
    async with admission_server(tls, limits) as server:
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        opened = loop.time()
        writer.write(b"\x16\x03\x01")  # the first bytes of a ClientHello, and no more
        async with asyncio.timeout(3):
            with contextlib.suppress(ConnectionResetError):
                while await reader.read(4096):
                    pass
        assert loop.time() - opened <= 1.5
        assert server.stats.handshake_timeouts == 1
        writer.close()


async def test_connections_stuck_in_the_handshake_count_against_the_cap_and_yield_to_a_probe(
    bundle: Bundle, tls: ssl.SSLContext
) -> None:
    limits = ServerLimits(max_connections=50, handshake_timeout=10.0)
    async with admission_server(tls, limits) as server:
        held = []
        for _ in range(200):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            held.append((reader, writer))
        # The oldest are shed to make room for the newest.
        await all_closed_by_peer([r for r, _ in held[:150]], "the 150 oldest shed", 3.0)
        assert server.stats.shed_connections >= 150
        assert server.connections <= 50
        status, _ = await healthz(server.port, trusting(bundle))
        assert status == 200
        for _, writer in held:
            writer.transport.abort()


async def test_the_probe_answers_over_tls_while_slow_connections_fill_the_cap(
    bundle: Bundle, tls: ssl.SSLContext
) -> None:
    limits = ServerLimits(max_connections=20, header_timeout=10.0)
    client = trusting(bundle)
    async with admission_server(tls, limits) as server:
        held = []
        for _ in range(60):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=client)
            writer.write(b"POST /validate HTTP/1.1\r\nHost: t\r\n")
            held.append((reader, writer))
        await all_closed_by_peer([r for r, _ in held[:40]], "the 40 oldest shed", 3.0)
        assert server.stats.shed_connections >= 40
        status, _ = await healthz(server.port, client)
        assert status == 200
        for _, writer in held:
            writer.transport.abort()


async def test_slow_request_heads_over_tls_are_closed_at_the_header_timeout(
    bundle: Bundle, tls: ssl.SSLContext
) -> None:
    limits = ServerLimits(header_timeout=1.0)
    client = trusting(bundle)
    async with admission_server(tls, limits) as server:
        loop = asyncio.get_running_loop()

        async def slow_head() -> float:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=client)
            opened = loop.time()
            writer.write(b"POST /validate HTTP/1.1\r\nHost: t\r\n")
            async with asyncio.timeout(4):
                with contextlib.suppress(ConnectionResetError):
                    while await reader.read(4096):
                        pass
            writer.transport.abort()
            return loop.time() - opened

        lifetimes = await asyncio.gather(*(slow_head() for _ in range(100)))
        assert max(lifetimes) <= limits.header_timeout + 1.0
        assert server.stats.header_timeouts == 100


async def test_undecodable_bodies_are_answered_400_and_logged_once_each_without_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(Admission(AdmissionSettings()), WebhookMetrics(CollectorRegistry()))
    with caplog.at_level("DEBUG"):
        async with serve_app(app, "127.0.0.1", 0) as server:
            for _ in range(20):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                payload = b"this is not gzip" * 8
                writer.write(
                    b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
                    + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
                async with asyncio.timeout(3):
                    status = await reader.readline()
                    await reader.read()
                assert status.startswith(b"HTTP/1.1 400"), status
                writer.close()
                await writer.wait_closed()
            await asyncio.sleep(0.2)  # aiohttp drains and reports after answering
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert tracebacks == []
    ours = [r for r in caplog.records if "malformed review" in r.getMessage()]
    assert len(ours) == 20

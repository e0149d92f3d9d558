"""Hot reload of the serving certificate: new handshakes see the new pair, nothing fails."""

import asyncio
import datetime as dt
import ssl
from pathlib import Path

import aiohttp
from aiohttp import web
from cryptography import x509

from certs.authority import Bundle, renew
from certs.files import CertReloader, server_context, write_files

NOW = dt.datetime.now(dt.UTC)


def bundle() -> Bundle:
    made = renew(None, ["localhost"], now=NOW, ip_addresses=["127.0.0.1"])
    assert made is not None
    return made


async def start_server(context: ssl.SSLContext) -> tuple[web.AppRunner, int]:
    async def ok(request: web.Request) -> web.Response:
        await asyncio.sleep(0.01)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


def client_context(*bundles: Bundle) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata="".join(b.ca_cert.decode() for b in bundles))
    return context


async def served_serial(port: int, context: ssl.SSLContext) -> int:
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    try:
        peer = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(peer).serial_number
    finally:
        writer.close()
        await writer.wait_closed()


async def test_changed_files_are_served_to_new_connections(tmp_path: Path) -> None:
    first, second = bundle(), bundle()
    write_files(first, tmp_path)
    context = server_context(tmp_path / "tls.crt", tmp_path / "tls.key")
    reloader = CertReloader(context, tmp_path / "tls.crt", tmp_path / "tls.key", interval=0.05)
    runner, port = await start_server(context)
    trust = client_context(first, second)
    try:
        first_serial = x509.load_pem_x509_certificate(first.cert).serial_number
        assert await served_serial(port, trust) == first_serial
        assert not reloader.check()
        write_files(second, tmp_path)
        assert reloader.check()
        second_serial = x509.load_pem_x509_certificate(second.cert).serial_number
        assert await served_serial(port, trust) == second_serial
    finally:
        await runner.cleanup()


async def test_a_mismatched_pair_keeps_the_old_certificate(tmp_path: Path) -> None:
    first, second = bundle(), bundle()
    write_files(first, tmp_path)
    context = server_context(tmp_path / "tls.crt", tmp_path / "tls.key")
    reloader = CertReloader(context, tmp_path / "tls.crt", tmp_path / "tls.key")
    (tmp_path / "tls.crt").write_bytes(second.cert)  # new cert, old key: mid-rotation
    assert not reloader.check()
    assert reloader.failures == 1
    runner, port = await start_server(context)
    try:
        first_serial = x509.load_pem_x509_certificate(first.cert).serial_number
        assert await served_serial(port, client_context(first)) == first_serial
        (tmp_path / "tls.key").write_bytes(second.key)
        assert reloader.check()
    finally:
        await runner.cleanup()


async def test_rotation_during_a_stream_of_requests_fails_none(tmp_path: Path) -> None:
    bundles = [bundle() for _ in range(4)]
    write_files(bundles[0], tmp_path)
    context = server_context(tmp_path / "tls.crt", tmp_path / "tls.key")
    reloader = CertReloader(context, tmp_path / "tls.crt", tmp_path / "tls.key", interval=0.02)
    runner, port = await start_server(context)
    trust = client_context(*bundles)
    failures: list[BaseException] = []
    done = 0

    async def stream(session: aiohttp.ClientSession) -> None:
        nonlocal done
        for _ in range(40):
            try:
                async with session.get(f"https://127.0.0.1:{port}/", ssl=trust) as resp:
                    assert resp.status == 200
                    done += 1
            except Exception as exc:
                failures.append(exc)

    async def rotate() -> None:
        for next_bundle in bundles[1:]:
            await asyncio.sleep(0.05)
            write_files(next_bundle, tmp_path)

    try:
        async with reloader.running():
            # A fresh connection per request forces a handshake each time, across the swaps.
            connector = aiohttp.TCPConnector(force_close=True)
            async with aiohttp.ClientSession(connector=connector) as session:
                await asyncio.gather(*(stream(session) for _ in range(4)), rotate())
            await asyncio.sleep(0.1)
    finally:
        await runner.cleanup()
    assert failures == []
    assert done == 160
    assert reloader.reloads >= 1


def expiry_of(pem: bytes) -> float:
    return x509.load_pem_x509_certificate(pem).not_valid_after_utc.timestamp()


def test_the_reloader_says_when_the_served_certificate_and_its_ca_expire(tmp_path: Path) -> None:
    made = renew(
        None,
        ["localhost"],
        now=NOW,
        cert_lifetime=dt.timedelta(days=30),
        ca_lifetime=dt.timedelta(days=90),
    )
    assert made is not None
    write_files(made, tmp_path)
    context = server_context(tmp_path / "tls.crt", tmp_path / "tls.key")
    reloader = CertReloader(context, tmp_path / "tls.crt", tmp_path / "tls.key")
    assert reloader.expiry() == {"serving": expiry_of(made.cert), "ca": expiry_of(made.ca_cert)}
    assert reloader.expiry()["serving"] < reloader.expiry()["ca"]


def test_a_reloaded_certificate_changes_the_expiry_a_rejected_one_does_not(
    tmp_path: Path,
) -> None:
    first = bundle()
    write_files(first, tmp_path)
    context = server_context(tmp_path / "tls.crt", tmp_path / "tls.key")
    reloader = CertReloader(context, tmp_path / "tls.crt", tmp_path / "tls.key")
    later = renew(first, ["localhost"], now=NOW + dt.timedelta(days=1), force=True)
    assert later is not None
    (tmp_path / "tls.crt").write_bytes(later.cert)  # new cert, old key: not served yet
    assert not reloader.check()
    assert reloader.expiry()["serving"] == expiry_of(first.cert)
    (tmp_path / "tls.key").write_bytes(later.key)
    assert reloader.check()
    assert reloader.expiry()["serving"] == expiry_of(later.cert) > expiry_of(first.cert)


def test_without_a_ca_file_beside_the_certificate_only_the_serving_expiry_is_known(
    tmp_path: Path,
) -> None:
    # cert-manager's Secret without ca.crt (an ACME issuer), or files mounted one by one.
    made = bundle()
    (tmp_path / "tls.crt").write_bytes(made.cert)
    (tmp_path / "tls.key").write_bytes(made.key)
    context = server_context(tmp_path / "tls.crt", tmp_path / "tls.key")
    reloader = CertReloader(context, tmp_path / "tls.crt", tmp_path / "tls.key")
    assert reloader.expiry() == {"serving": expiry_of(made.cert)}
    (tmp_path / "ca.crt").write_bytes(made.ca_cert)
    reloader.check()
    assert reloader.expiry() == {"serving": expiry_of(made.cert), "ca": expiry_of(made.ca_cert)}

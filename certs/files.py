"""Serving certificate files: writing them atomically and hot-reloading them into TLS.

The webhook serves from one ``ssl.SSLContext``. ``CertReloader`` re-reads the certificate and
key files when their contents change and loads them into that same context: handshakes
after the swap present the new certificate, connections already open keep theirs, so a
rotation fails no in-flight request. A half-rotated pair (new cert, old key) fails to load;
the reloader keeps the previous pair and tries again on the next tick.

``CertReloader.expiry`` says when what it serves expires: the serving certificate as loaded
(the first in the file), and the CA from the ``ca.crt`` beside it (the current CA comes first
in it), which ``certs --cert-dir``, ``--self-signed-certs`` and cert-manager's Secrets all
provide. The webhook exports both as metrics.
"""

from __future__ import annotations

__all__ = ["CertReloader", "not_after", "server_context", "write_files"]

import asyncio
import contextlib
import hashlib
import logging
import os
import ssl
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from cryptography import x509

from certs.authority import Bundle

log = logging.getLogger("image_updater.certs")

TLS_CERT = "tls.crt"
TLS_KEY = "tls.key"
CA_CERT = "ca.crt"


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_files(bundle: Bundle, directory: Path) -> None:
    """Write ``tls.key`` first, then ``tls.crt`` and ``ca.crt``, each replaced atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    _write_atomically(directory / TLS_KEY, bundle.key, 0o600)
    _write_atomically(directory / TLS_CERT, bundle.cert, 0o644)
    _write_atomically(directory / CA_CERT, bundle.ca_bundle, 0o644)


# TLS 1.2 suites with forward secrecy and an AEAD cipher only; TLS 1.3 suites are all AEAD
# and are not governed by this string.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL"


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A server context loaded from the given files: TLS >= 1.2, AEAD suites with ECDHE only."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    # Renegotiation and compression only ever served attacks (CRIME, renegotiation DoS).
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    context.load_cert_chain(cert_file, key_file)
    return context


def _fingerprint(cert: bytes, key: bytes) -> str:
    return hashlib.sha256(cert + b"\0" + key).hexdigest()


def not_after(pem: bytes) -> float | None:
    """When the first certificate in ``pem`` expires (Unix time), or None if none parses."""
    try:
        return x509.load_pem_x509_certificate(pem).not_valid_after_utc.timestamp()
    except ValueError:
        return None


class CertReloader:
    """Polls the certificate files and reloads them into ``context`` when they change."""

    def __init__(
        self,
        context: ssl.SSLContext,
        cert_file: Path,
        key_file: Path,
        *,
        interval: float = 10.0,
        ca_file: Path | None = None,
    ) -> None:
        self.context = context
        self.cert_file = cert_file
        self.key_file = key_file
        # Only read for its expiry; by default the ``ca.crt`` beside the certificate.
        self.ca_file = ca_file if ca_file is not None else cert_file.parent / CA_CERT
        self.interval = interval
        self.reloads = 0
        self.failures = 0
        cert = cert_file.read_bytes()
        self._loaded = _fingerprint(cert, key_file.read_bytes())
        self._serving_expiry = not_after(cert)
        self._ca_expiry: float | None = None
        self._read_ca()

    def _read_ca(self) -> None:
        try:
            pem = self.ca_file.read_bytes()
        except FileNotFoundError:
            self._ca_expiry = None
            return
        except OSError:
            return  # unreadable for a moment: keep what was known
        self._ca_expiry = not_after(pem)

    def expiry(self) -> dict[str, float]:
        """When the served certificate (``serving``) and its CA (``ca``) expire, Unix time;
        a certificate that is not known is left out."""
        known = {"serving": self._serving_expiry, "ca": self._ca_expiry}
        return {name: when for name, when in known.items() if when is not None}

    def check(self) -> bool:
        """Reload if the files changed; True when a new pair was loaded."""
        self._read_ca()
        try:
            cert, key = self.cert_file.read_bytes(), self.key_file.read_bytes()
        except OSError as exc:
            self.failures += 1
            log.warning("cannot read serving certificate files: %s", exc.strerror)
            return False
        current = _fingerprint(cert, key)
        if current == self._loaded:
            return False
        # OpenSSL swaps the certificate before it checks the key, so a failed load would leave
        # the live context broken: prove the pair on a scratch context, from private copies of
        # exactly the bytes read, before touching the live one.
        with tempfile.TemporaryDirectory(prefix="image-updater-tls-") as scratch:
            cert_copy, key_copy = Path(scratch) / TLS_CERT, Path(scratch) / TLS_KEY
            cert_copy.write_bytes(cert)
            key_copy.touch(mode=0o600)
            key_copy.write_bytes(key)
            try:
                ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                    cert_copy, key_copy
                )
            except (ssl.SSLError, OSError) as exc:
                # Mid-rotation the key and certificate can disagree for a moment: keep serving
                # the previous pair and look again on the next tick.
                self.failures += 1
                log.warning("new serving certificate not loaded yet: %s", exc)
                return False
            self.context.load_cert_chain(cert_copy, key_copy)
        self._loaded = current
        self._serving_expiry = not_after(cert)
        self.reloads += 1
        log.info("reloaded serving certificate from %s", self.cert_file)
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.check()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[CertReloader]:
        task = asyncio.create_task(self.run(), name="cert-reloader")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

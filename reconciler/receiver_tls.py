"""The receiver's TLS, as upstream serves it (§15): on by default, TLS 1.3 only unless
``--tlsminversion``/``--tlsmaxversion`` say otherwise, ``--tlsciphers`` in Go's (IANA)
names for TLS 1.2, the certificate from ``/app/config/tls/tls.crt|tls.key`` (Secret
``argocd-image-updater-tls``) reloaded when it changes, else a self-signed one made in
memory for this process. Certificate files are checked and reloaded by ``certs.files``
(the admission server's reloader); only the protocol settings are the receiver's own."""

from __future__ import annotations

__all__ = ["DEFAULT_TLS_CERT", "DEFAULT_TLS_KEY", "TlsSettings", "parse_ciphers", "parse_version"]

import contextlib
import datetime as dt
import logging
import ssl
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from imageupdater.errors import InvalidInput

log = logging.getLogger("image_updater.webhook")

DEFAULT_TLS_CERT = Path("/app/config/tls/tls.crt")
DEFAULT_TLS_KEY = Path("/app/config/tls/tls.key")

_VERSIONS = {
    "1.1": ssl.TLSVersion.TLSv1_1,
    "tls1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "tls1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
    "tls1.3": ssl.TLSVersion.TLSv1_3,
}
# The TLS 1.2 suites Go's crypto/tls offers, by the names upstream's flag takes, as OpenSSL
# names them. TLS 1.3 suites are not configurable (in Go or here).
_CIPHERS = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
}


def parse_version(text: str, flag: str) -> ssl.TLSVersion:
    version = _VERSIONS.get(text.strip().lower())
    if version is None:
        raise InvalidInput(f"{flag} {text!r}: expected 1.1, 1.2 or 1.3")
    return version


def parse_ciphers(text: str) -> tuple[str, ...]:
    """``--tlsciphers``: colon-separated Go suite names; () when empty."""
    names = [name.strip() for name in text.split(":") if name.strip()]
    unknown = [name for name in names if name not in _CIPHERS]
    if unknown:
        raise InvalidInput(
            f"--tlsciphers: unknown cipher suite {unknown[0]!r}; known: " + ", ".join(_CIPHERS)
        )
    return tuple(names)


@dataclass(frozen=True, slots=True)
class TlsSettings:
    minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3
    maximum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3
    ciphers: tuple[str, ...] = ()
    cert_file: Path = DEFAULT_TLS_CERT
    key_file: Path = DEFAULT_TLS_KEY

    def __post_init__(self) -> None:
        if self.minimum > self.maximum:
            raise InvalidInput(
                f"--tlsminversion ({self.minimum.name}) is above --tlsmaxversion "
                f"({self.maximum.name})"
            )

    def _context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = self.minimum
        context.maximum_version = self.maximum
        context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
        # HTTP/1.1 only, as upstream without --enable-http2.
        context.set_alpn_protocols(["http/1.1"])
        if self.ciphers and self.minimum < ssl.TLSVersion.TLSv1_3:
            context.set_ciphers(":".join(_CIPHERS[name] for name in self.ciphers))
        elif self.ciphers:
            log.warning("--tlsciphers has no effect with --tlsminversion 1.3 (not configurable)")
        return context

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[ssl.SSLContext]:
        """The server context for as long as the block runs: the files' pair, reloaded
        when they change, or a self-signed pair for localhost made now."""
        from certs.files import CertReloader

        context = self._context()
        if _usable(self.cert_file) and _usable(self.key_file):
            try:
                context.load_cert_chain(self.cert_file, self.key_file)
            except (ssl.SSLError, OSError) as exc:
                raise InvalidInput(
                    f"cannot load the webhook TLS certificate {self.cert_file} and key "
                    f"{self.key_file}: {exc}"
                ) from exc
            log.info("webhook receiver serves TLS with %s", self.cert_file)
            reloader = CertReloader(context, self.cert_file, self.key_file)
            async with reloader.running():
                yield context
            return
        log.info(
            "no TLS certificate at %s and %s: serving a self-signed one made for this process",
            self.cert_file,
            self.key_file,
        )
        _self_signed(context)
        yield context


def _usable(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def _self_signed(context: ssl.SSLContext) -> None:
    from certs.authority import renew

    bundle = renew(
        None, ["localhost"], ip_addresses=["127.0.0.1", "::1"], now=dt.datetime.now(dt.UTC)
    )
    assert bundle is not None
    # ssl loads certificates only from files: a private directory, gone once loaded.
    with tempfile.TemporaryDirectory(prefix="image-updater-webhook-tls-") as scratch:
        cert, key = Path(scratch) / "tls.crt", Path(scratch) / "tls.key"
        cert.write_bytes(bundle.cert + bundle.ca_cert)
        key.touch(mode=0o600)
        key.write_bytes(bundle.key)
        context.load_cert_chain(cert, key)

"""TLS contexts for one cluster: its certificate authority (or the system's trust store),
``insecure-skip-tls-verify``, and the client certificate, which may change when an exec
plugin hands out a new one.

``ssl`` loads a certificate chain only from files, so a certificate or key given as data
is written to a private (0600) temporary file that is removed as soon as it is loaded.
"""

from __future__ import annotations

__all__ = ["TLSContexts"]

import contextlib
import os
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path

from imageupdater.errors import InvalidKubeconfig

from .settings import ClusterSettings, PemSource


@contextlib.contextmanager
def _as_file(source: PemSource) -> Iterator[str]:
    if isinstance(source, Path):
        yield str(source)
        return
    fd, name = tempfile.mkstemp(prefix="image-updater-kube-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(source)
        yield name
    finally:
        with contextlib.suppress(FileNotFoundError):
            Path(name).unlink()


def _reason(exc: Exception) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or exc.strerror or str(exc)
    if isinstance(exc, OSError):
        return f"{exc.filename}: {(exc.strerror or str(exc)).lower()}" if exc.filename else str(exc)
    return str(exc)


class TLSContexts:
    """The cluster's ``SSLContext`` for a client certificate; the last one is kept, so a
    plugin's certificate is loaded once, not per request."""

    def __init__(self, cluster: ClusterSettings) -> None:
        self._cluster = cluster
        self._key: tuple[PemSource, PemSource] | None = None
        self._context: ssl.SSLContext | None = None

    def context(self, certificate: tuple[PemSource, PemSource] | None) -> ssl.SSLContext:
        """InvalidKubeconfig (naming the cluster or the field, never a key) when it cannot
        be built."""
        if self._context is not None and self._key == certificate:
            return self._context
        context = self._base()
        if certificate is not None:
            try:
                with _as_file(certificate[0]) as cert, _as_file(certificate[1]) as key:
                    context.load_cert_chain(cert, key)
            except (ssl.SSLError, OSError, ValueError) as exc:
                raise InvalidKubeconfig(
                    f"cannot use the client certificate and key: {_reason(exc)}"
                ) from exc
        self._key, self._context = certificate, context
        return context

    def _base(self) -> ssl.SSLContext:
        cluster = self._cluster
        if cluster.insecure_skip_tls_verify:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        authority = cluster.certificate_authority
        try:
            if authority is None:
                context = ssl.create_default_context()
            elif isinstance(authority, Path):
                context = ssl.create_default_context(cafile=str(authority))
            else:
                context = ssl.create_default_context(cadata=authority.decode("ascii"))
        except (ssl.SSLError, OSError, ValueError) as exc:
            field = (
                "certificate-authority-data"
                if isinstance(authority, bytes)
                else ("certificate-authority")
            )
            raise InvalidKubeconfig(
                f"cluster {cluster.name!r}: cannot use its {field}: {_reason(exc)}"
            ) from exc
        # Go's verifier, which kubectl uses, does not insist on RFC 5280's strict profile
        # (Python 3.13 turns it on by default), so neither do we.
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT
        return context

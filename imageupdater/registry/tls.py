"""TLS settings per registry endpoint and the SSL contexts built from them.

An SSL context costs a file read and a certificate parse (loading the system's CA store
costs most), so :class:`TlsContexts` builds one only when an ``https`` request needs it,
once per distinct :class:`TlsOptions`, and hands the same object to every endpoint, session
and hop with those options. Plain ``http`` endpoints never cause one to be built; nor does
an endpoint that trusts the system's CAs, which uses the context aiohttp builds for that
when it is imported.
"""

from __future__ import annotations

__all__ = ["SYSTEM_CAS", "TlsContexts", "TlsOptions"]

import ssl
from dataclasses import dataclass, field

from imageupdater.errors import RegistryUnavailable


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """How to verify one endpoint's certificate (the key contexts are shared by)."""

    insecure: bool = False
    ca_file: str | None = None
    ca_data: str | None = field(default=None, repr=False)


SYSTEM_CAS = TlsOptions()


class TlsContexts:
    """The SSL contexts of one or more registry clients, keyed by :class:`TlsOptions`.

    ``built`` counts the contexts this object created, for tests and benchmarks.
    """

    def __init__(self) -> None:
        self._contexts: dict[TlsOptions, ssl.SSLContext] = {}
        self.built = 0

    def __len__(self) -> int:
        return len(self._contexts)

    def for_options(self, tls: TlsOptions, *, registry: str) -> ssl.SSLContext | bool:
        """What to pass aiohttp as ``ssl=`` for an https request with these options.

        ``False`` skips verification (``insecure: true``, as upstream); ``True`` is aiohttp's
        own context trusting the system's CAs. A CA that cannot be loaded raises
        :class:`RegistryUnavailable`, at every request until it can be.
        """
        if tls.insecure:
            return False
        if tls.ca_file is None and tls.ca_data is None:
            return True
        cached = self._contexts.get(tls)
        if cached is not None:
            return cached
        try:
            context = ssl.create_default_context(cafile=tls.ca_file, cadata=tls.ca_data)
        except (OSError, ssl.SSLError) as exc:
            raise RegistryUnavailable(
                f"registry {registry}: cannot load its CA certificates "
                f"(ca_file={tls.ca_file!r}, ca_data {'set' if tls.ca_data else 'unset'}): "
                f"{exc.__class__.__name__}",
                registry=registry,
            ) from exc
        self.built += 1
        self._contexts[tls] = context
        return context

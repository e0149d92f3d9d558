"""HTTP for the registry client: the one aiohttp session, TLS contexts per endpoint, and
sending one request with pacing, timeouts, body-size limits, 429/5xx retries and counters.

Errors leave this module as :mod:`imageupdater.errors` types whose messages name the
registry host, the method and the path, never headers or credentials.
"""

from __future__ import annotations

__all__ = ["Answer", "TlsOptions", "Transport"]

import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from imageupdater.errors import (
    RateLimited,
    RegistryProtocolError,
    RegistryUnavailable,
)
from imageupdater.registry.clock import Clock
from imageupdater.registry.counters import Counters, RequestKind
from imageupdater.registry.ratelimit import RegistryGate, parse_retry_after
from imageupdater.registry.settings import ClientSettings

_KEPT_HEADERS = (
    "content-type",
    "docker-content-digest",
    "link",
    "www-authenticate",
    "retry-after",
    "content-length",
)


@dataclass(frozen=True, slots=True)
class TlsOptions:
    insecure: bool = False
    ca_file: str | None = None
    ca_data: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Answer:
    """A registry's answer, already read (within the size limit)."""

    status: int
    url: URL
    headers: Mapping[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes = field(repr=False)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def _where(method: str, url: URL) -> str:
    return f"{method} {url.path}"


class Transport:
    def __init__(
        self,
        *,
        settings: ClientSettings,
        clock: Clock,
        counters: Counters,
        logger: logging.Logger,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._counters = counters
        self._log = logger
        self._session: aiohttp.ClientSession | None = None
        self._ssl: dict[TlsOptions, ssl.SSLContext | bool] = {}

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=self._settings.request_timeout,
                    connect=self._settings.connect_timeout,
                ),
                auto_decompress=True,
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _ssl_for(self, tls: TlsOptions, registry: str) -> ssl.SSLContext | bool:
        cached = self._ssl.get(tls)
        if cached is not None:
            return cached
        context: ssl.SSLContext | bool
        if tls.insecure:
            context = False  # `insecure: true` in registries.conf: skip verification (upstream)
        else:
            try:
                context = ssl.create_default_context(cafile=tls.ca_file, cadata=tls.ca_data)
            except (OSError, ssl.SSLError) as exc:
                raise RegistryUnavailable(
                    f"registry {registry}: cannot load its CA certificates "
                    f"(ca_file={tls.ca_file!r}, ca_data {'set' if tls.ca_data else 'unset'}): "
                    f"{exc.__class__.__name__}",
                    registry=registry,
                ) from exc
        self._ssl[tls] = context
        return context

    async def send(
        self,
        method: str,
        url: URL,
        *,
        registry: str,
        kind: RequestKind,
        gate: RegistryGate,
        tls: TlsOptions,
        headers: Mapping[str, str] | None = None,
        rate_limited: bool = True,
    ) -> Answer:
        """Send one request; 429 and 5xx are retried (bounded), other statuses returned."""
        if self._session is None:
            raise RuntimeError("the registry client is not open: use `async with RegistryClient()`")
        where = _where(method, url)
        attempts = self._settings.max_retries + 1
        for attempt in range(attempts):
            answer = await self._once(
                method,
                url,
                registry=registry,
                kind=kind,
                gate=gate,
                tls=tls,
                headers=headers,
                rate_limited=rate_limited,
            )
            last = attempt == attempts - 1
            if answer.status == 429:
                advised = parse_retry_after(answer.header("retry-after"), now=self._clock.now())
                delay = advised if advised is not None else self._settings.backoff * 2**attempt
                if last or delay > self._settings.max_retry_after:
                    raise RateLimited(
                        f"registry {registry}: {where} was rate limited (429, retry after "
                        f"{delay:g}s) after {attempt + 1} attempt(s)",
                        registry=registry,
                        retry_after=delay,
                    )
                self._log.warning(
                    "registry %s: %s rate limited, pausing this registry for %.3gs",
                    registry,
                    where,
                    delay,
                )
                gate.pause(delay)
                if not rate_limited:
                    await gate.wait_for_pause()
                continue
            if answer.status >= 500:
                if last:
                    raise RegistryUnavailable(
                        f"registry {registry}: {where} answered {answer.status} "
                        f"after {attempts} attempt(s)",
                        registry=registry,
                    )
                delay = self._settings.backoff * 2**attempt
                self._log.info(
                    "registry %s: %s answered %d, retrying in %.3gs",
                    registry,
                    where,
                    answer.status,
                    delay,
                )
                await self._clock.sleep(delay)
                continue
            return answer
        raise AssertionError("unreachable: the retry loop returns or raises")  # pragma: no cover

    async def _once(
        self,
        method: str,
        url: URL,
        *,
        registry: str,
        kind: RequestKind,
        gate: RegistryGate,
        tls: TlsOptions,
        headers: Mapping[str, str] | None,
        rate_limited: bool,
    ) -> Answer:
        assert self._session is not None
        where = _where(method, url)
        context = self._ssl_for(tls, registry)
        status: int | None = None
        try:
            async with (
                gate.slot(rate_limited=rate_limited),
                self._session.request(
                    method, url, headers=dict(headers or {}), ssl=context, allow_redirects=True
                ) as response,
            ):
                status = response.status
                kept = {
                    name: ", ".join(response.headers.getall(name))
                    for name in _KEPT_HEADERS
                    if name in response.headers
                }
                body = b""
                if method != "HEAD" and status < 500 and status != 429:
                    body = await self._read_limited(response, registry=registry, where=where)
                return Answer(status=status, url=url, headers=kept, body=body)
        except TimeoutError as exc:
            raise RegistryUnavailable(
                f"registry {registry}: {where} timed out "
                f"(connect {self._settings.connect_timeout:g}s, "
                f"total {self._settings.request_timeout:g}s)",
                registry=registry,
            ) from exc
        except aiohttp.ClientError as exc:
            raise RegistryUnavailable(
                f"registry {registry}: {where} failed: {_describe(exc)}", registry=registry
            ) from exc
        finally:
            self._counters.request(registry, kind, status)

    async def _read_limited(
        self, response: aiohttp.ClientResponse, *, registry: str, where: str
    ) -> bytes:
        limit = self._settings.max_body_bytes
        declared = response.content_length
        too_big = RegistryProtocolError(
            f"registry {registry}: {where} answer is larger than {limit} bytes; refused",
            registry=registry,
        )
        if declared is not None and declared > limit:
            raise too_big
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)


def _describe(exc: aiohttp.ClientError) -> str:
    """A one-line reason. Connection errors are described by their OS error alone: aiohttp's
    own text adds the repr of the SSL context, which helps nobody."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        reason = getattr(exc.certificate_error, "verify_message", "") or "untrusted"
        return f"TLS certificate verification failed ({reason}); set ca_file/ca_data or insecure"
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        return "TLS handshake failed"
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or exc.os_error.__class__.__name__
        return f"cannot connect: {reason}"
    text = " ".join(str(exc).split())
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__

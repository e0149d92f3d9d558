"""HTTP for the registry client: the aiohttp sessions, and sending one request with
pacing, timeouts, body-size limits, 429/5xx retries, redirects and counters.

An https request takes its SSL context from :class:`~imageupdater.registry.tls.TlsContexts`
(built on first use, shared by every endpoint with the same TLS options); plain http needs
none. Proxies come from the environment as the session opens
(:mod:`imageupdater.registry.proxies`), the choice per (scheme, host, port) remembered, so no
request looks the environment up again.

Errors leave this module as :mod:`imageupdater.errors` types whose messages name the
registry host, the method and the path, never headers or credentials.

Requests for tenant-named registries (``guarded``) go through a second session whose
resolver drops denied addresses (:mod:`imageupdater.registry.reachability`): the check
happens on the addresses actually connected to, so a name that resolves to a public
address when checked and to an internal one a moment later gains nothing. aiohttp does
not ask the resolver about IP literals, so those are checked before each hop. Redirects
are followed here rather than by aiohttp, so that every hop is checked and the
``Authorization`` header is dropped once a hop leaves the original scheme, host and port
(blob downloads are redirected to object storage, which must not see our credentials).
Guarded requests never go through a proxy: the proxy, not this process, would resolve the
name, and the policy could no longer judge the address connected to.
"""

from __future__ import annotations

__all__ = ["Answer", "TlsContexts", "TlsOptions", "Transport"]

import ipaddress
import logging
import os
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from imageupdater.errors import (
    RateLimited,
    RegistryProtocolError,
    RegistryRefused,
    RegistryUnavailable,
)
from imageupdater.registry.clock import Clock
from imageupdater.registry.counters import Counters, RequestKind
from imageupdater.registry.proxies import EnvProxies, ProxyChoice, UnusableProxy
from imageupdater.registry.ratelimit import RegistryGate, parse_retry_after
from imageupdater.registry.reachability import ReachabilityPolicy, host_port
from imageupdater.registry.settings import ClientSettings
from imageupdater.registry.tls import SYSTEM_CAS, TlsContexts, TlsOptions

_KEPT_HEADERS = (
    "content-type",
    "docker-content-digest",
    "link",
    "www-authenticate",
    "retry-after",
    "content-length",
)


@dataclass(frozen=True, slots=True)
class Answer:
    """A registry's answer, already read (within the size limit)."""

    status: int
    url: URL
    headers: Mapping[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes = field(repr=False)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_PROXY_CHOICES = 4096  # (scheme, host, port) answers kept per session


def _where(method: str, url: URL) -> str:
    return f"{method} {url.path}"


def _origin(url: URL) -> tuple[str, str]:
    return url.scheme, host_port(url)


class _Denied(RegistryRefused, OSError):
    """Raised by :class:`GuardedResolver`; aiohttp wraps it, :meth:`Transport._once` unwraps it.

    Private on purpose: it only carries a refusal through aiohttp, which turns an ``OSError``
    from a resolver (and nothing else) into ``ClientConnectorError``; ``_once`` re-raises it as
    a plain :class:`RegistryRefused` naming the request. Being a ``RegistryRefused`` too, it
    still reads as the policy refusal it is should aiohttp ever let it through unwrapped.
    """


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the addresses the policy allows.

    Addresses that are denied are dropped (a name with a public and an internal address
    still works, over the public one); a name left with none fails to connect.
    """

    def __init__(self, policy: ReachabilityPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner if inner is not None else aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        kept = [r for r in found if self._policy.denied(r["host"]) is None]
        if not kept:
            reasons = "; ".join(f"{r['host']} is {self._policy.denied(r['host'])}" for r in found)
            raise _Denied(
                f"{host} resolves only to denied addresses ({reasons or 'none'})", registry=host
            )
        return kept

    async def close(self) -> None:
        await self._inner.close()


class Transport:
    def __init__(
        self,
        *,
        settings: ClientSettings,
        clock: Clock,
        counters: Counters,
        logger: logging.Logger,
        tls_contexts: TlsContexts | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """``tls_contexts`` may be shared with other clients; ``environ`` (default
        ``os.environ``) is where proxies are read from, each time a session opens."""
        self._settings = settings
        self._clock = clock
        self._counters = counters
        self._log = logger
        self._policy = settings.reachability
        self._session: aiohttp.ClientSession | None = None
        # Separate from the trusted session so a pooled connection opened for a configured
        # registry is never reused for a tenant-named one, and vice versa.
        self._guarded: aiohttp.ClientSession | None = None
        self.contexts = tls_contexts if tls_contexts is not None else TlsContexts()
        self._environ = environ
        self._proxies = EnvProxies()
        self._proxy_choices: dict[tuple[str, str, int | None], ProxyChoice] = {}

    def _new_session(self, connector: aiohttp.BaseConnector | None) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=self._settings.request_timeout,
                connect=self._settings.connect_timeout,
            ),
            auto_decompress=True,
        )

    async def open(self) -> None:
        if self._session is None:
            self._proxies = EnvProxies.from_environ(
                os.environ if self._environ is None else self._environ
            )
            self._proxy_choices.clear()
            for proxy in (self._proxies.http, self._proxies.https):
                if isinstance(proxy, UnusableProxy):
                    self._log.error("registry requests needing a proxy will fail: %s", proxy.reason)
            self._session = self._new_session(None)
        if self._guarded is None and self._policy is not None:
            self._guarded = self._new_session(
                aiohttp.TCPConnector(resolver=GuardedResolver(self._policy))
            )

    async def close(self) -> None:
        for session in (self._session, self._guarded):
            if session is not None:
                await session.close()
        self._session = self._guarded = None

    def _ssl_for(self, url: URL, tls: TlsOptions, registry: str) -> ssl.SSLContext | bool:
        if url.scheme != "https":
            return True  # aiohttp's default, unused without TLS: no context is built for http
        return self.contexts.for_options(tls, registry=registry)

    def _proxy_for(self, url: URL, *, registry: str, where: str) -> URL | None:
        key = (url.scheme, url.raw_host or "", url.explicit_port)
        try:
            choice = self._proxy_choices[key]
        except KeyError:
            if len(self._proxy_choices) >= _MAX_PROXY_CHOICES:
                self._proxy_choices.clear()
            choice = self._proxy_choices[key] = self._proxies.for_url(url)
        if isinstance(choice, UnusableProxy):
            raise RegistryUnavailable(
                f"registry {registry}: {where} goes through a proxy, but {choice.reason}",
                registry=registry,
            )
        return choice

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
        label: str | None = None,
        guarded: bool = False,
    ) -> Answer:
        """Send one request; 429 and 5xx are retried (bounded), other statuses returned.

        ``label`` is the registry name counted (default ``registry``); ``guarded`` applies
        the reachability policy to every hop (a tenant-named registry).
        """
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
                label=label or registry,
                guarded=guarded,
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
                    message = (
                        f"registry {registry}: {where} answered {answer.status} "
                        f"after {attempts} attempt(s)"
                    )
                    # Past the ping the host has shown it is a registry, so its outage may
                    # be named; a 5xx to the ping is just "unreachable" (could be anything).
                    public = message if kind != "ping" else None
                    raise RegistryUnavailable(message, registry=registry, public=public)
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
        label: str,
        guarded: bool,
    ) -> Answer:
        assert self._session is not None
        session = self._session
        if guarded and self._policy is not None:
            assert self._guarded is not None
            session = self._guarded
        where = _where(method, url)
        status: int | None = None
        current = url
        sent = dict(headers or {})
        try:
            async with gate.slot(rate_limited=rate_limited):
                for hop in range(self._settings.max_redirects + 1):
                    if hop:
                        where = f"{_where(method, url)} (redirected to {host_port(current)})"
                    if guarded:
                        self._check_literal(current, registry=registry, where=where)
                    # The endpoint's CA or `insecure` is about its own host; object storage a
                    # blob is redirected to is verified against the system's CAs.
                    same = host_port(current) == host_port(url)
                    context = self._ssl_for(current, tls if same else SYSTEM_CAS, registry)
                    proxy = (
                        None
                        if guarded or not self._proxies.configured
                        else self._proxy_for(current, registry=registry, where=where)
                    )
                    async with session.request(
                        method,
                        current,
                        headers=sent,
                        ssl=context,
                        proxy=proxy,
                        allow_redirects=False,
                    ) as response:
                        status = response.status
                        location = response.headers.get("Location")
                        if status in _REDIRECTS and location:
                            current = self._next_hop(current, location, registry, where)
                            if _origin(current) != _origin(url):
                                sent.pop("Authorization", None)
                            continue
                        kept = {
                            name: ", ".join(response.headers.getall(name))
                            for name in _KEPT_HEADERS
                            if name in response.headers
                        }
                        body = b""
                        if method != "HEAD" and status < 500 and status != 429:
                            body = await self._read_limited(
                                response, registry=registry, where=where
                            )
                        return Answer(status=status, url=url, headers=kept, body=body)
                raise RegistryProtocolError(
                    f"registry {registry}: {_where(method, url)} was redirected more than "
                    f"{self._settings.max_redirects} times",
                    registry=registry,
                )
        except TimeoutError as exc:
            raise self._failed(
                RegistryUnavailable(
                    f"registry {registry}: {where} timed out "
                    f"(connect {self._settings.connect_timeout:g}s, "
                    f"total {self._settings.request_timeout:g}s)",
                    registry=registry,
                )
            ) from exc
        except RegistryRefused as exc:
            raise self._failed(exc) from None
        except aiohttp.ClientHttpProxyError as exc:
            # Its text would name the proxy's URL, which may carry the proxy's password.
            raise self._failed(
                RegistryUnavailable(
                    f"registry {registry}: {where} failed: the proxy answered {exc.status}",
                    registry=registry,
                )
            ) from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, _Denied):
                raise self._failed(
                    RegistryRefused(
                        f"registry {registry}: {where} refused by the reachability policy: "
                        f"{exc.os_error}",
                        registry=registry,
                    )
                ) from exc
            raise self._failed(
                RegistryUnavailable(
                    f"registry {registry}: {where} failed: {_describe(exc)}", registry=registry
                )
            ) from exc
        except aiohttp.ClientError as exc:
            raise self._failed(
                RegistryUnavailable(
                    f"registry {registry}: {where} failed: {_describe(exc)}", registry=registry
                )
            ) from exc
        finally:
            self._counters.request(label, kind, status)

    def _failed(self, exc: RegistryUnavailable | RegistryRefused) -> Exception:
        """Log the detail a tenant is not shown (its ``public_message`` says only
        "unreachable"), then hand the error back to be raised."""
        if isinstance(exc, RegistryRefused):
            self._log.warning("%s", exc)
        else:
            self._log.info("%s", exc)
        return exc

    def _check_literal(self, url: URL, *, registry: str, where: str) -> None:
        """Refuse a denied IP literal: aiohttp connects to those without asking the resolver."""
        assert self._policy is not None
        host = url.raw_host or ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return  # a name: the guarded resolver judges what it resolves to
        reason = self._policy.denied(address)
        if reason is not None:
            raise RegistryRefused(
                f"registry {registry}: {where} refused by the reachability policy: "
                f"{host} is {reason}",
                registry=registry,
            )

    @staticmethod
    def _next_hop(current: URL, location: str, registry: str, where: str) -> URL:
        try:
            target = current.join(URL(location))
        except ValueError:
            target = None
        if target is None or target.scheme not in ("http", "https") or not target.raw_host:
            raise RegistryProtocolError(
                f"registry {registry}: {where} redirected to a location that is not an http(s) URL",
                registry=registry,
            )
        return target

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
        if isinstance(exc, aiohttp.ClientProxyConnectionError):
            return f"cannot connect to the proxy: {reason}"
        return f"cannot connect: {reason}"
    text = " ".join(str(exc).split())
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__

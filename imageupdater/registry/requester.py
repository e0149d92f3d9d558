"""Authenticated requests to one registry endpoint: the ``/v2/`` ping (cached), Bearer
tokens (cached until shortly before they expire) and Basic auth, the single retry with
fresh credentials after 401/403, single-flight for identical requests, and turning
statuses into :mod:`imageupdater.errors` types.

Credentials go only where :func:`~imageupdater.registry.auth.credentials_withheld` allows:
a token realm elsewhere than the registry gets an anonymous request instead, and the error
that follows, if any, says so. Requests for endpoints the reachability policy does not
trust are checked against it (host globs here, addresses in the transport), and counted
under :data:`~imageupdater.registry.counters.OTHER` so metric labels stay bounded.
"""

from __future__ import annotations

__all__ = ["CredentialProvider", "Requester", "metric_label", "registry_label"]

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from yarl import URL

from imageupdater.credentials import CredentialRef, Credentials
from imageupdater.errors import (
    CredentialError,
    RegistryAuthError,
    RegistryNotFound,
    RegistryProtocolError,
    RegistryRefused,
)
from imageupdater.registries_conf import RegistryEndpoint
from imageupdater.registry.auth import (
    Challenge,
    Token,
    TokenKey,
    basic_header,
    credentials_identity,
    credentials_withheld,
    parse_challenges,
    parse_token_answer,
    pull_scope,
)
from imageupdater.registry.cache import LruCache, SingleFlight
from imageupdater.registry.clock import Clock
from imageupdater.registry.counters import OTHER, Counters, RequestKind
from imageupdater.registry.ratelimit import RegistryGate
from imageupdater.registry.settings import ClientSettings
from imageupdater.registry.transport import Answer, TlsOptions, Transport

_MAX_TOKENS = 4096


class CredentialProvider(Protocol):
    """What the client needs from :class:`imageupdater.credential_sources.CredentialCache`."""

    async def get(
        self, ref: CredentialRef, *, registry_host: str, api_url: str, expire_after: float
    ) -> Credentials: ...

    def invalidate(self, key: tuple[str, str]) -> None: ...


def registry_label(endpoint: RegistryEndpoint) -> str:
    """``host[:port]`` of the endpoint's API: the name errors and counters use."""
    url = URL(endpoint.api_url)
    host = url.raw_host or endpoint.api_url
    if ":" in host and url.raw_host:
        host = f"[{host}]"  # an IPv6 literal, written as in a URL so the port stays apart
    return f"{host}:{url.explicit_port}" if url.explicit_port else host


def metric_label(endpoint: RegistryEndpoint) -> str:
    """The registry's name in metrics: configured and built-in registries by host, every
    tenant-named one as ``other``, so the number of series does not grow with tenants."""
    return OTHER if endpoint.origin == "inferred" else registry_label(endpoint)


class _Refused(RegistryAuthError):
    """A 401/403 that one retry with fresh credentials may cure.

    Private on purpose: :meth:`Requester._request` catches it to decide on that one retry,
    and only after the retry failed too does it escape, as the :class:`RegistryAuthError` it
    is; callers catch that, never this.
    """


class Requester:
    def __init__(
        self,
        *,
        transport: Transport,
        settings: ClientSettings,
        clock: Clock,
        counters: Counters,
        credentials: CredentialProvider | None,
        logger: logging.Logger,
    ) -> None:
        self._transport = transport
        self._settings = settings
        self._clock = clock
        self._counters = counters
        self._credentials = credentials
        self._log = logger
        self._gates: dict[str, RegistryGate] = {}
        self._challenges: dict[str, Challenge | None] = {}
        self._tokens: LruCache[TokenKey, Token] = LruCache(max_entries=_MAX_TOKENS, clock=clock)
        self._token_flights: SingleFlight[TokenKey, Token] = SingleFlight()
        self._ping_flights: SingleFlight[str, Challenge | None] = SingleFlight()
        self._flights: SingleFlight[tuple[str, str, str, str], Answer] = SingleFlight()
        # api_url -> why credentials were last withheld from its realm, for the error text.
        self._withheld: LruCache[str, str] = LruCache(max_entries=_MAX_TOKENS, clock=clock)

    def gate(self, endpoint: RegistryEndpoint) -> RegistryGate:
        gate = self._gates.get(endpoint.api_url)
        if gate is None:
            rate = self._settings.rate_limit
            if rate is None:
                rate = float(endpoint.limit) if endpoint.limit and endpoint.limit > 0 else 0.0
            gate = RegistryGate(
                rate=rate, max_concurrency=self._settings.max_concurrency, clock=self._clock
            )
            self._gates[endpoint.api_url] = gate
        return gate

    def tls(self, endpoint: RegistryEndpoint) -> TlsOptions:
        ca_file = endpoint.ca_file
        if ca_file is None and not endpoint.insecure and self._settings.tls_cert_dir:
            # Argo CD mounts argocd-tls-certs-cm there, one file per API host (upstream §13).
            candidate = Path(self._settings.tls_cert_dir) / (URL(endpoint.api_url).raw_host or "")
            if candidate.is_file():
                ca_file = str(candidate)
        return TlsOptions(insecure=endpoint.insecure, ca_file=ca_file, ca_data=endpoint.ca_data)

    async def _send(
        self,
        endpoint: RegistryEndpoint,
        method: str,
        url: URL,
        *,
        kind: RequestKind,
        headers: Mapping[str, str] | None = None,
        rate_limited: bool = True,
    ) -> Answer:
        registry = registry_label(endpoint)
        policy = self._settings.reachability
        guarded = policy is not None and not policy.trusts(endpoint)
        if policy is not None and guarded:
            try:
                policy.check_registry(endpoint, registry=registry)
            except RegistryRefused as exc:
                self._log.warning("%s", exc)  # the tenant is told only "unreachable"
                raise
        return await self._transport.send(
            method,
            url,
            registry=registry,
            kind=kind,
            gate=self.gate(endpoint),
            tls=self.tls(endpoint),
            headers=headers,
            rate_limited=rate_limited,
            label=metric_label(endpoint),
            guarded=guarded,
        )

    # -- ping ---------------------------------------------------------------------------

    async def challenge(self, endpoint: RegistryEndpoint) -> Challenge | None:
        """The endpoint's auth challenge from ``GET /v2/`` (``None``: anonymous access)."""
        if endpoint.api_url in self._challenges:
            self._counters.cache("ping", hit=True)
            return self._challenges[endpoint.api_url]
        self._counters.cache("ping", hit=False)
        return await self._ping_flights.do(endpoint.api_url, lambda: self._ping(endpoint))

    async def _ping(self, endpoint: RegistryEndpoint) -> Challenge | None:
        registry = registry_label(endpoint)
        answer = await self._send(
            endpoint, "GET", URL(endpoint.api_url + "/v2/"), kind="ping", rate_limited=False
        )
        if answer.status == 200:
            challenge = None
        elif answer.status == 401:
            challenge = _preferred(answer)
        else:
            raise RegistryProtocolError(
                f"registry {registry}: GET /v2/ answered {answer.status}; "
                f"{endpoint.api_url} is not a Docker v2 registry API (expected 200 or 401)",
                registry=registry,
            )  # publicly "unreachable": what else listens there is not the tenant's business
        self._challenges[endpoint.api_url] = challenge
        return challenge

    # -- credentials and tokens -----------------------------------------------------------

    async def _resolve_credentials(
        self, endpoint: RegistryEndpoint, ref: CredentialRef | None, *, refresh: bool
    ) -> Credentials | None:
        if ref is None:
            return None
        if self._credentials is None:
            raise RegistryAuthError(
                f"registry {registry_label(endpoint)}: credentials {str(ref)!r} are configured "
                "but this client has no credential source",
                registry=registry_label(endpoint),
            )
        if refresh:
            self._credentials.invalidate((endpoint.api_url, str(ref)))
        try:
            return await self._credentials.get(
                ref,
                registry_host=endpoint.host,
                api_url=endpoint.api_url,
                expire_after=endpoint.credsexpire,
            )
        except CredentialError as exc:
            if ref != endpoint.credentials or exc.public_message != str(exc):
                raise
            # registries.conf credentials: which Secret, field or key failed is for the
            # operator's log, not for the tenant whose image happens to use the registry.
            raise CredentialError(
                str(exc),
                public=f"registry {registry_label(endpoint)}: the credentials configured "
                "for it by the operator cannot be used (see the image updater's log)",
            ) from exc

    async def _token(
        self,
        endpoint: RegistryEndpoint,
        challenge: Challenge,
        scope: str,
        creds: Credentials | None,
        *,
        refresh: bool,
    ) -> Token:
        registry = registry_label(endpoint)
        realm = challenge.realm
        if not realm:
            raise RegistryProtocolError(
                f"registry {registry}: its Bearer challenge names no realm", registry=registry
            )
        url = _realm_url(realm, registry)
        if creds is not None:
            withheld = credentials_withheld(endpoint, url)
            if withheld is not None:
                if self._withheld.get(endpoint.api_url) != withheld:  # once, not per request
                    self._log.warning(
                        "registry %s: credentials withheld from its token realm: %s",
                        registry,
                        withheld,
                    )
                    self._withheld.put(endpoint.api_url, withheld)
                creds = None
        identity = credentials_identity(
            creds.username if creds else None, creds.password if creds else None
        )
        key: TokenKey = (realm, challenge.service or "", scope, identity)
        if refresh:
            self._tokens.discard(key)
        cached = self._tokens.get(key)
        if cached is not None and cached.expires_at > self._clock.monotonic():
            self._counters.cache("token", hit=True)
            return cached
        self._counters.cache("token", hit=False)
        return await self._token_flights.do(
            key, lambda: self._fetch_token(endpoint, key, url, challenge.service, scope, creds)
        )

    async def _fetch_token(
        self,
        endpoint: RegistryEndpoint,
        key: TokenKey,
        url: URL,
        service: str | None,
        scope: str,
        creds: Credentials | None,
    ) -> Token:
        registry = registry_label(endpoint)
        query = {"scope": scope} | ({"service": service} if service else {})
        headers = {"Authorization": basic_header(creds.username, creds.password)} if creds else {}
        answer = await self._send(
            endpoint,
            "GET",
            url.update_query(query),
            kind="token",
            headers=headers,
            rate_limited=False,
        )
        if answer.status in (401, 403):
            raise _Refused(
                f"registry {registry}: the token server refused "
                f"{'the configured credentials' if creds else 'anonymous access'} "
                f"({answer.status}){self._withheld_note(endpoint)}",
                registry=registry,
            )
        if not 200 <= answer.status < 300:
            raise RegistryProtocolError(
                f"registry {registry}: the token server answered {answer.status}",
                registry=registry,
            )
        token = parse_token_answer(answer.body, registry=registry, now=self._clock.monotonic())
        self._tokens.put(key, token)
        return token

    def _withheld_note(self, endpoint: RegistryEndpoint) -> str:
        reason = self._withheld.get(endpoint.api_url)
        return f"; credentials were withheld: {reason}" if reason else ""

    async def _authorization(
        self,
        endpoint: RegistryEndpoint,
        repository: str,
        ref: CredentialRef | None,
        *,
        refresh: bool,
    ) -> str | None:
        challenge = await self.challenge(endpoint)
        if challenge is None:
            return None
        creds = await self._resolve_credentials(endpoint, ref, refresh=refresh)
        if challenge.scheme == "bearer":
            scope = pull_scope(registry_label(endpoint), repository)
            token = await self._token(endpoint, challenge, scope, creds, refresh=refresh)
            return f"Bearer {token.value}"
        if challenge.scheme == "basic":
            if creds is None:
                return None
            withheld = credentials_withheld(endpoint, URL(endpoint.api_url))
            if withheld is not None:
                self._withheld.put(endpoint.api_url, withheld)
                return None
            return basic_header(creds.username, creds.password)
        registry = registry_label(endpoint)
        raise RegistryAuthError(
            f"registry {registry}: unsupported authentication scheme {challenge.scheme!r} "
            "(supported: Bearer, Basic)",
            registry=registry,
        )

    # -- requests ---------------------------------------------------------------------------

    async def request(
        self,
        endpoint: RegistryEndpoint,
        method: str,
        url: URL,
        *,
        kind: RequestKind,
        repository: str,
        credentials: CredentialRef | None,
        what: str,
        accept: str | None = None,
    ) -> Answer:
        """A 2xx answer to an authenticated request, or the matching error.

        Identical concurrent requests (same method, URL, scope and credentials) share one.
        """
        key = (method, str(url), repository, str(credentials) if credentials else "")
        return await self._flights.do(
            key,
            lambda: self._request(
                endpoint,
                method,
                url,
                kind=kind,
                repository=repository,
                credentials=credentials,
                what=what,
                accept=accept,
            ),
        )

    async def _request(
        self,
        endpoint: RegistryEndpoint,
        method: str,
        url: URL,
        *,
        kind: RequestKind,
        repository: str,
        credentials: CredentialRef | None,
        what: str,
        accept: str | None,
    ) -> Answer:
        registry = registry_label(endpoint)
        answer: Answer | None = None
        for attempt in range(2):
            refresh = attempt == 1
            try:
                authorization = await self._authorization(
                    endpoint, repository, credentials, refresh=refresh
                )
            except _Refused:
                if refresh:
                    raise
                self._log.info(
                    "registry %s: token refused, retrying with fresh credentials", registry
                )
                continue
            headers = {"Accept": accept} if accept else {}
            if authorization:
                headers["Authorization"] = authorization
            answer = await self._send(endpoint, method, url, kind=kind, headers=headers)
            if answer.status not in (401, 403) or refresh:
                break
            # The registry may have changed its mind about how to authenticate (a ping
            # answered 200, or the token lacks a scope): learn its current challenge.
            fresh = _preferred(answer)
            if fresh is not None:
                self._challenges[endpoint.api_url] = fresh
            self._log.info(
                "registry %s: %s answered %d, retrying once with fresh credentials",
                registry,
                what,
                answer.status,
            )
        assert answer is not None
        if 200 <= answer.status < 300:
            return answer
        if answer.status in (401, 403):
            raise RegistryAuthError(
                f"registry {registry}: {what} was refused ({answer.status}) "
                f"{'with the configured credentials' if credentials else 'without credentials'}"
                f" after one retry{self._withheld_note(endpoint)}",
                registry=registry,
            )
        if answer.status == 404:
            code = _error_code(answer.body)
            raise RegistryNotFound(
                f"registry {registry}: {what} not found (404{' ' + code if code else ''})",
                registry=registry,
            )
        raise RegistryProtocolError(
            f"registry {registry}: {what} answered unexpected status {answer.status}",
            registry=registry,
        )


def _realm_url(realm: str, registry: str) -> URL:
    try:
        url = URL(realm)
    except ValueError as exc:
        raise RegistryProtocolError(
            f"registry {registry}: its Bearer realm is not a URL", registry=registry
        ) from exc
    if not url.absolute or url.scheme not in ("http", "https"):
        raise RegistryProtocolError(
            f"registry {registry}: its Bearer realm {realm!r} is not an http(s) URL",
            registry=registry,
        )
    return url


def _preferred(answer: Answer) -> Challenge | None:
    """Bearer if offered, else Basic, else the first challenge."""
    header = answer.header("www-authenticate")
    challenges = parse_challenges(header) if header else ()
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return challenges[0] if challenges else None


def _error_code(body: bytes) -> str:
    """The first ``errors[].code`` of a distribution error body, if readable."""
    try:
        data = json.loads(body)
        code = data["errors"][0]["code"]
    except (ValueError, UnicodeDecodeError, KeyError, IndexError, TypeError):
        return ""
    return code if isinstance(code, str) and code.isascii() and len(code) < 64 else ""

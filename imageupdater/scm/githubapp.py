"""GitHub App installation tokens: sign the App's JWT, exchange it, cache the answer.

``GitHubAppTokens.token(...)`` signs a JWT (RS256; ``iat`` a minute in the past against
clock skew, ``exp`` nine minutes ahead, below GitHub's ten-minute limit; ``iss`` the App id)
with ``cryptography``, exchanges it at ``POST /app/installations/{id}/access_tokens`` and
caches the installation token until 60 s before its ``expires_at``. Concurrent callers for
the same installation share one exchange.

The API base: ``enterprise_base_url`` (``githubAppEnterpriseBaseUrl``; ``/api/v3`` is
appended when its path does not end so and its host is not ``api.*``, as go-github does),
else the constructor's ``api_url`` (used as given), else ``https://api.github.com``.

Neither the private key nor a token ever appears in a message, a log line or a repr. A key
that does not load is a :class:`~imageupdater.errors.CredentialError` (permanent); a failed
exchange is an :class:`~imageupdater.errors.SCMError`.
"""

from __future__ import annotations

__all__ = ["GitHubAppTokens", "sign_app_jwt"]

import asyncio
import base64
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
from yarl import URL

from imageupdater.errors import CredentialError, InvalidInput
from imageupdater.scm import DEFAULT_TIMEOUT, ApiTransport, segment

_LOG = logging.getLogger("image_updater.scm")
_DEFAULT_API = URL("https://api.github.com")
_IAT_SKEW = 60  # seconds: GitHub rejects an iat in its future
_LIFETIME = 9 * 60  # seconds: GitHub allows at most ten minutes
_REFRESH_BEFORE = 60.0  # seconds before expires_at when a cached token is replaced


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_app_jwt(app_id: str, private_key_pem: str, *, now: float) -> str:
    """The App's RS256 JWT at time ``now`` (seconds since the epoch)."""
    # Imported here: only GitHub App credentials need it, not every start of `run`.
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # The library's message says what is wrong with the PEM, never its content.
        raise CredentialError(
            f"the private key of GitHub App {app_id} does not load "
            f"({exc.__class__.__name__}); expected an unencrypted RSA private key in PEM "
            "(githubAppPrivateKey, as GitHub's App settings download it)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialError(
            f"the private key of GitHub App {app_id} is not an RSA key; GitHub Apps sign "
            "with RS256, so githubAppPrivateKey must be the RSA key GitHub generated"
        )
    issued = int(now) - _IAT_SKEW
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"iat": issued, "exp": int(now) + _LIFETIME, "iss": app_id}
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{_b64url(signature)}"


@dataclass(slots=True)
class _Cached:
    token: str = field(repr=False)
    refresh_at: float  # clock time after which the token is replaced


class GitHubAppTokens:
    """Installation tokens for GitHub Apps, cached per (API, App, installation, key)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
        logger: logging.Logger | None = None,
    ) -> None:
        if not timeout > 0:
            raise InvalidInput(f"GitHub App token timeout {timeout!r} must be a positive number")
        self._session = session
        self._api_url = _base(api_url, enterprise=False) if api_url else _DEFAULT_API
        self._timeout = timeout
        self._clock = clock
        self._log = logger or _LOG
        self._cache: dict[tuple[str, str, str, str], _Cached] = {}
        self._locks: dict[tuple[str, str, str, str], asyncio.Lock] = {}
        self.minted = 0  # how many exchanges succeeded (for metrics and tests)

    def __repr__(self) -> str:
        return f"GitHubAppTokens(api_url={str(self._api_url)!r}, cached={len(self._cache)})"

    async def token(
        self,
        app_id: str,
        installation_id: str,
        private_key_pem: str,
        enterprise_base_url: str | None,
    ) -> str:
        """A valid installation token, from the cache or freshly minted."""
        app_id, installation_id = str(app_id).strip(), str(installation_id).strip()
        if not app_id or not installation_id:
            raise CredentialError(
                "GitHub App credentials need githubAppID and githubAppInstallationID; "
                f"got app id {app_id!r}, installation id {installation_id!r}"
            )
        base = _base(enterprise_base_url, enterprise=True) if enterprise_base_url else self._api_url
        fingerprint = hashlib.sha256(private_key_pem.encode()).hexdigest()
        key = (str(base), app_id, installation_id, fingerprint)
        cached = self._cache.get(key)
        if cached is not None and self._clock() < cached.refresh_at:
            return cached.token
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._cache.get(key)  # another caller may have minted meanwhile
            if cached is not None and self._clock() < cached.refresh_at:
                return cached.token
            fresh = await self._mint(base, app_id, installation_id, private_key_pem)
            self._cache[key] = fresh
            return fresh.token

    def forget(self) -> None:
        """Drop every cached token (after credentials changed, or a token was refused)."""
        self._cache.clear()

    async def _mint(
        self, base: URL, app_id: str, installation_id: str, private_key_pem: str
    ) -> _Cached:
        now = self._clock()
        jwt = sign_app_jwt(app_id, private_key_pem, now=now)
        http = ApiTransport(
            service="GitHub",
            session=self._session,
            base_url=base,
            headers={
                "Authorization": f"Bearer {jwt}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            secret=jwt,
            timeout=self._timeout,
        )
        what = f"mint an installation token for GitHub App {app_id}, installation {installation_id}"
        answer = await http.call(
            "POST", f"/app/installations/{segment(installation_id)}/access_tokens", what=what
        )
        data = answer.data
        token = data.get("token") if isinstance(data, dict) else None
        expires = data.get("expires_at") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token or not isinstance(expires, str):
            raise http.shape_error(what, "the answer lacks 'token' or 'expires_at'")
        try:
            expires_at = datetime.fromisoformat(expires).timestamp()
        except ValueError:
            raise http.shape_error(
                what, f"'expires_at' {expires[:40]!r} is not an ISO 8601 time"
            ) from None
        self.minted += 1
        self._log.info(
            "minted an installation token for GitHub App %s, installation %s (expires %s)",
            app_id,
            installation_id,
            expires,
        )
        # A token that expires within the refresh margin is still used once, never cached.
        return _Cached(token=token, refresh_at=max(now, expires_at - _REFRESH_BEFORE))


def _base(text: str, *, enterprise: bool) -> URL:
    """The API base from ``text``; an Enterprise base URL gains ``/api/v3`` if it lacks it."""
    try:
        url = URL(text.strip())
        ok = url.scheme in ("http", "https") and bool(url.host)
    except (ValueError, TypeError, IndexError):
        ok = False
    if not ok or url.user is not None or url.password is not None:
        raise CredentialError(
            f"GitHub API URL {text!r} is not an http(s) URL without credentials; "
            "expected e.g. https://ghe.example/api/v3"
        )
    path = url.raw_path.rstrip("/")
    host = url.host or ""
    if enterprise and not path.endswith("/api/v3") and not host.startswith("api."):
        path += "/api/v3"
    return url.with_path(path, encoded=True).with_query(None).with_fragment(None)

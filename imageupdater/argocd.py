"""Argo CD's REST API as the reconciler's ``--applications-api argocd`` uses it.

Owns ``ArgoCDClient``: one aiohttp session to argocd-server, the four calls Image Updater
needs (list, get and merge-patch Applications; get an AppProject), TLS choices, bounded
answers and timeouts, and turning argocd-server's errors into the ``Kube*`` errors of
:mod:`imageupdater.errors`, by the same status table as the Kubernetes adapter
(:func:`imageupdater.errors.kube_error`), so the reconciler handles both APIs alike.

Upstream v0 spoke gRPC to argocd-server; we speak the JSON that argocd-server's grpc-gateway
serves on the same port (``/api/v1/...``), so ``--argocd-grpc-web`` has nothing to switch:
grpc-web only exists to carry gRPC through HTTP/1.1 proxies, and plain JSON over HTTP/1.1
already passes them. The flag is accepted for compatibility and ignored.

Error messages name the server, the operation and the Application; they never contain the
bearer token (any server text that echoes it is redacted before it reaches a message).
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "ArgoCDClient", "parse_server_addr"]

import ipaddress
import json
import ssl
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal

import aiohttp
from yarl import URL

from imageupdater.errors import (
    InvalidInput,
    KubeConflict,
    KubeError,
    KubeInvalid,
    KubeUnavailable,
    kube_error,
)

JSON = dict[str, Any]
Method = Literal["GET", "PATCH"]

# Thousands of Applications with their status fit well below this; anything larger is not an
# answer we should hold in memory.
DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024
_CHUNK = 64 * 1024
_REASON_CHARS = 300
_ADDR_HELP = "expected host[:port] or http(s)://host[:port][/root-path], e.g. argocd-server.argocd"


def parse_server_addr(text: str, *, plaintext: bool) -> URL:
    """The base URL for ``--argocd-server-addr``: https unless ``plaintext`` or an http:// URL.

    Raises ``InvalidInput`` for anything that is not a host, a host:port or an http(s) URL
    without credentials, query or fragment, and for an https:// URL with ``plaintext``.
    """
    value = text.strip()
    where = f"--argocd-server-addr {text!r}"
    if not value or any(c.isspace() for c in value):
        raise InvalidInput(f"{where} is not a server address; {_ADDR_HELP}")
    has_scheme = "://" in value
    try:
        url = URL(value if has_scheme else f"{'http' if plaintext else 'https'}://{value}")
        scheme, host, port = url.scheme, url.raw_host or "", url.port
        has_userinfo = url.raw_user is not None or url.raw_password is not None
        extra = bool(url.raw_query_string or url.raw_fragment)
        path = url.raw_path
    except (ValueError, IndexError) as exc:  # yarl raises IndexError on some malformed hosts
        raise InvalidInput(f"{where} is not a server address; {_ADDR_HELP}") from exc
    if scheme not in ("http", "https"):
        raise InvalidInput(f"{where} has scheme {scheme!r}; {_ADDR_HELP}")
    if has_userinfo:
        raise InvalidInput(
            f"--argocd-server-addr must not carry credentials; pass the token with "
            f"--argocd-token or ARGOCD_TOKEN; {_ADDR_HELP}"
        )
    if not host or port is None:
        raise InvalidInput(f"{where} names no host; {_ADDR_HELP}")
    if not _valid_host(host):
        raise InvalidInput(f"{where}: {host!r} is not a host name or IP address; {_ADDR_HELP}")
    if extra:
        raise InvalidInput(f"{where} has a query or fragment; {_ADDR_HELP}")
    if not has_scheme and path not in ("", "/"):
        raise InvalidInput(f"{where} has a path but no scheme; {_ADDR_HELP}")
    if plaintext and scheme == "https":
        raise InvalidInput(
            f"{where} asks for https but --argocd-plaintext asks for http; drop one of them"
        )
    return url.with_path(path.rstrip("/"), encoded=True)


def _valid_host(host: str) -> bool:
    """A DNS name (RFC 1123 labels, punycode for IDNs) or an IPv4/IPv6 address."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    labels = host.split(".")
    return len(host) <= 253 and all(
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(c.isascii() and (c.isalnum() or c == "-") for c in label)
        for label in labels
    )


class ArgoCDClient:
    """argocd-server's REST API with one bearer token; see the module docstring.

    Usable as ``async with ArgoCDClient(...) as client`` or directly: the session opens on the
    first request and ``close()`` ends it.
    """

    def __init__(
        self,
        server_addr: str,
        *,
        token: str,
        plaintext: bool = False,
        insecure: bool = False,
        timeout: float = 30.0,
        ca_file: str | None = None,
        grpc_web: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if not token:
            raise InvalidInput(
                "--argocd-token (or ARGOCD_TOKEN) is empty: the Argo CD API needs the bearer "
                "token of an account allowed to get and update applications"
            )
        if not timeout > 0:
            raise InvalidInput(f"Argo CD API timeout {timeout!r} must be a positive number")
        if max_response_bytes < 1:
            raise InvalidInput(f"max_response_bytes {max_response_bytes!r} must be at least 1")
        self.base_url = parse_server_addr(server_addr, plaintext=plaintext)
        # What metrics and messages call the server: the address as the user wrote it.
        self.server = server_addr.strip().rstrip("/")
        self.grpc_web = grpc_web  # accepted and ignored: see the module docstring
        self._token = token
        self._timeout = timeout
        self._max_body = max_response_bytes
        self._ssl = self._ssl_context(insecure=insecure, ca_file=ca_file)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"ArgoCDClient(server={self.server!r}, base_url={str(self.base_url)!r})"

    def _ssl_context(self, *, insecure: bool, ca_file: str | None) -> ssl.SSLContext | bool:
        if self.base_url.scheme == "http":
            return True  # unused for http; aiohttp's default
        if insecure:
            return False  # `--argocd-insecure`: skip verification, like upstream
        try:
            return ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidInput(
                f"Argo CD CA file {ca_file!r} cannot be loaded ({exc.__class__.__name__}: "
                f"{exc}); expected a readable PEM bundle"
            ) from exc

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> ArgoCDClient:
        self._open()
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=self._timeout, connect=min(self._timeout, 10.0)
                ),
                headers={"Accept": "application/json"},
            )
        return self._session

    @property
    def closed(self) -> bool:
        """True while no session is open (before the first request and after ``close()``)."""
        return self._session is None or self._session.closed

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- the API --------------------------------------------------------------------------

    async def list_applications(
        self, *, selector: str | None = None, app_namespace: str | None = None
    ) -> list[JSON]:
        """Applications the token may see; ``app_namespace`` None means every enabled one."""
        query = {"selector": selector or None, "appNamespace": app_namespace or None}
        what = "list applications" + (f" in {app_namespace}" if app_namespace else "")
        answer = await self._request("GET", "applications", what=what, query=query)
        items = answer.get("items")
        if items is None:
            return []  # grpc-gateway leaves an empty list out (or null)
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise KubeUnavailable(
                f"Argo CD server {self.server}: {what}: 'items' is not a list of objects",
            )
        return items

    async def get_application(self, name: str, namespace: str | None) -> JSON:
        query = {"appNamespace": namespace or None}
        return await self._request(
            "GET",
            f"applications/{_segment(name)}",
            what=f"get application {_qualified(namespace, name)}",
            query=query,
        )

    async def patch_application(
        self, name: str, namespace: str | None, merge_patch: Mapping[str, Any]
    ) -> JSON:
        """Apply an RFC 7386 merge patch; returns the updated Application."""
        body: JSON = {"name": name, "patch": json.dumps(merge_patch), "patchType": "merge"}
        if namespace:
            body["appNamespace"] = namespace
        return await self._request(
            "PATCH",
            f"applications/{_segment(name)}",
            what=f"patch application {_qualified(namespace, name)}",
            body=body,
        )

    async def get_project(self, name: str) -> JSON:
        return await self._request("GET", f"projects/{_segment(name)}", what=f"get project {name}")

    # -- transport ------------------------------------------------------------------------

    async def _request(
        self,
        method: Method,
        path: str,
        *,
        what: str,
        query: Mapping[str, str | None] | None = None,
        body: JSON | None = None,
    ) -> JSON:
        session = self._open()
        url = self.base_url.with_path(f"{self.base_url.raw_path}/api/v1/{path}", encoded=True)
        params = {k: v for k, v in (query or {}).items() if v is not None}
        where = f"Argo CD server {self.server}: {what}"
        try:
            async with session.request(
                method,
                url,
                params=params,
                json=body,
                headers={"Authorization": f"Bearer {self._token}"},
                ssl=self._ssl,
                allow_redirects=False,
            ) as response:
                raw = await self._read(response, where)
                status = response.status
                content_type = response.content_type
                location = response.headers.get("Location", "")
        except TimeoutError as exc:
            raise KubeUnavailable(f"{where}: no answer within {self._timeout:g}s") from exc
        except aiohttp.ClientSSLError as exc:
            message = (
                f"{where}: TLS failed ({_ssl_reason(exc)}); pass the server's CA, use "
                "--argocd-insecure to skip verification, or --argocd-plaintext for plain http"
            )
            raise KubeUnavailable(self._redact(message)) from exc
        except aiohttp.ClientError as exc:
            message = f"{where}: {exc.__class__.__name__}: {exc}"[:600]
            raise KubeUnavailable(self._redact(message)) from exc
        if 300 <= status < 400:
            hint = ""
            if location.startswith("https://") and self.base_url.scheme == "http":
                hint = "; the server wants TLS: drop --argocd-plaintext"
            raise KubeUnavailable(
                self._redact(f"{where}: redirected ({status}) to {location!r}{hint}"),
                status=status,
            )
        if status >= 400:
            raise self._error(status, raw, where)
        if content_type != "application/json":
            raise KubeUnavailable(
                f"{where}: answered {content_type or 'no content type'}, not JSON; is "
                f"{self.base_url} the Argo CD API server (and its root path)?",
                status=status,
            )
        try:
            decoded = json.loads(raw)
        except ValueError as exc:
            raise KubeUnavailable(f"{where}: the answer is not valid JSON", status=status) from exc
        if not isinstance(decoded, dict):
            raise KubeUnavailable(f"{where}: the answer is not a JSON object", status=status)
        return decoded

    async def _read(self, response: aiohttp.ClientResponse, where: str) -> bytes:
        if response.content_length is not None and response.content_length > self._max_body:
            raise KubeUnavailable(
                f"{where}: the answer ({response.content_length} bytes) is larger than the "
                f"{self._max_body}-byte limit",
                status=response.status,
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > self._max_body:
                raise KubeUnavailable(
                    f"{where}: the answer is larger than the {self._max_body}-byte limit",
                    status=response.status,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "<redacted>")

    def _error(self, status: int, raw: bytes, where: str) -> KubeError:
        reason, code = _error_body(raw)
        grpc = f", gRPC code {code}" if code is not None else ""
        detail = f": {reason}" if reason else ""
        text = self._redact(f"{where}: {_status_words(status)} ({status}{grpc}){detail}")
        if status == 500 and "too many conflicts" in reason.lower():
            # argocd-server retries resourceVersion conflicts itself and gives up with a 500;
            # for us that is a conflict: re-read and try again later.
            return KubeConflict(text, status=status)
        if status in (401, 403):
            text += "; check --argocd-token and the account's RBAC (applications get/update)"
        return kube_error(status, text)


def _segment(value: str) -> str:
    if value in ("", ".", "..") or "/" in value:
        raise KubeInvalid(f"{value!r} is not an Argo CD object name (empty or contains '/')")
    return URL.build(path=value).raw_path


def _qualified(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def _error_body(raw: bytes) -> tuple[str, int | None]:
    """(message, gRPC code) from grpc-gateway's ``{"error", "code", "message"}`` body."""
    try:
        body = json.loads(raw)
    except ValueError:
        return raw[:_REASON_CHARS].decode("utf-8", "replace").strip(), None
    if not isinstance(body, dict):
        return "", None
    message = body.get("message") or body.get("error") or ""
    code = body.get("code")
    return str(message)[:_REASON_CHARS], code if isinstance(code, int) else None


def _status_words(status: int) -> str:
    return {
        400: "invalid request",
        401: "not authenticated",
        403: "permission denied",
        404: "not found",
        409: "conflict",
        429: "too many requests",
    }.get(status, "server error" if status >= 500 else "refused")


def _ssl_reason(exc: aiohttp.ClientSSLError) -> str:
    inner = getattr(exc, "certificate_error", None) or getattr(exc, "os_error", None)
    return str(inner or exc.__class__.__name__)[:200]

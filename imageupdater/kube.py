"""The Kubernetes API adapter: kubernetes_asyncio behind typed wrappers, raw JSON in and out.

The only module that imports ``kubernetes_asyncio`` (an import contract says so). Objects
travel as plain dicts (``TypedDict`` at the call sites), never as generated models: Argo CD
Applications are custom objects anyway, and plain dicts keep the webhook, the reconciler
and the emulator-driven tests speaking the same JSON. Every ``ApiException`` and transport
error becomes one of ``KubeError``'s subclasses (statuses by the table in
:func:`imageupdater.errors.kube_error`, shared with the Argo CD adapter) with a message that
names the object, never a token or a Secret's data.

The client is built on an explicit ``Configuration`` (never the process-wide default), from
a kubeconfig file or, when none is given and the process runs in a pod, the in-cluster
service account.
"""

from __future__ import annotations

__all__ = [
    "APPLICATIONS",
    "APPPROJECTS",
    "EVENTS",
    "LEASES",
    "MUTATING_WEBHOOKS",
    "SECRETS",
    "VALIDATING_WEBHOOKS",
    "KubeClient",
    "Resource",
    "WatchEvent",
    "decode_secret_data",
    "encode_secret_data",
    "kubeconfig_problem",
]

import base64
import json
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio import watch as k8s_watch
from kubernetes_asyncio.client.exceptions import ApiException

from imageupdater.errors import (
    CredentialError,
    InvalidKubeconfig,
    KubeError,
    KubeNotFound,
    KubeUnavailable,
    kube_error,
)

JSON = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@dataclass(frozen=True, slots=True)
class Resource:
    group: str
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


APPLICATIONS = Resource("argoproj.io", "v1alpha1", "applications")
APPPROJECTS = Resource("argoproj.io", "v1alpha1", "appprojects")
SECRETS = Resource("", "v1", "secrets")
EVENTS = Resource("", "v1", "events")
LEASES = Resource("coordination.k8s.io", "v1", "leases")
MUTATING_WEBHOOKS = Resource("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations")
VALIDATING_WEBHOOKS = Resource(
    "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"
)


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]
    object: JSON


def _status_error(status: int, body: bytes | str | None, fallback: str, what: str) -> KubeError:
    """The error for a non-2xx answer, worded from the Kubernetes Status body when there is one."""
    reason = ""
    try:
        decoded = json.loads(body) if body else {}
        if isinstance(decoded, dict):
            reason = str(decoded.get("message", ""))[:300]
    except (TypeError, ValueError):
        reason = ""
    return kube_error(status, f"{what}: {reason or fallback or 'HTTP ' + str(status)}")


def _error(exc: ApiException, what: str) -> KubeError:
    return _status_error(int(exc.status or 0), exc.body, str(exc.reason or ""), what)


def _kubeconfig_files(kubeconfig: str | None, environ: Mapping[str, str]) -> tuple[list[Path], str]:
    """The kubeconfig files to read, as kubectl picks them, and how they were chosen."""
    if kubeconfig:
        return [Path(kubeconfig).expanduser()], ""
    listed = [p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        return [Path(p).expanduser() for p in listed], " (from $KUBECONFIG)"
    default = Path("~/.kube/config").expanduser()
    return [default], " (the default: no --kubeconfig or $KUBECONFIG, and not in a cluster)"


def _why_unreadable(path: Path) -> str | None:
    try:
        with path.open("rb"):
            return None
    except (FileNotFoundError, NotADirectoryError):
        return "no such file"
    except IsADirectoryError:
        return "it is a directory"
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()


def _readable(files: list[Path], source: str) -> tuple[list[Path], str | None]:
    """The files that exist, and why they cannot be used (one line naming a file), or None.

    As kubectl does, files of a ``$KUBECONFIG`` list that do not exist are skipped, but one
    must; every file that exists must be readable."""
    existing = [path for path in files if path.exists()]
    for path in existing:
        reason = _why_unreadable(path)
        if reason is not None:
            return existing, f"cannot read kubeconfig {path}{source}: {reason}"
    if existing:
        return existing, None
    if len(files) == 1:
        return existing, f"cannot read kubeconfig {files[0]}{source}: no such file"
    return existing, f"cannot read kubeconfig: none of {', '.join(map(str, files))}{source} exists"


def kubeconfig_problem(
    kubeconfig: str | None, environ: Mapping[str, str] | None = None
) -> str | None:
    """Why the kubeconfig :meth:`KubeClient.connect` would read outside a cluster cannot be
    read (one line naming the file), or None; its contents are not checked here.

    ``kubeconfig`` is the ``--kubeconfig`` value; without one, ``$KUBECONFIG`` (a list of
    files, of which those that do not exist are skipped, like kubectl) or ``~/.kube/config``.
    """
    files, source = _kubeconfig_files(kubeconfig, os.environ if environ is None else environ)
    return _readable(files, source)[1]


class KubeClient:
    """Typed access to the API objects Image Updater reads and writes."""

    def __init__(self, api: k8s.ApiClient) -> None:
        self._api = api
        self._custom = k8s.CustomObjectsApi(api)

    @classmethod
    async def connect(
        cls, kubeconfig: str | None = None, *, context: str | None = None
    ) -> KubeClient:
        """A client from ``kubeconfig``, else the in-cluster service account when in a pod,
        else ``$KUBECONFIG`` or ``~/.kube/config`` (see :func:`kubeconfig_problem`)."""
        kubeconfig = kubeconfig or None  # "" is upstream's "not given"
        configuration = k8s.Configuration()
        if kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ:
            try:
                k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                    client_configuration=configuration
                )
            except (k8s_config.ConfigException, OSError, ValueError) as exc:
                raise InvalidKubeconfig(
                    f"cannot load the in-cluster service account's configuration: {exc}"
                ) from exc
            return cls(k8s.ApiClient(configuration=configuration))
        files, source = _kubeconfig_files(kubeconfig, os.environ)
        readable, problem = _readable(files, source)
        if problem is not None:
            raise InvalidKubeconfig(problem)
        try:
            await k8s_config.load_kube_config(
                config_file=os.pathsep.join(map(str, readable)),
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (k8s_config.ConfigException, OSError, ValueError) as exc:
            raise InvalidKubeconfig(
                f"cannot load kubeconfig {', '.join(map(str, readable))}{source}: "
                + " ".join(str(exc).split())
            ) from exc
        return cls(k8s.ApiClient(configuration=configuration))

    async def close(self) -> None:
        await self._api.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- generic verbs on any resource (raw JSON) ---------------------------------------------

    def _path(self, resource: Resource, namespace: str | None, name: str | None = None) -> str:
        base = f"/apis/{resource.group}/{resource.version}" if resource.group else "/api/v1"
        if namespace is not None:
            base += f"/namespaces/{namespace}"
        base += f"/{resource.plural}"
        return f"{base}/{name}" if name else base

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> JSON:
        try:
            response = await self._api.call_api(
                path,
                method,
                query_params=list((query or {}).items()),
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
            )
            raw = await response.read()
            status = int(response.status)
        except ApiException as exc:
            raise _error(exc, what) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise KubeUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        if not 200 <= status <= 299:
            # With _preload_content=False the client hands back any status unchecked.
            raise _status_error(status, raw, "", what)
        try:
            decoded = json.loads(raw) if raw else {}
        except ValueError as exc:
            raise KubeUnavailable(f"{what}: the API server answered with invalid JSON") from exc
        if not isinstance(decoded, dict):
            raise KubeUnavailable(f"{what}: the API server answered with a non-object")
        return decoded

    async def get(self, resource: Resource, namespace: str | None, name: str) -> JSON:
        what = f"get {resource.plural} {namespace + '/' if namespace else ''}{name}"
        return await self._call("GET", self._path(resource, namespace, name), what=what)

    async def get_or_none(
        self, resource: Resource, namespace: str | None, name: str
    ) -> JSON | None:
        try:
            return await self.get(resource, namespace, name)
        except KubeNotFound:
            return None

    async def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> JSON:
        query = {}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        what = f"list {resource.plural}" + (f" in {namespace}" if namespace else "")
        return await self._call("GET", self._path(resource, namespace), what=what, query=query)

    async def create(self, resource: Resource, namespace: str | None, body: JSON) -> JSON:
        name = body.get("metadata", {}).get("name") or body.get("metadata", {}).get("generateName")
        what = f"create {resource.plural} {namespace + '/' if namespace else ''}{name}"
        return await self._call("POST", self._path(resource, namespace), what=what, body=body)

    async def replace(self, resource: Resource, namespace: str | None, body: JSON) -> JSON:
        name = body["metadata"]["name"]
        what = f"replace {resource.plural} {namespace + '/' if namespace else ''}{name}"
        path = self._path(resource, namespace, name)
        return await self._call("PUT", path, what=what, body=body)

    async def patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        content_type: str = MERGE_PATCH,
        dry_run: bool = False,
    ) -> JSON:
        what = f"patch {resource.plural} {namespace + '/' if namespace else ''}{name}"
        query = {"dryRun": "All"} if dry_run else None
        path = self._path(resource, namespace, name)
        return await self._call(
            "PATCH", path, what=what, body=patch, content_type=content_type, query=query
        )

    async def watch(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncIterator[WatchEvent]:
        """Events after ``resource_version`` until the server ends the watch; 410 → KubeGone."""
        kwargs: dict[str, Any] = {
            "timeout_seconds": timeout_seconds,
            "allow_watch_bookmarks": True,
        }
        if resource_version:
            kwargs["resource_version"] = resource_version
        if label_selector:
            kwargs["label_selector"] = label_selector
        func: Callable[..., Any]
        if namespace is None:
            args: tuple[Any, ...] = (resource.group, resource.version, resource.plural)
            func = self._custom.list_cluster_custom_object
        else:
            args = (resource.group, resource.version, namespace, resource.plural)
            func = self._custom.list_namespaced_custom_object
        what = f"watch {resource.plural}" + (f" in {namespace}" if namespace else "")
        watcher = k8s_watch.Watch()
        try:
            async with watcher.stream(func, *args, **kwargs) as stream:
                async for event in stream:
                    kind = event.get("type")
                    obj = event.get("raw_object") or event.get("object")
                    if kind == "ERROR":
                        code = int(obj.get("code", 0)) if isinstance(obj, dict) else 0
                        message = obj.get("message", "") if isinstance(obj, dict) else ""
                        raise kube_error(code, f"{what}: {message}")  # 410: KubeGone
                    if kind in ("ADDED", "MODIFIED", "DELETED", "BOOKMARK") and isinstance(
                        obj, dict
                    ):
                        yield WatchEvent(kind, obj)
        except ApiException as exc:
            raise _error(exc, what) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise KubeUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc

    # -- Secrets -------------------------------------------------------------------------------

    async def read_secret(self, namespace: str, name: str) -> Mapping[str, bytes]:
        """The ``SecretReader`` protocol: decoded data, or CredentialError when unavailable."""
        try:
            secret = await self.get(SECRETS, namespace, name)
        except KubeNotFound as exc:
            raise CredentialError(f"secret {namespace}/{name} not found") from exc
        except KubeError as exc:
            raise CredentialError(f"cannot read secret {namespace}/{name}: {exc}") from exc
        return decode_secret_data(secret)


def decode_secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    data: dict[str, bytes] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            data[key] = base64.b64decode(value, validate=True)
        except (ValueError, TypeError):
            continue
    for key, value in (secret.get("stringData") or {}).items():
        data[key] = str(value).encode()
    return data


def encode_secret_data(data: Mapping[str, bytes]) -> dict[str, str]:
    return {key: base64.b64encode(value).decode() for key, value in data.items()}

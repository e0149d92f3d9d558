"""Reading kubeconfig files the way kubectl does, into one :class:`Connection`.

Which files is :mod:`.locate`'s business. Several files merge as client-go merges them:
for clusters, users and contexts (maps by name) the first file defining a name wins, and
``current-context`` comes from the first file setting one. Relative paths
(``certificate-authority``, ``client-certificate``, ``client-key``, ``tokenFile``, an exec
``command`` containing a ``/``) resolve against the directory of the file defining them.

The chosen context (``context=`` or ``current-context``) must name a defined cluster and, if
it names one, a defined user. What kubectl refuses is refused here too, with a message naming
the cluster or user and the field: a certificate authority given twice or together with
``insecure-skip-tls-verify``, a client certificate without its key, a token together with
a username and password. ``auth-provider`` (gcp, azure, oidc) is refused with a pointer to
exec plugins, which is what kubectl itself moved to. Messages never quote a value that may
be a secret, and YAML errors are located by line and column, not by quoting the line.
"""

from __future__ import annotations

__all__ = ["load_kubeconfig"]

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import yaml

from imageupdater.errors import InvalidKubeconfig

from .settings import (
    EXEC_API_VERSIONS,
    ClusterSettings,
    Connection,
    ExecSettings,
    PemSource,
    UserSettings,
)

_EXEC_EXTENSION = "client.authentication.k8s.io/exec"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ---- reading and merging ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    fields: Mapping[str, Any]
    base: Path  # the directory of the file that defined it


@dataclass(slots=True)
class _Merged:
    clusters: dict[str, _Entry] = field(default_factory=dict)
    users: dict[str, _Entry] = field(default_factory=dict)
    contexts: dict[str, _Entry] = field(default_factory=dict)
    current_context: str = ""


def _read(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidKubeconfig(f"{path}: not UTF-8 text") from exc
    except OSError as exc:
        raise InvalidKubeconfig(f"{path}: {(exc.strerror or str(exc)).lower()}") from exc
    try:
        document = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        problem = getattr(exc, "problem", None) or "malformed"
        # Not str(exc): it quotes the offending line, which may hold a token.
        raise InvalidKubeconfig(f"{path}: not valid YAML: {problem}{where}") from exc
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InvalidKubeconfig(
            f"{path}: not a kubeconfig (expected a mapping with clusters, users and contexts)"
        )
    return document


def _merge(documents: list[tuple[Path, Mapping[str, Any]]]) -> _Merged:
    merged = _Merged()
    for path, document in documents:
        base = path.absolute().parent
        for section, key, into in (
            ("clusters", "cluster", merged.clusters),
            ("users", "user", merged.users),
            ("contexts", "context", merged.contexts),
        ):
            entries = document.get(section)
            if entries is None:
                continue
            if not isinstance(entries, list):
                raise InvalidKubeconfig(f"{path}: {section} must be a list")
            for index, entry in enumerate(entries):
                name = entry.get("name") if isinstance(entry, dict) else None
                if not isinstance(name, str) or not name:
                    raise InvalidKubeconfig(f"{path}: {section}[{index}] has no name")
                fields = entry.get(key)
                if fields is None:
                    fields = {}
                if not isinstance(fields, dict):
                    raise InvalidKubeconfig(f"{path}: {section} {name!r}: {key} must be a mapping")
                into.setdefault(name, _Entry(fields, base))  # the first file wins
        current = document.get("current-context")
        if current is not None and not isinstance(current, str):
            raise InvalidKubeconfig(f"{path}: current-context must be a string")
        if current and not merged.current_context:
            merged.current_context = current
    return merged


def load_kubeconfig(files: list[Path], *, context: str | None = None) -> Connection:
    """The connection the files' chosen context describes (InvalidKubeconfig naming why not).

    ``files`` are readable (see :func:`readable_files`); messages do not name the files,
    the caller prefixes them."""
    merged = _merge([(path, _read(path)) for path in files])
    name = context or merged.current_context
    defined = ", ".join(sorted(merged.contexts)) or "none"
    if not name:
        if not merged.contexts:
            raise InvalidKubeconfig("it defines no context (and no current-context)")
        raise InvalidKubeconfig(
            f"no current-context is set; `kubectl config use-context NAME` sets one "
            f"(contexts: {defined})"
        )
    chosen = merged.contexts.get(name)
    if chosen is None:
        which = "context" if context else "current-context"
        raise InvalidKubeconfig(f"{which} {name!r} is not defined (contexts: {defined})")
    cluster_name = _string(chosen.fields, "cluster", f"context {name!r}")
    if not cluster_name:
        raise InvalidKubeconfig(f"context {name!r} names no cluster")
    cluster = merged.clusters.get(cluster_name)
    if cluster is None:
        raise InvalidKubeconfig(f"context {name!r}: cluster {cluster_name!r} is not defined")
    user_name = _string(chosen.fields, "user", f"context {name!r}")
    user = UserSettings(name="")
    if user_name:
        user_entry = merged.users.get(user_name)
        if user_entry is None:
            raise InvalidKubeconfig(f"context {name!r}: user {user_name!r} is not defined")
        user = _user(user_name, user_entry)
    return Connection(_cluster(cluster_name, cluster), user, origin="")


# ---- one cluster, one user -------------------------------------------------------------------


def _string(fields: Mapping[str, Any], key: str, owner: str) -> str:
    value = fields.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidKubeconfig(f"{owner}: {key} must be a string")
    return value


def _flag(fields: Mapping[str, Any], key: str, owner: str) -> bool:
    value = fields.get(key, False)
    if not isinstance(value, bool):
        raise InvalidKubeconfig(f"{owner}: {key} must be true or false")
    return value


def _path(entry: _Entry, key: str, owner: str) -> Path | None:
    value = _string(entry.fields, key, owner)
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else entry.base / path


def _data(fields: Mapping[str, Any], key: str, owner: str) -> bytes | None:
    value = _string(fields, key, owner)
    if not value:
        return None
    try:
        # Go's base64 decoder skips line breaks, so wrapped values are fine.
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidKubeconfig(f"{owner}: {key} is not base64") from exc


def _pem(entry: _Entry, key: str, owner: str) -> PemSource | None:
    """``key`` (a file) or ``key-data`` (base64 PEM): kubectl refuses both at once."""
    path = _path(entry, key, owner)
    data = _data(entry.fields, f"{key}-data", owner)
    if path is not None and data is not None:
        raise InvalidKubeconfig(f"{owner}: both {key} and {key}-data are set; keep one")
    return path if path is not None else data


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _cluster(name: str, entry: _Entry) -> ClusterSettings:
    owner = f"cluster {name!r}"
    fields = entry.fields
    server = _string(fields, "server", owner).rstrip("/")
    if not server:
        raise InvalidKubeconfig(f"{owner} has no server")
    parts = urlsplit(server)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidKubeconfig(
            f"{owner}: server {_redacted(server)!r} is not an https:// or http:// URL with a host"
        )
    authority = _pem(entry, "certificate-authority", owner)
    insecure = _flag(fields, "insecure-skip-tls-verify", owner)
    if insecure and authority is not None:
        raise InvalidKubeconfig(
            f"{owner}: insecure-skip-tls-verify together with a certificate authority is "
            "refused (as kubectl refuses it); keep one"
        )
    proxy = _string(fields, "proxy-url", owner) or None
    if proxy is not None:
        scheme = urlsplit(proxy).scheme
        if scheme.startswith("socks"):
            raise InvalidKubeconfig(
                f"{owner}: proxy-url {_redacted(proxy)!r}: SOCKS proxies are not supported; "
                "use an http:// or https:// proxy"
            )
        if scheme not in ("http", "https") or not urlsplit(proxy).hostname:
            raise InvalidKubeconfig(
                f"{owner}: proxy-url {_redacted(proxy)!r} is not an http:// or https:// URL"
            )
    exec_config = None
    for extension in fields.get("extensions") or ():
        if isinstance(extension, dict) and extension.get("name") == _EXEC_EXTENSION:
            exec_config = extension.get("extension")
    return ClusterSettings(
        name=name,
        server=server,
        certificate_authority=authority,
        insecure_skip_tls_verify=insecure,
        tls_server_name=_string(fields, "tls-server-name", owner) or None,
        proxy_url=proxy,
        exec_config=exec_config,
    )


def _user(name: str, entry: _Entry) -> UserSettings:
    owner = f"user {name!r}"
    fields = entry.fields
    provider = fields.get("auth-provider")
    if provider is not None:
        kind = provider.get("name") if isinstance(provider, dict) else None
        raise InvalidKubeconfig(
            f"{owner} uses auth-provider {kind or '(unnamed)'!r}, which is not supported "
            "(kubectl dropped its built-in providers too): configure an exec credential "
            "plugin instead, such as gke-gcloud-auth-plugin, kubelogin or "
            "`aws eks get-token`"
        )
    token = _string(fields, "token", owner) or None
    token_file = _path(entry, "tokenFile", owner)
    username = _string(fields, "username", owner) or None
    password = _string(fields, "password", owner) or None
    if (token or token_file) and (username or password):
        raise InvalidKubeconfig(
            f"{owner}: more than one authentication method (a token and a username/password); "
            "keep one"
        )
    certificate = _pem(entry, "client-certificate", owner)
    key = _pem(entry, "client-key", owner)
    if (certificate is None) != (key is None):
        missing = "client-key" if key is None else "client-certificate"
        raise InvalidKubeconfig(f"{owner}: {missing} (or {missing}-data) is missing")
    exec_fields = fields.get("exec")
    if exec_fields is not None and not isinstance(exec_fields, dict):
        raise InvalidKubeconfig(f"{owner}: exec must be a mapping")
    return UserSettings(
        name=name,
        token=token,
        token_file=token_file,
        username=username,
        password=password,
        client_certificate=certificate,
        client_key=key,
        exec=_exec(owner, exec_fields, entry.base) if exec_fields is not None else None,
        impersonate=_impersonation(owner, fields),
    )


def _exec(owner: str, fields: Mapping[str, Any], base: Path) -> ExecSettings:
    owner = f"{owner}: exec"
    command = _string(fields, "command", owner)
    if not command:
        raise InvalidKubeconfig(f"{owner}: command is missing")
    if os.sep in command and not Path(command).is_absolute():
        command = str(base / command)  # a path, not a name looked up on $PATH
    api_version = _string(fields, "apiVersion", owner)
    if api_version not in EXEC_API_VERSIONS:
        raise InvalidKubeconfig(
            f"{owner}: apiVersion {api_version or '(missing)'!r} is not supported; expected "
            f"{' or '.join(EXEC_API_VERSIONS)}"
        )
    mode = _string(fields, "interactiveMode", owner)
    if not mode and api_version.endswith("/v1"):
        raise InvalidKubeconfig(
            f"{owner}: interactiveMode is required with {api_version}; set it to Never"
        )
    if mode == "Always":
        raise InvalidKubeconfig(
            f"{owner}: interactiveMode Always needs a terminal, which image-updater never "
            "has; use Never (or IfAvailable)"
        )
    if mode not in ("", "Never", "IfAvailable"):
        raise InvalidKubeconfig(
            f"{owner}: interactiveMode {mode!r} is not Never, IfAvailable or Always"
        )
    args = fields.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise InvalidKubeconfig(f"{owner}: args must be a list of strings")
    env: list[tuple[str, str]] = []
    for item in fields.get("env") or []:
        variable = item.get("name") if isinstance(item, dict) else None
        value = item.get("value", "") if isinstance(item, dict) else None
        if not isinstance(variable, str) or not variable or not isinstance(value, str):
            raise InvalidKubeconfig(f"{owner}: each env entry needs a name and a string value")
        env.append((variable, value))
    return ExecSettings(
        command=command,
        args=tuple(args),
        env=tuple(env),
        api_version=api_version,
        install_hint=_string(fields, "installHint", owner).strip(),
        provide_cluster_info=_flag(fields, "provideClusterInfo", owner),
    )


def _impersonation(owner: str, fields: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    user = _string(fields, "as", owner)
    uid = _string(fields, "as-uid", owner)
    groups = fields.get("as-groups") or []
    extra = fields.get("as-user-extra") or {}
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise InvalidKubeconfig(f"{owner}: as-groups must be a list of strings")
    if not isinstance(extra, dict):
        raise InvalidKubeconfig(f"{owner}: as-user-extra must be a mapping")
    if not user:
        if uid or groups or extra:
            raise InvalidKubeconfig(f"{owner}: as-uid, as-groups and as-user-extra need as")
        return ()
    headers = [("Impersonate-User", user)]
    if uid:
        headers.append(("Impersonate-Uid", uid))
    headers += [("Impersonate-Group", group) for group in groups]
    for key, values in extra.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidKubeconfig(f"{owner}: as-user-extra {key!r} must be a list of strings")
        # The header name carries the key, percent-encoded as kube-apiserver decodes it.
        headers += [(f"Impersonate-Extra-{quote(str(key), safe='')}", value) for value in values]
    return tuple(headers)

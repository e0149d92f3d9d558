"""Finding the credentials of a GitOps repository for git write-back.

This module owns the two credential forms of ``write-back-method: git[:<credref>]``:

* ``repocreds`` (:func:`repository_credentials`) looks the repository up as Argo CD does:
  Secrets labelled ``argocd.argoproj.io/secret-type=repository`` in the Argo CD namespace
  whose ``url`` is the same URL after Argo CD's normalisation (:func:`normalize_repo_url`:
  case, surrounding space, one trailing ``.git``; ``git@host:x`` is ``ssh://git@host/x``; a
  trailing ``/`` or an explicit port is *not* ignored), preferring the Secret whose
  ``project`` is the Application's project over one without a project, and skipping Secrets
  scoped to another project. A repository Secret without credentials (or no Secret at all)
  takes them from the ``argocd.argoproj.io/secret-type=repo-creds`` template whose
  normalised ``url`` is the longest plain-text prefix of the repository's, filling only the
  fields the repository Secret leaves empty (``insecure`` is never inherited: templates
  have none).
* ``secret:<namespace>/<name>`` / ``secret:<name>`` (:func:`secret_credentials`) reads one
  Secret with upstream's fields; :func:`check_secret_namespace` applies the
  ``--allow-cross-namespace-secrets`` rule that pull secrets follow.

Deliberate differences from upstream:

* ``insecure`` defaults to off for ``secret:`` credentials too (upstream hard-codes TLS and
  host-key checking off for them); an ``insecure`` value that is not a boolean is an error.
* A repository Secret that matches but holds no credentials, with no template to fill them,
  means an anonymous repository (``GitCredentials.is_anonymous``): the operator registered it
  with Argo CD as public, and Argo CD itself clones it anonymously. Upstream refuses it; with
  nothing registered at all we refuse too, naming where we looked. An SSH URL is never
  anonymous.
* What one Secret holds must be complete and unambiguous: a username without a password, a
  GitHub App without its installation ID, a certificate without its key, an SSH URL without
  ``sshPrivateKey`` are errors naming the Secret and the field; credential kinds git
  write-back cannot use (bearer tokens, GCP and Azure keys) are named, not silently dropped.
* A password or app token is never sent over plain ``http://`` unless the Secret says
  ``insecure: "true"``.

Secrets stay out of messages: errors name the Secret, the field and what would be accepted,
never a value, and URLs are shown without their password. ``GitCredentials`` hides its
secrets from ``repr``. What the caller should report (a skipped project-scoped Secret, an
ambiguous match, ignored fields) is in ``GitCredentials.notes``; ``insecure`` is for the
caller to warn about itself.

``KubeGitSecrets`` is the ``GitSecrets`` protocol over ``imageupdater.kube.KubeClient``.
"""

from __future__ import annotations

__all__ = [
    "ARGOCD_SSH_KNOWN_HOSTS_CONFIGMAP",
    "CONFIG_MAPS",
    "REPOSITORY_SELECTOR",
    "REPO_CREDS_SELECTOR",
    "SECRET_TYPE_LABEL",
    "SSH_KNOWN_HOSTS_KEY",
    "UPSTREAM_KNOWN_HOSTS_PATH",
    "GitCredentials",
    "GitSecrets",
    "KubeGitSecrets",
    "check_secret_namespace",
    "is_ssh_url",
    "normalize_repo_url",
    "repository_credentials",
    "same_repo_url",
    "secret_credentials",
    "ssh_known_hosts",
]

import asyncio
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import re2

from imageupdater import kube
from imageupdater.credentials import CredentialRules
from imageupdater.errors import CredentialError, InvalidInput, KubeForbidden, KubeNotFound

SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"  # noqa: S105 (a label key)
REPOSITORY_SELECTOR = f"{SECRET_TYPE_LABEL}=repository"
REPO_CREDS_SELECTOR = f"{SECRET_TYPE_LABEL}=repo-creds"
ARGOCD_SSH_KNOWN_HOSTS_CONFIGMAP = "argocd-ssh-known-hosts-cm"
SSH_KNOWN_HOSTS_KEY = "ssh_known_hosts"
# Where upstream's Deployment mounts that ConfigMap.
UPSTREAM_KNOWN_HOSTS_PATH = "/app/config/ssh/ssh_known_hosts"
CONFIG_MAPS = kube.Resource("", "v1", "configmaps")

# Argo CD's (util/git) test for an SSH URL, on which its normalisation depends.
_ARGOCD_SSH = re2.compile(r"^(ssh://)?([^/:]*?)@[^@]+$")
# Go's strconv.ParseBool, which Argo CD uses for its boolean Secret fields.
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_BOOLEANS = '"true" or "false" (also 1/0, t/f, TRUE/FALSE, True/False)'
# Go's url.URL.EscapedPath: characters a path keeps as written, and those it may carry
# when it is already validly encoded.
_PATH_KEEPS = frozenset(string.ascii_letters + string.digits + "-_.~$&+,/:;=@")
_PATH_ENCODED = _PATH_KEEPS | frozenset("!'()*[]%")
_HOST_CHARS = frozenset(string.ascii_lowercase + string.digits + "-._~!$&'()*+,;=%[]:")
_UNSUPPORTED = {
    "bearerToken": "a bearer token",
    "gcpServiceAccountKey": "a GCP service account key",
    "azureServicePrincipalClientSecret": "an Azure service principal",
    "useAzureWorkloadIdentity": "Azure workload identity",
}
_PROXY_SCHEMES = ("http", "https", "socks4", "socks5", "socks5h")
_APP_FIELDS = ("githubAppID", "githubAppInstallationID", "githubAppPrivateKey")
_HTTPS_FIELDS = ("username", "password", *_APP_FIELDS, "tlsClientCertData", "tlsClientCertKey")
_ALL_CREDENTIAL_FIELDS = (*_HTTPS_FIELDS, "sshPrivateKey", *_UNSUPPORTED)


# -- the value -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GitCredentials:
    """How to authenticate to one git repository; build with the functions of this module.

    At most one kind is set: ``username``/``password`` (HTTPS), ``ssh_private_key`` (SSH),
    the ``github_app_*`` fields (HTTPS, a GitHub App installation token), or none (anonymous).
    ``tls_client_cert``/``tls_client_key`` (PEM) may accompany an HTTPS kind or stand alone.
    ``insecure`` turns TLS verification (HTTPS) or host-key checking (SSH) off: the caller
    reports it as a warning. ``source`` describes where the credentials came from, for
    messages; ``notes`` are things the caller should log.
    """

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssh_private_key: str | None = field(default=None, repr=False)
    github_app_id: str | None = None
    github_app_installation_id: str | None = None
    github_app_private_key: str | None = field(default=None, repr=False)
    github_app_enterprise_base_url: str | None = None
    tls_client_cert: str | None = field(default=None, repr=False)
    tls_client_key: str | None = field(default=None, repr=False)
    insecure: bool = False
    proxy: str | None = field(default=None, repr=False)
    source: str = "no credentials"
    notes: tuple[str, ...] = ()

    @property
    def is_ssh(self) -> bool:
        return self.ssh_private_key is not None

    @property
    def is_github_app(self) -> bool:
        return self.github_app_private_key is not None

    @property
    def is_anonymous(self) -> bool:
        return (
            self.password is None
            and self.ssh_private_key is None
            and self.github_app_private_key is None
            and self.tls_client_cert is None
        )

    @property
    def kind(self) -> str:
        """What authenticates: ``ssh key``, ``github app``, ``password``, ``tls client
        certificate`` or ``anonymous``."""
        if self.is_ssh:
            return "ssh key"
        if self.is_github_app:
            return "github app"
        if self.password is not None:
            return "password"
        if self.tls_client_cert is not None:
            return "tls client certificate"
        return "anonymous"

    def __repr__(self) -> str:
        shown = [f"kind={self.kind!r}", f"source={self.source!r}"]
        if self.username is not None:
            shown.append(f"username={self.username!r}")
        if self.github_app_id is not None:
            shown.append(f"github_app_id={self.github_app_id!r}")
            shown.append(f"github_app_installation_id={self.github_app_installation_id!r}")
        if self.tls_client_cert is not None and self.kind != "tls client certificate":
            shown.append("tls_client_cert=<set>")
        if self.proxy is not None:
            shown.append("proxy=<set>")
        if self.insecure:
            shown.append("insecure=True")
        return f"GitCredentials({', '.join(shown)})"

    __str__ = __repr__


# -- reading Kubernetes --------------------------------------------------------------------


class GitSecrets(Protocol):
    """What the lookups read. Missing or forbidden objects raise ``CredentialError``
    (``read_config_map`` answers None for a missing ConfigMap); transient API failures stay
    ``KubeError`` (``transient``), so a caller backs off instead of giving up."""

    async def read_secret(self, namespace: str, name: str) -> Mapping[str, bytes]: ...

    async def list_secrets(
        self, namespace: str, label_selector: str
    ) -> list[Mapping[str, Any]]: ...

    async def read_config_map(self, namespace: str, name: str) -> Mapping[str, str] | None: ...


def _forbidden(verb: str, plural: str, namespace: str, what: str) -> CredentialError:
    return CredentialError(
        f"not allowed to {what}: the updater's service account needs RBAC permission to "
        f"'{verb}' '{plural}' in namespace '{namespace}'"
    )


class KubeGitSecrets:
    """``GitSecrets`` over the Kubernetes API (``list_secrets`` returns raw Secret JSON)."""

    def __init__(self, client: kube.KubeClient) -> None:
        self._client = client

    async def read_secret(self, namespace: str, name: str) -> Mapping[str, bytes]:
        try:
            secret = await self._client.get(kube.SECRETS, namespace, name)
        except KubeNotFound:
            raise CredentialError(f"secret {namespace}/{name} not found") from None
        except KubeForbidden:
            what = f"read secret {namespace}/{name}"
            raise _forbidden("get", "secrets", namespace, what) from None
        return kube.decode_secret_data(secret)

    async def list_secrets(self, namespace: str, label_selector: str) -> list[Mapping[str, Any]]:
        try:
            listed = await self._client.list(kube.SECRETS, namespace, label_selector=label_selector)
        except KubeNotFound:
            return []  # no such namespace: nothing is labelled there
        except KubeForbidden:
            what = f"list secrets labelled {label_selector} in namespace '{namespace}'"
            raise _forbidden("list", "secrets", namespace, what) from None
        items = listed.get("items")
        if not isinstance(items, list):
            return []
        return [item for item in items if isinstance(item, Mapping)]

    async def read_config_map(self, namespace: str, name: str) -> Mapping[str, str] | None:
        try:
            config_map = await self._client.get(CONFIG_MAPS, namespace, name)
        except KubeNotFound:
            return None
        except KubeForbidden:
            what = f"read ConfigMap {namespace}/{name}"
            raise _forbidden("get", "configmaps", namespace, what) from None
        data = config_map.get("data")
        if not isinstance(data, Mapping):
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


# -- URLs ----------------------------------------------------------------------------------


def is_ssh_url(url: str) -> bool:
    """Whether git reaches ``url`` over SSH: ``ssh://…``, ``user@host:path`` (Argo CD's
    rule) or an scp-like ``host:path`` without a user."""
    text = url.strip()
    if _ARGOCD_SSH.search(text) is not None:
        return True
    if text.lower().startswith(("ssh://", "git+ssh://", "ssh+git://")):
        return True
    if "://" in text:
        return False
    colon, slash = text.find(":"), text.find("/")
    return colon > 0 and (slash == -1 or colon < slash)


def normalize_repo_url(url: str) -> str:
    """Argo CD's ``NormalizeGitURL``: the form two URLs of one repository share.

    Lower case, surrounding space removed, one trailing ``.git`` removed, ``[user@]host:path``
    rewritten as ``user@host/path`` and ``ssh://`` dropped, the path escaped as Go's
    ``net/url`` does. A trailing ``/`` and an explicit port stay. ``""`` when the URL cannot
    be parsed (Argo CD then matches nothing).
    """
    repo = url.strip().lower()
    if _ARGOCD_SSH.search(repo) is not None and not repo.startswith("ssh://"):
        repo = "ssh://" + repo.replace(":", "/", 1)
    repo = repo.removesuffix(".git")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in repo):
        return ""
    try:
        parts = urlsplit(repo)
    except ValueError:
        return ""
    path = _go_escaped_path(parts.path)
    if path is None:
        return ""
    if parts.scheme and repo[len(parts.scheme) :].startswith("://"):
        if not _valid_authority(parts.netloc):
            return ""
        normalized = f"{parts.scheme}://{parts.netloc}{path}"
    elif parts.scheme:
        normalized = f"{parts.scheme}:{path}"
    else:
        normalized = path
    if parts.query or repo.endswith("?"):
        normalized += f"?{parts.query}"
    if parts.fragment:
        normalized += f"#{parts.fragment}"
    return normalized.removeprefix("ssh://")


def same_repo_url(left: str, right: str) -> bool:
    """Argo CD's ``SameURL``: both normalise, to the same text."""
    normal_left = normalize_repo_url(left)
    return normal_left != "" and normal_left == normalize_repo_url(right)


def _go_escaped_path(path: str) -> str | None:
    raw = path.encode()
    decoded = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == ord("%"):
            pair = raw[i + 1 : i + 3]
            if len(pair) != 2 or not all(chr(b) in string.hexdigits for b in pair):
                return None  # Go's url.Parse refuses a broken escape
            decoded.append(int(pair, 16))
            i += 3
        else:
            decoded.append(raw[i])
            i += 1
    if all(ch in _PATH_ENCODED for ch in path):
        return path
    return "".join(chr(b) if chr(b) in _PATH_KEEPS else f"%{b:02X}" for b in decoded)


def _valid_authority(netloc: str) -> bool:
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        closing = host.find("]")
        if closing == -1:
            return False
        port_part = host[closing + 1 :]
        if port_part and not port_part.startswith(":"):
            return False
    else:
        _, colon, port = host.rpartition(":")
        port_part = f":{port}" if colon else ""
    if port_part and not port_part[1:].isdigit() and port_part != ":":
        return False
    return all(ch in _HOST_CHARS for ch in host)


def _shown(url: str) -> str:
    """``url`` without the password of its userinfo, for messages."""
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return "<unparseable URL>"
    userinfo, at, host = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        return parts._replace(netloc=f"{userinfo.partition(':')[0]}@{host}").geturl()
    return text


# -- the cross-namespace rule --------------------------------------------------------------


def check_secret_namespace(
    app_namespace: str, secret_namespace: str | None, rules: CredentialRules
) -> str:
    """The namespace to read a ``git:secret:`` Secret from: the Application's unless the
    reference names one, which must be the Application's unless the operator allows
    ``--allow-cross-namespace-secrets``. Raises ``InvalidInput``."""
    if not secret_namespace:
        if not app_namespace:
            raise InvalidInput(
                "git credentials 'git:secret:<name>' read a secret in the Application's "
                "namespace, but the Application has none; use git:secret:<namespace>/<name>"
            )
        return app_namespace
    scope = rules.secret_scope(app_namespace)
    if scope is not None and secret_namespace != scope:
        raise InvalidInput(
            f"git credentials 'git:secret:{secret_namespace}/<name>' read a secret in namespace "
            f"'{secret_namespace}', but an Application may only use secrets of its own "
            f"namespace '{scope}' (an operator can allow others with "
            "--allow-cross-namespace-secrets)"
        )
    return secret_namespace


# -- reading credential fields -------------------------------------------------------------


class _Fields:
    """One Secret's decoded data, read field by field with messages naming ``where``."""

    def __init__(self, data: Mapping[str, bytes], where: str) -> None:
        self.data = data
        self.where = where

    def has(self, key: str) -> bool:
        value = self.data.get(key)
        return value is not None and value.strip() != b""

    def text(self, key: str, *, line: bool = True) -> str | None:
        """The field as text, or None when absent or blank; ``line`` drops one trailing
        newline (``kubectl create secret --from-file`` leaves one) and refuses others."""
        raw = self.data.get(key)
        if raw is None or raw.strip() == b"":
            return None
        try:
            value = raw.decode()
        except UnicodeDecodeError:
            raise CredentialError(f"field {key!r} of {self.where} is not valid UTF-8") from None
        if not line:
            return value
        value = value.removesuffix("\n").removesuffix("\r")
        if "\n" in value or "\r" in value:
            raise CredentialError(
                f"field {key!r} of {self.where} must be one line (value not shown)"
            )
        return value

    def flag(self, key: str) -> bool:
        value = self.text(key)
        if value is None:
            return False
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise CredentialError(
            f"field {key!r} of {self.where} is not a boolean (value not shown); "
            f"expected {_BOOLEANS}"
        )

    def app_id(self, key: str) -> str | None:
        value = self.text(key)
        if value is not None and not (value.isascii() and value.isdigit() and int(value) > 0):
            raise CredentialError(
                f"field {key!r} of {self.where} must be a positive integer (value not shown)"
            )
        return value

    def pem(self, key: str, marker: str, expected: str) -> str | None:
        value = self.text(key, line=False)
        if value is None:
            return None
        if "-----BEGIN " not in value or marker not in value:
            raise CredentialError(
                f"field {key!r} of {self.where} is not {expected} (value not shown)"
            )
        # ssh and git read key files line by line: the last line must end.
        return value if value.endswith("\n") else value + "\n"

    def missing(self, key: str, because: str) -> CredentialError:
        present = ", ".join(sorted(k for k in self.data if self.has(k))) or "none"
        return CredentialError(
            f"{self.where} has no field {key!r}, which {because} (fields present: {present})"
        )


_PRIVATE_KEY = ("PRIVATE KEY-----", "a PEM or OpenSSH private key")
_CERTIFICATE = ("CERTIFICATE-----", "a PEM certificate")


def _proxy(fields: _Fields) -> str | None:
    value = fields.text("proxy")
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
    if host is None or parts.scheme.lower() not in _PROXY_SCHEMES:
        raise CredentialError(
            f"field 'proxy' of {fields.where} is not a proxy URL (value not shown); expected "
            f"<scheme>://<host>[:<port>] with a scheme of {', '.join(_PROXY_SCHEMES)}"
        )
    return value


def _tls_pair(fields: _Fields) -> tuple[str | None, str | None]:
    cert = fields.pem("tlsClientCertData", *_CERTIFICATE)
    key = fields.pem("tlsClientCertKey", *_PRIVATE_KEY)
    if cert is not None and key is None:
        raise fields.missing("tlsClientCertKey", "a client certificate (tlsClientCertData) needs")
    if key is not None and cert is None:
        raise fields.missing("tlsClientCertData", "a client key (tlsClientCertKey) needs")
    return cert, key


def _github_app(fields: _Fields) -> GitCredentials | None:
    if not any(fields.has(k) for k in _APP_FIELDS):
        return None
    for key in _APP_FIELDS:
        if not fields.has(key):
            raise fields.missing(key, "GitHub App credentials need")
    base_url = fields.text("githubAppEnterpriseBaseUrl")
    if base_url is not None:
        parts = urlsplit(base_url)
        if parts.scheme.lower() not in ("https", "http") or not parts.netloc:
            raise CredentialError(
                f"field 'githubAppEnterpriseBaseUrl' of {fields.where} is not a URL; "
                "expected https://<host>/api/v3"
            )
    return GitCredentials(
        github_app_id=fields.app_id("githubAppID"),
        github_app_installation_id=fields.app_id("githubAppInstallationID"),
        github_app_private_key=fields.pem("githubAppPrivateKey", *_PRIVATE_KEY),
        github_app_enterprise_base_url=base_url,
    )


def _password(fields: _Fields) -> GitCredentials | None:
    if not fields.has("username") and not fields.has("password"):
        return None
    if not fields.has("password"):
        raise fields.missing("password", "a username needs")
    if not fields.has("username"):
        raise fields.missing("username", "a password needs")
    return GitCredentials(username=fields.text("username"), password=fields.text("password"))


def _refuse_unsupported(fields: _Fields) -> None:
    for key, what in _UNSUPPORTED.items():
        if fields.has(key):
            raise CredentialError(
                f"{fields.where} holds {what} (field {key!r}), which git write-back cannot "
                "use; use username and password, sshPrivateKey or a GitHub App"
            )


def _from_fields(
    fields: _Fields,
    repo_url: str,
    *,
    insecure: bool,
    strict_kinds: bool,
    anonymous_ok: bool,
    notes: tuple[str, ...] = (),
) -> GitCredentials:
    """Credentials for ``repo_url`` from one (possibly merged) set of fields.

    ``strict_kinds``: a Secret holding both a password and a GitHub App is an error (for
    ``secret:``); otherwise Argo CD's order (password first) decides and a note says so.
    ``anonymous_ok``: no credential fields at all means anonymous (a registered public
    repository), for any URL but an SSH one.
    """
    source = fields.where
    proxy = _proxy(fields)
    shown = _shown(repo_url)
    if is_ssh_url(repo_url):
        key = fields.pem("sshPrivateKey", *_PRIVATE_KEY)
        if key is None:
            raise fields.missing("sshPrivateKey", f"the SSH URL {shown} needs")
        ignored = sorted(k for k in _HTTPS_FIELDS if fields.has(k))
        if ignored:
            notes += (f"{source}: {', '.join(ignored)} ignored for the SSH URL {shown}",)
        return GitCredentials(
            ssh_private_key=key, insecure=insecure, proxy=proxy, source=source, notes=notes
        )
    lowered = repo_url.strip().lower()
    if not lowered.startswith(("https://", "http://")):
        if anonymous_ok and not any(fields.has(k) for k in _ALL_CREDENTIAL_FIELDS):
            return GitCredentials(source=source, insecure=insecure, proxy=proxy, notes=notes)
        raise CredentialError(
            f"{source}: credentials can only be used with an https:// or SSH repository URL, "
            f"not {shown}"
        )
    if fields.has("sshPrivateKey"):
        notes += (f"{source}: sshPrivateKey ignored for the HTTPS URL {shown}",)
    _refuse_unsupported(fields)
    password = _password(fields)
    app: GitCredentials | None = None
    if password is None:
        app = _github_app(fields)
    elif any(fields.has(k) for k in _APP_FIELDS):
        if strict_kinds:
            raise CredentialError(
                f"{source} holds both username/password and GitHub App fields; keep one kind"
            )
        notes += (f"{source}: username/password used, the GitHub App fields ignored",)
    cert, cert_key = _tls_pair(fields)
    chosen = password or app
    if chosen is None and cert is None:
        if anonymous_ok:
            return GitCredentials(source=source, insecure=insecure, proxy=proxy, notes=notes)
        raise CredentialError(
            f"{source} holds no credentials for {shown}: expected username and password, "
            "githubAppID with githubAppInstallationID and githubAppPrivateKey, or "
            "tlsClientCertData with tlsClientCertKey"
        )
    if lowered.startswith("http://") and not insecure:
        raise CredentialError(
            f"{source}: refusing to send credentials unencrypted to {shown}; use an https:// "
            'URL (or set insecure: "true" in the Secret to allow it)'
        )
    base = chosen or GitCredentials()
    return GitCredentials(
        username=base.username,
        password=base.password,
        github_app_id=base.github_app_id,
        github_app_installation_id=base.github_app_installation_id,
        github_app_private_key=base.github_app_private_key,
        github_app_enterprise_base_url=base.github_app_enterprise_base_url,
        tls_client_cert=cert,
        tls_client_key=cert_key,
        insecure=insecure,
        proxy=proxy,
        source=source,
        notes=notes,
    )


# -- git:secret: ---------------------------------------------------------------------------


async def secret_credentials(
    namespace: str, name: str, *, repo_url: str, secrets: GitSecrets
) -> GitCredentials:
    """The credentials ``git:secret:<namespace>/<name>`` names, for ``repo_url``.

    An SSH URL needs ``sshPrivateKey``; an HTTPS URL ``username`` + ``password``, or
    ``githubAppID`` + ``githubAppInstallationID`` + ``githubAppPrivateKey`` (optionally
    ``githubAppEnterpriseBaseUrl``), or a client certificate alone; ``tlsClientCertData`` +
    ``tlsClientCertKey``, ``proxy`` and ``insecure`` may accompany either. Raises
    ``CredentialError`` naming the Secret and the field, never a value.
    """
    fields = _Fields(await secrets.read_secret(namespace, name), f"secret {namespace}/{name}")
    return _from_fields(
        fields,
        repo_url,
        insecure=fields.flag("insecure"),
        strict_kinds=True,
        anonymous_ok=False,
    )


# -- git:repocreds -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Labelled:
    name: str
    url: str
    project: str
    data: Mapping[str, bytes]


def _labelled(raw: Mapping[str, Any]) -> _Labelled:
    metadata = raw.get("metadata")
    name = str(metadata.get("name", "")) if isinstance(metadata, Mapping) else ""
    data = kube.decode_secret_data(raw)
    return _Labelled(
        name=name,
        url=data.get("url", b"").decode(errors="replace"),
        project=data.get("project", b"").decode(errors="replace").strip(),
        data=data,
    )


# Argo CD's Repository.HasCredentials: a repository Secret with any of these takes nothing
# from a template.
_HAS_CREDENTIALS = (
    "username",
    "password",
    "bearerToken",
    "sshPrivateKey",
    "tlsClientCertData",
    "githubAppPrivateKey",
    "azureServicePrincipalClientSecret",
)
# What Repository.CopyCredentialsFrom fills in from a template where the repository is empty.
_INHERITED = (
    "username",
    "password",
    "bearerToken",
    "sshPrivateKey",
    "tlsClientCertData",
    "tlsClientCertKey",
    "githubAppPrivateKey",
    "githubAppID",
    "githubAppInstallationID",
    "githubAppEnterpriseBaseUrl",
    "gcpServiceAccountKey",
    "azureServicePrincipalClientSecret",
    "proxy",
)


def _has_credentials(data: Mapping[str, bytes]) -> bool:
    if any(data.get(k, b"").strip() for k in _HAS_CREDENTIALS):
        return True
    return data.get("useAzureWorkloadIdentity", b"").strip().decode(errors="replace") in _TRUE


async def repository_credentials(
    repo_url: str, *, project: str, argocd_namespace: str, secrets: GitSecrets
) -> GitCredentials:
    """The credentials Argo CD has for ``repo_url`` in the Application's ``project``.

    See the module docstring for the rules. Raises ``CredentialError`` naming the URL, the
    project and where it looked when Argo CD knows nothing of the repository.
    """
    shown = _shown(repo_url)
    if normalize_repo_url(repo_url) == "":
        raise CredentialError(
            f"the repository URL {shown!r} cannot be matched against Argo CD's repository "
            "Secrets: it does not parse as a URL"
        )
    notes: list[str] = []
    listed = await secrets.list_secrets(argocd_namespace, REPOSITORY_SELECTOR)
    candidates = sorted(
        (s for s in map(_labelled, listed) if same_repo_url(s.url, repo_url)),
        key=lambda s: s.name,
    )
    own = [s for s in candidates if s.project == project]
    shared = [s for s in candidates if s.project == ""]
    others = [s for s in candidates if s.project not in ("", project)]
    for other in others:
        notes.append(
            f"repository secret {argocd_namespace}/{other.name} has the URL {shown} but "
            f"belongs to project '{other.project}', not '{project}'; it is not used"
        )
    pool = own or shared
    chosen = pool[0] if pool else None
    if len(pool) > 1:
        notes.append(
            f"{len(pool)} repository secrets in namespace '{argocd_namespace}' match {shown} "
            f"for project '{project}' ({', '.join(s.name for s in pool)}); using {pool[0].name}"
        )
    data: dict[str, bytes] = dict(chosen.data) if chosen is not None else {}
    source = f"repository secret {argocd_namespace}/{chosen.name}" if chosen else ""
    template = None
    if not _has_credentials(data):
        template = await _template(repo_url, argocd_namespace, secrets, notes)
        if template is not None:
            for key in _INHERITED:
                if not data.get(key, b"").strip() and template.data.get(key, b"").strip():
                    data[key] = template.data[key]
            inherited = f"credential template {argocd_namespace}/{template.name}"
            source = f"{source} with {inherited}" if source else inherited
    if chosen is None and template is None:
        skipped = (
            f" (skipped, scoped to other projects: {', '.join(s.name for s in others)})"
            if others
            else ""
        )
        raise CredentialError(
            f"no Argo CD credentials for repository {shown} in project '{project}': no Secret "
            f"labelled {REPOSITORY_SELECTOR} in namespace '{argocd_namespace}' has this URL"
            f"{skipped}, and no {REPO_CREDS_SELECTOR} template there has a URL it starts with; "
            "add one, or name a Secret with write-back-method git:secret:<name>"
        )
    # Only the repository Secret's own flags count: Argo CD does not inherit them.
    own_fields = _Fields(chosen.data if chosen else {}, source)
    insecure = own_fields.flag("insecure")
    ignore_host_key = own_fields.flag("insecureIgnoreHostKey")
    return _from_fields(
        _Fields(data, source),
        repo_url,
        insecure=insecure or ignore_host_key,
        strict_kinds=False,
        anonymous_ok=chosen is not None and template is None,
        notes=tuple(notes),
    )


async def _template(
    repo_url: str, namespace: str, secrets: GitSecrets, notes: list[str]
) -> _Labelled | None:
    normalized = normalize_repo_url(repo_url)
    listed = sorted(
        map(_labelled, await secrets.list_secrets(namespace, REPO_CREDS_SELECTOR)),
        key=lambda s: s.name,
    )
    best: _Labelled | None = None
    best_length = 0
    tied: list[str] = []
    for template in listed:
        prefix = normalize_repo_url(template.url)
        if not prefix or not normalized.startswith(prefix):
            continue
        if len(prefix) > best_length:
            best, best_length, tied = template, len(prefix), []
        elif len(prefix) == best_length:
            tied.append(template.name)
    if best is not None and tied:
        notes.append(
            f"credential templates {', '.join([best.name, *tied])} in namespace '{namespace}' "
            f"match {_shown(repo_url)} equally well; using {best.name}"
        )
    return best


# -- SSH known hosts -----------------------------------------------------------------------


async def ssh_known_hosts(
    argocd_namespace: str, secrets: GitSecrets, *, mounted_path: str | None = None
) -> str | None:
    """The known_hosts text for SSH: key ``ssh_known_hosts`` of ConfigMap
    ``argocd-ssh-known-hosts-cm`` in the Argo CD namespace, else the file at ``mounted_path``
    (upstream mounts it at ``UPSTREAM_KNOWN_HOSTS_PATH``), else None (no host is trusted)."""
    data = await secrets.read_config_map(argocd_namespace, ARGOCD_SSH_KNOWN_HOSTS_CONFIGMAP)
    text = (data or {}).get(SSH_KNOWN_HOSTS_KEY)
    if text is not None and text.strip():
        return text
    if mounted_path is None:
        return None
    try:
        text = await asyncio.to_thread(Path(mounted_path).read_text, encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise CredentialError(
            f"cannot read the SSH known hosts file {mounted_path}: {reason}"
        ) from exc
    return text if text.strip() else None

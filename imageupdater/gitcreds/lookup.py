"""The two git credential lookups: ``git:repocreds`` (Argo CD's repository Secrets and
credential templates) and ``git:secret:`` (one Secret, with the cross-namespace rule), and
where SSH known hosts come from."""

from __future__ import annotations

__all__ = [
    "ARGOCD_SSH_KNOWN_HOSTS_CONFIGMAP",
    "REPOSITORY_SELECTOR",
    "REPO_CREDS_SELECTOR",
    "SECRET_TYPE_LABEL",
    "SSH_KNOWN_HOSTS_KEY",
    "UPSTREAM_KNOWN_HOSTS_PATH",
    "check_secret_namespace",
    "repository_credentials",
    "secret_credentials",
    "ssh_known_hosts",
]

import asyncio
import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imageupdater.credentials import CredentialRules
from imageupdater.errors import CredentialError, InvalidInput
from imageupdater.gitcreds.fields import TRUE, Fields, credentials_from
from imageupdater.gitcreds.reading import GitSecrets
from imageupdater.gitcreds.urls import normalize_repo_url, same_repo_url, shown_url
from imageupdater.gitcreds.value import GitCredentials

SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"  # noqa: S105 (a label key)
REPOSITORY_SELECTOR = f"{SECRET_TYPE_LABEL}=repository"
REPO_CREDS_SELECTOR = f"{SECRET_TYPE_LABEL}=repo-creds"
ARGOCD_SSH_KNOWN_HOSTS_CONFIGMAP = "argocd-ssh-known-hosts-cm"
SSH_KNOWN_HOSTS_KEY = "ssh_known_hosts"
# Where upstream's Deployment mounts that ConfigMap.
UPSTREAM_KNOWN_HOSTS_PATH = "/app/config/ssh/ssh_known_hosts"


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
    fields = Fields(await secrets.read_secret(namespace, name), f"secret {namespace}/{name}")
    return credentials_from(
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
    data = _decoded(raw)
    return _Labelled(
        name=name,
        url=data.get("url", b"").decode(errors="replace"),
        project=data.get("project", b"").decode(errors="replace").strip(),
        data=data,
    )


def _decoded(raw: Mapping[str, Any]) -> dict[str, bytes]:
    """A listed Secret's ``data`` (base64) and ``stringData``; undecodable values are left
    out, as the API server never serves them."""
    decoded: dict[str, bytes] = {}
    data = raw.get("data")
    for key, value in data.items() if isinstance(data, Mapping) else ():
        try:
            decoded[str(key)] = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            continue
    string_data = raw.get("stringData")
    for key, value in string_data.items() if isinstance(string_data, Mapping) else ():
        decoded[str(key)] = str(value).encode()
    return decoded


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
    return data.get("useAzureWorkloadIdentity", b"").strip().decode(errors="replace") in TRUE


async def repository_credentials(
    repo_url: str, *, project: str, argocd_namespace: str, secrets: GitSecrets
) -> GitCredentials:
    """The credentials Argo CD has for ``repo_url`` in the Application's ``project``.

    See the module docstring for the rules. Raises ``CredentialError`` naming the URL, the
    project and where it looked when Argo CD knows nothing of the repository.
    """
    shown = shown_url(repo_url)
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
    own_fields = Fields(chosen.data if chosen else {}, source)
    insecure = own_fields.flag("insecure")
    ignore_host_key = own_fields.flag("insecureIgnoreHostKey")
    return credentials_from(
        Fields(data, source),
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
            f"match {shown_url(repo_url)} equally well; using {best.name}"
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

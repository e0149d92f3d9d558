"""Reading one Secret's credential fields into ``GitCredentials``: each field checked, the
kind chosen by the repository URL, every refusal naming the Secret and the field, never a
value."""

from __future__ import annotations

__all__ = ["TRUE", "Fields", "credentials_from"]

from collections.abc import Mapping
from urllib.parse import urlsplit

from imageupdater.errors import CredentialError
from imageupdater.gitcreds.urls import is_ssh_url, shown_url
from imageupdater.gitcreds.value import GitCredentials

# Go's strconv.ParseBool, which Argo CD uses for its boolean Secret fields.
TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_BOOLEANS = '"true" or "false" (also 1/0, t/f, TRUE/FALSE, True/False)'
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


class Fields:
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
        if value in TRUE:
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


def _proxy(fields: Fields) -> str | None:
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


def _tls_pair(fields: Fields) -> tuple[str | None, str | None]:
    cert = fields.pem("tlsClientCertData", *_CERTIFICATE)
    key = fields.pem("tlsClientCertKey", *_PRIVATE_KEY)
    if cert is not None and key is None:
        raise fields.missing("tlsClientCertKey", "a client certificate (tlsClientCertData) needs")
    if key is not None and cert is None:
        raise fields.missing("tlsClientCertData", "a client key (tlsClientCertKey) needs")
    return cert, key


def _github_app(fields: Fields) -> GitCredentials | None:
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


def _password(fields: Fields) -> GitCredentials | None:
    if not fields.has("username") and not fields.has("password"):
        return None
    if not fields.has("password"):
        raise fields.missing("password", "a username needs")
    if not fields.has("username"):
        raise fields.missing("username", "a password needs")
    return GitCredentials(username=fields.text("username"), password=fields.text("password"))


def _refuse_unsupported(fields: Fields) -> None:
    for key, what in _UNSUPPORTED.items():
        if fields.has(key):
            raise CredentialError(
                f"{fields.where} holds {what} (field {key!r}), which git write-back cannot "
                "use; use username and password, sshPrivateKey or a GitHub App"
            )


def credentials_from(
    fields: Fields,
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
    shown = shown_url(repo_url)
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

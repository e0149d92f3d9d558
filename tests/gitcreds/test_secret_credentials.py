"""git:secret:<namespace>/<name>: every field combination upstream reads, what each yields,
and the refusals (naming the Secret and the field, never a value)."""

from __future__ import annotations

import pytest

from imageupdater.errors import CredentialError
from imageupdater.gitcreds import GitCredentials, secret_credentials
from tests.gitcreds.fakes import (
    APP_KEY,
    PASSWORD,
    PROXY,
    SSH_KEY,
    TLS_CERT,
    TLS_KEY,
    USERNAME,
    MemorySecrets,
    assert_no_secret,
    in_namespace,
    secret,
)

HTTPS = "https://git.example.com/team/deploy.git"
SSH = "git@git.example.com:team/deploy.git"
APP = {
    "githubAppID": "123",
    "githubAppInstallationID": "456",
    "githubAppPrivateKey": APP_KEY,
}


async def read(fields: dict[str, str], url: str = HTTPS) -> GitCredentials:
    body = in_namespace(secret("git-creds", fields), "team")
    return await secret_credentials(
        "team", "git-creds", repo_url=url, secrets=MemorySecrets([body])
    )


async def refusal(fields: dict[str, str], url: str = HTTPS) -> str:
    with pytest.raises(CredentialError) as caught:
        await read(fields, url)
    message = str(caught.value)
    assert_no_secret(message)
    assert "secret team/git-creds" in message
    return message


async def test_username_and_password_with_certificate_and_proxy() -> None:
    credentials = await read(
        {
            "username": USERNAME,
            "password": PASSWORD,
            "tlsClientCertData": TLS_CERT,
            "tlsClientCertKey": TLS_KEY,
            "proxy": PROXY,
        }
    )
    assert (credentials.username, credentials.password) == (USERNAME, PASSWORD)
    assert (credentials.tls_client_cert, credentials.tls_client_key) == (TLS_CERT, TLS_KEY)
    assert credentials.proxy == PROXY
    assert credentials.kind == "password" and credentials.source == "secret team/git-creds"
    assert not credentials.insecure  # upstream hard-codes insecure here; we verify by default


async def test_a_github_app_with_enterprise_url_certificate_proxy_and_insecure() -> None:
    credentials = await read(
        {
            **APP,
            "githubAppEnterpriseBaseUrl": "https://ghe.example.com/api/v3",
            "tlsClientCertData": TLS_CERT,
            "tlsClientCertKey": TLS_KEY,
            "insecure": "true",
            "proxy": "https://proxy.example.com",
        }
    )
    assert credentials.is_github_app and credentials.kind == "github app"
    assert credentials.github_app_id == "123"
    assert credentials.github_app_installation_id == "456"
    assert credentials.github_app_private_key == APP_KEY
    assert credentials.github_app_enterprise_base_url == "https://ghe.example.com/api/v3"
    assert credentials.tls_client_cert == TLS_CERT
    assert credentials.insecure and credentials.proxy == "https://proxy.example.com"
    assert credentials.username is None and credentials.password is None


async def test_a_minimal_github_app_has_safe_defaults() -> None:
    credentials = await read(APP)
    assert credentials.is_github_app
    assert credentials.github_app_enterprise_base_url is None
    assert credentials.tls_client_cert is None and credentials.proxy is None
    assert not credentials.insecure


async def test_a_client_certificate_alone_authenticates_https() -> None:
    credentials = await read({"tlsClientCertData": TLS_CERT, "tlsClientCertKey": TLS_KEY})
    assert credentials.kind == "tls client certificate" and not credentials.is_anonymous


async def test_an_ssh_url_takes_the_key_and_notes_what_it_ignores() -> None:
    credentials = await read(
        {"sshPrivateKey": SSH_KEY, "username": USERNAME, "password": PASSWORD}, SSH
    )
    assert credentials.is_ssh and credentials.ssh_private_key == SSH_KEY
    assert credentials.password is None and credentials.username is None
    assert any("password, username ignored for the SSH URL" in n for n in credentials.notes)


async def test_a_key_without_its_final_newline_gets_one() -> None:
    credentials = await read({"sshPrivateKey": SSH_KEY.rstrip("\n")}, SSH)
    assert credentials.ssh_private_key == SSH_KEY


async def test_one_trailing_newline_left_by_kubectl_from_file_is_dropped() -> None:
    credentials = await read({"username": f"{USERNAME}\n", "password": f"{PASSWORD}\n"})
    assert (credentials.username, credentials.password) == (USERNAME, PASSWORD)


@pytest.mark.parametrize(
    ("value", "insecure"),
    [
        pytest.param("true", True, id="true"),
        pytest.param("True", True, id="True"),
        pytest.param("1", True, id="one"),
        pytest.param("false", False, id="false"),
        pytest.param("0", False, id="zero"),
        pytest.param("", False, id="empty"),
    ],
)
async def test_insecure_takes_go_booleans(value: str, insecure: bool) -> None:
    credentials = await read({"username": USERNAME, "password": PASSWORD, "insecure": value})
    assert credentials.insecure is insecure


@pytest.mark.parametrize(
    ("fields", "url", "expected"),
    [
        pytest.param(
            {"username": USERNAME, "password": PASSWORD},
            SSH,
            "has no field 'sshPrivateKey', which the SSH URL",
            id="ssh-without-key",
        ),
        pytest.param(
            {"sshPrivateKey": "not a key"},
            SSH,
            "'sshPrivateKey' of secret team/git-creds is not a PEM or OpenSSH private key",
            id="ssh-key-not-pem",
        ),
        pytest.param(
            {"username": USERNAME},
            HTTPS,
            "has no field 'password', which a username needs",
            id="username-without-password",
        ),
        pytest.param(
            {"password": PASSWORD},
            HTTPS,
            "has no field 'username', which a password needs",
            id="password-without-username",
        ),
        pytest.param(
            {"username": USERNAME, "password": ""},
            HTTPS,
            "has no field 'password'",
            id="empty-password",
        ),
        pytest.param(
            {"githubAppID": "123", "githubAppPrivateKey": APP_KEY},
            HTTPS,
            "has no field 'githubAppInstallationID'",
            id="app-without-installation",
        ),
        pytest.param(
            {"githubAppID": "123", "githubAppInstallationID": "456"},
            HTTPS,
            "has no field 'githubAppPrivateKey'",
            id="app-without-key",
        ),
        pytest.param(
            {"githubAppInstallationID": "456", "githubAppPrivateKey": APP_KEY},
            HTTPS,
            "has no field 'githubAppID'",
            id="app-without-id",
        ),
        pytest.param(
            {**APP, "githubAppID": "abc"},
            HTTPS,
            "'githubAppID' of secret team/git-creds must be a positive integer",
            id="app-id-not-a-number",
        ),
        pytest.param(
            {**APP, "githubAppInstallationID": "-4"},
            HTTPS,
            "'githubAppInstallationID' of secret team/git-creds must be a positive integer",
            id="installation-id-negative",
        ),
        pytest.param(
            {**APP, "githubAppPrivateKey": "appkey-never-shown"},
            HTTPS,
            "'githubAppPrivateKey' of secret team/git-creds is not a PEM",
            id="app-key-not-pem",
        ),
        pytest.param(
            {**APP, "githubAppEnterpriseBaseUrl": "ghe.example.com"},
            HTTPS,
            "'githubAppEnterpriseBaseUrl' of secret team/git-creds is not a URL",
            id="enterprise-url-not-a-url",
        ),
        pytest.param(
            {**APP, "username": USERNAME, "password": PASSWORD},
            HTTPS,
            "holds both username/password and GitHub App fields",
            id="two-kinds",
        ),
        pytest.param(
            {"username": USERNAME, "password": PASSWORD, "tlsClientCertData": TLS_CERT},
            HTTPS,
            "has no field 'tlsClientCertKey'",
            id="certificate-without-key",
        ),
        pytest.param(
            {"username": USERNAME, "password": PASSWORD, "tlsClientCertKey": TLS_KEY},
            HTTPS,
            "has no field 'tlsClientCertData'",
            id="key-without-certificate",
        ),
        pytest.param(
            {"tlsClientCertData": "cert-never-shown", "tlsClientCertKey": TLS_KEY},
            HTTPS,
            "'tlsClientCertData' of secret team/git-creds is not a PEM certificate",
            id="certificate-not-pem",
        ),
        pytest.param(
            {"username": USERNAME, "password": PASSWORD, "insecure": "maybe"},
            HTTPS,
            "'insecure' of secret team/git-creds is not a boolean",
            id="insecure-not-boolean",
        ),
        pytest.param(
            {"username": USERNAME, "password": PASSWORD, "proxy": "proxy-pass-never-shown"},
            HTTPS,
            "'proxy' of secret team/git-creds is not a proxy URL",
            id="proxy-not-a-url",
        ),
        pytest.param(
            {"username": USERNAME, "password": f"{PASSWORD}\nsecond"},
            HTTPS,
            "'password' of secret team/git-creds must be one line",
            id="password-two-lines",
        ),
        pytest.param(
            {"note": "nothing useful"},
            HTTPS,
            "holds no credentials for https://git.example.com/team/deploy.git",
            id="no-credentials",
        ),
        pytest.param(
            {"username": USERNAME, "password": PASSWORD},
            "http://git.example.com/deploy.git",
            "refusing to send credentials unencrypted",
            id="plain-http",
        ),
        pytest.param(
            {"username": USERNAME, "password": PASSWORD},
            "unknown://example.com/repo.git",
            "can only be used with an https:// or SSH repository URL",
            id="unknown-scheme",
        ),
        pytest.param(
            {"gcpServiceAccountKey": PASSWORD},
            HTTPS,
            "a GCP service account key (field 'gcpServiceAccountKey')",
            id="gcp-key",
        ),
    ],
)
async def test_missing_partial_or_invalid_fields_are_refused_by_name(
    fields: dict[str, str], url: str, expected: str
) -> None:
    assert expected in await refusal(fields, url)


async def test_a_value_that_is_not_utf8_is_refused_by_name() -> None:
    body = in_namespace(secret("git-creds", {"username": USERNAME}), "team")
    body["data"]["password"] = "/w=="  # b"\xff"
    with pytest.raises(CredentialError, match="'password' of secret team/git-creds is not valid"):
        await secret_credentials("team", "git-creds", repo_url=HTTPS, secrets=MemorySecrets([body]))


async def test_a_missing_secret_is_the_readers_error() -> None:
    with pytest.raises(CredentialError, match="secret team/absent not found"):
        await secret_credentials("team", "absent", repo_url=HTTPS, secrets=MemorySecrets())


async def test_the_repr_shows_the_kind_and_source_but_no_secret() -> None:
    credentials = await read(
        {
            "username": USERNAME,
            "password": PASSWORD,
            "tlsClientCertData": TLS_CERT,
            "tlsClientCertKey": TLS_KEY,
            "proxy": PROXY,
            "insecure": "true",
        }
    )
    shown = repr(credentials)
    assert_no_secret(shown)
    assert_no_secret(str(credentials))
    assert "secret team/git-creds" in shown and USERNAME in shown and "insecure=True" in shown

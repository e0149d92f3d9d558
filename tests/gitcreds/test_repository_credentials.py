"""git:repocreds: which of Argo CD's repository Secrets and credential templates a repository
gets, for which project, and what is refused (naming where it looked, never a value)."""

from __future__ import annotations

from typing import Any

import pytest

from imageupdater.errors import CredentialError
from imageupdater.gitcreds import GitCredentials, repository_credentials
from tests.gitcreds.fakes import (
    APP_KEY,
    ARGOCD,
    PASSWORD,
    PROXY,
    SSH_KEY,
    TLS_CERT,
    TLS_KEY,
    USERNAME,
    MemorySecrets,
    assert_no_secret,
    in_namespace,
    repository,
    template,
)

HTTPS = "https://git.example.com/team/deploy.git"
SSH = "git@git.example.com:team/deploy.git"


async def lookup(
    url: str, bodies: list[dict[str, Any]], *, project: str = "default"
) -> GitCredentials:
    return await repository_credentials(
        url, project=project, argocd_namespace=ARGOCD, secrets=MemorySecrets(bodies)
    )


async def refusal(url: str, bodies: list[dict[str, Any]], *, project: str = "default") -> str:
    with pytest.raises(CredentialError) as caught:
        await lookup(url, bodies, project=project)
    message = str(caught.value)
    assert_no_secret(message)
    return message


CREDS = {"username": USERNAME, "password": PASSWORD}


# (repository URL, Secrets, project, the source that wins)
@pytest.mark.parametrize(
    ("url", "bodies", "project", "source"),
    [
        pytest.param(
            HTTPS,
            [repository("repo-a", HTTPS, **CREDS)],
            "default",
            "repository secret argocd/repo-a",
            id="exact-url",
        ),
        pytest.param(
            "https://GIT.example.com/team/deploy",
            [repository("repo-a", HTTPS, **CREDS)],
            "default",
            "repository secret argocd/repo-a",
            id="case-and-dot-git-differ",
        ),
        pytest.param(
            HTTPS,
            [
                template("creds-host", "https://git.example.com", **CREDS),
                repository("repo-a", HTTPS, **CREDS),
            ],
            "default",
            "repository secret argocd/repo-a",
            id="repository-secret-beats-template",
        ),
        pytest.param(
            HTTPS,
            [
                template("creds-host", "https://git.example.com", **CREDS),
                template("creds-team", "https://git.example.com/team", **CREDS),
                template("creds-other", "https://git.example.com/other", **CREDS),
            ],
            "default",
            "credential template argocd/creds-team",
            id="longest-prefix-wins",
        ),
        pytest.param(
            HTTPS,
            [template("creds-te", "https://git.example.com/te", **CREDS)],
            "default",
            "credential template argocd/creds-te",
            id="prefix-is-plain-text-as-in-argo-cd",
        ),
        pytest.param(
            HTTPS,
            [
                repository("repo-shared", HTTPS, **CREDS),
                repository("repo-web", HTTPS, project="web", **CREDS),
            ],
            "web",
            "repository secret argocd/repo-web",
            id="own-project-beats-unscoped",
        ),
        pytest.param(
            HTTPS,
            [
                repository("repo-web", HTTPS, project="web", **CREDS),
                repository("repo-shared", HTTPS, **CREDS),
            ],
            "default",
            "repository secret argocd/repo-shared",
            id="unscoped-serves-other-projects",
        ),
        pytest.param(
            HTTPS,
            [
                repository("repo-web", HTTPS, project="web", **CREDS),
                template("creds-host", "https://git.example.com", **CREDS),
            ],
            "api",
            "credential template argocd/creds-host",
            id="project-scoped-secret-skipped-for-another-project",
        ),
        pytest.param(
            SSH,
            [
                repository("repo-https", HTTPS, **CREDS),
                repository(
                    "repo-ssh", "ssh://git@git.example.com/team/deploy", sshPrivateKey=SSH_KEY
                ),
            ],
            "default",
            "repository secret argocd/repo-ssh",
            id="scp-url-matches-ssh-scheme-secret",
        ),
        pytest.param(
            "ssh://git@git.example.com/team/deploy.git",
            [template("creds-ssh", "git@git.example.com:team", sshPrivateKey=SSH_KEY)],
            "default",
            "credential template argocd/creds-ssh",
            id="ssh-scheme-url-matches-scp-template",
        ),
        pytest.param(
            HTTPS,
            [
                repository("repo-a", HTTPS),
                template("creds-host", "https://git.example.com", **CREDS),
            ],
            "default",
            "repository secret argocd/repo-a with credential template argocd/creds-host",
            id="repository-secret-without-credentials-falls-through",
        ),
    ],
)
async def test_the_secret_argo_cd_would_use_is_chosen(
    url: str, bodies: list[dict[str, Any]], project: str, source: str
) -> None:
    credentials = await lookup(url, bodies, project=project)
    assert credentials.source == source
    assert not credentials.is_anonymous


async def test_a_project_scoped_secret_of_another_project_is_reported_in_the_notes() -> None:
    credentials = await lookup(
        HTTPS,
        [
            repository("repo-web", HTTPS, project="web", **CREDS),
            template("creds-host", "https://git.example.com", **CREDS),
        ],
        project="api",
    )
    assert any(
        "repo-web" in note and "project 'web', not 'api'" in note for note in credentials.notes
    )


async def test_https_credentials_carry_username_password_client_certificate_and_proxy() -> None:
    credentials = await lookup(
        HTTPS,
        [
            repository(
                "repo-a",
                HTTPS,
                **CREDS,
                tlsClientCertData=TLS_CERT,
                tlsClientCertKey=TLS_KEY,
                proxy=PROXY,
            )
        ],
    )
    assert (credentials.username, credentials.password) == (USERNAME, PASSWORD)
    assert (credentials.tls_client_cert, credentials.tls_client_key) == (TLS_CERT, TLS_KEY)
    assert credentials.proxy == PROXY
    assert not credentials.insecure and not credentials.is_ssh
    assert_no_secret(repr(credentials))


async def test_an_ssh_repository_gets_its_key() -> None:
    credentials = await lookup(SSH, [repository("repo-ssh", SSH, sshPrivateKey=SSH_KEY)])
    assert credentials.is_ssh and credentials.ssh_private_key == SSH_KEY
    assert credentials.password is None


async def test_a_github_app_template_gives_app_credentials() -> None:
    credentials = await lookup(
        HTTPS,
        [
            template(
                "creds-app",
                "https://git.example.com",
                githubAppID="123",
                githubAppInstallationID="456",
                githubAppPrivateKey=APP_KEY,
                githubAppEnterpriseBaseUrl="https://git.example.com/api/v3",
            )
        ],
    )
    assert credentials.is_github_app
    assert (credentials.github_app_id, credentials.github_app_installation_id) == ("123", "456")
    assert credentials.github_app_enterprise_base_url == "https://git.example.com/api/v3"
    assert_no_secret(repr(credentials))


async def test_a_template_fills_only_what_the_repository_secret_leaves_empty() -> None:
    credentials = await lookup(
        HTTPS,
        [
            repository("repo-a", HTTPS, proxy="http://repo-proxy:3128"),
            template("creds-host", "https://git.example.com", **CREDS, proxy=PROXY),
        ],
    )
    assert credentials.password == PASSWORD
    assert credentials.proxy == "http://repo-proxy:3128"


@pytest.mark.parametrize("flag", ["insecure", "insecureIgnoreHostKey"])
async def test_insecure_on_the_repository_secret_is_kept_and_visible(flag: str) -> None:
    credentials = await lookup(HTTPS, [repository("repo-a", HTTPS, **CREDS, **{flag: "true"})])
    assert credentials.insecure
    assert "insecure=True" in repr(credentials)


async def test_insecure_is_never_inherited_from_a_template() -> None:
    credentials = await lookup(
        HTTPS, [template("creds-host", "https://git.example.com", **CREDS, insecure="true")]
    )
    assert not credentials.insecure


async def test_a_registered_repository_without_credentials_is_anonymous() -> None:
    url = "git://127.0.0.1:9418/deploy.git"
    credentials = await lookup(url, [repository("repo-public", url)])
    assert credentials.is_anonymous
    assert credentials.source == "repository secret argocd/repo-public"
    https = await lookup(HTTPS, [repository("repo-public", HTTPS)])
    assert https.is_anonymous and https.kind == "anonymous"


async def test_an_ssh_repository_without_a_key_is_refused_even_when_registered() -> None:
    message = await refusal(SSH, [repository("repo-ssh", SSH)])
    assert "repository secret argocd/repo-ssh has no field 'sshPrivateKey'" in message


async def test_nothing_registered_is_refused_naming_url_project_and_where_it_looked() -> None:
    message = await refusal(
        HTTPS,
        [
            repository("repo-web", HTTPS, project="web", **CREDS),
            in_namespace(repository("repo-elsewhere", HTTPS, **CREDS), "other"),
            template("creds-other", "https://git.example.com/other", **CREDS),
        ],
        project="api",
    )
    assert HTTPS in message
    assert "project 'api'" in message
    assert "namespace 'argocd'" in message
    assert "argocd.argoproj.io/secret-type=repository" in message
    assert "argocd.argoproj.io/secret-type=repo-creds" in message
    assert "repo-web" in message
    assert "git:secret:<name>" in message


async def test_a_password_in_the_repository_url_is_not_shown() -> None:
    # Argo CD compares the userinfo too, so this URL matches no Secret registered without it.
    url = f"https://deployer:{PASSWORD}@git.example.com/team/deploy.git"
    message = await refusal(url, [repository("repo-a", HTTPS, **CREDS)])
    assert "https://deployer@git.example.com/team/deploy.git" in message


@pytest.mark.parametrize(
    ("url", "fields", "expected"),
    [
        pytest.param(HTTPS, {"username": USERNAME}, "has no field 'password'", id="username-only"),
        pytest.param(HTTPS, {"password": PASSWORD}, "has no field 'username'", id="password-only"),
        pytest.param(HTTPS, {"bearerToken": PASSWORD}, "a bearer token", id="bearer-token"),
        pytest.param(
            HTTPS,
            {**CREDS, "insecure": "yes-please"},
            "'insecure' of repository secret",
            id="insecure-not-boolean",
        ),
        pytest.param(
            "http://git.example.com/team/deploy.git",
            CREDS,
            "refusing to send credentials unencrypted",
            id="plain-http",
        ),
        pytest.param(
            HTTPS,
            {"tlsClientCertData": TLS_CERT},
            "has no field 'tlsClientCertKey'",
            id="certificate-without-key",
        ),
        pytest.param(
            HTTPS,
            {**CREDS, "proxy": "proxy-pass-never-shown"},
            "is not a proxy URL",
            id="proxy-not-a-url",
        ),
        pytest.param(
            "git://127.0.0.1/deploy.git",
            CREDS,
            "only be used with an https:// or SSH repository URL",
            id="git-daemon-with-credentials",
        ),
    ],
)
async def test_incomplete_or_unusable_repository_secrets_are_refused(
    url: str, fields: dict[str, str], expected: str
) -> None:
    message = await refusal(url, [repository("repo-a", url, **fields)])
    assert expected in message
    assert "repo-a" in message


async def test_plain_http_with_credentials_is_allowed_only_when_the_secret_says_insecure() -> None:
    url = "http://git.example.com/team/deploy.git"
    credentials = await lookup(url, [repository("repo-a", url, **CREDS, insecure="true")])
    assert credentials.insecure and credentials.password == PASSWORD


async def test_a_secret_with_password_and_github_app_uses_the_password_as_argo_cd_does() -> None:
    credentials = await lookup(
        HTTPS,
        [repository("repo-a", HTTPS, **CREDS, githubAppID="1", githubAppPrivateKey=APP_KEY)],
    )
    assert credentials.password == PASSWORD and not credentials.is_github_app
    assert any("GitHub App fields ignored" in note for note in credentials.notes)


async def test_equally_good_matches_choose_by_name_and_say_so() -> None:
    credentials = await lookup(
        HTTPS,
        [
            repository("repo-b", HTTPS, **CREDS),
            repository("repo-a", HTTPS, username="other", password="other-pass"),
        ],
    )
    assert credentials.source == "repository secret argocd/repo-a"
    assert any("repo-a, repo-b" in note for note in credentials.notes)
    tied = await lookup(
        HTTPS,
        [
            template("creds-2", "https://git.example.com/team", **CREDS),
            template("creds-1", "https://GIT.example.com/team.git", **CREDS),
        ],
    )
    assert tied.source == "credential template argocd/creds-1"
    assert any("creds-1, creds-2" in note for note in tied.notes)


async def test_only_the_argo_cd_namespace_is_searched() -> None:
    secrets = MemorySecrets([in_namespace(repository("repo-a", HTTPS, **CREDS), "team")])
    with pytest.raises(CredentialError):
        await repository_credentials(
            HTTPS, project="default", argocd_namespace=ARGOCD, secrets=secrets
        )
    assert {namespace for namespace, _ in secrets.listed} == {ARGOCD}


async def test_a_url_that_does_not_parse_is_refused_before_any_lookup() -> None:
    secrets = MemorySecrets()
    with pytest.raises(CredentialError, match="does not parse as a URL"):
        await repository_credentials(
            "https://git.example.com:port/x", project="p", argocd_namespace=ARGOCD, secrets=secrets
        )
    assert secrets.listed == []


async def test_listed_secrets_written_with_string_data_are_read_too() -> None:
    body = repository("repo-a", HTTPS)
    body["stringData"] = {"username": USERNAME, "password": PASSWORD}
    credentials = await lookup(HTTPS, [body])
    assert (credentials.username, credentials.password) == (USERNAME, PASSWORD)

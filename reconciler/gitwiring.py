"""Building the git writer from the run options: the repository cache, credentials as
Argo CD finds them, SSH known hosts, the commit template, GitHub App tokens and the
pull-request clients. Everything that can be wrong in the settings fails here, at start,
not at the first commit."""

from __future__ import annotations

__all__ = ["git_writer"]

import contextlib
from pathlib import Path

import aiohttp

from imageupdater import kube
from imageupdater.credentials import CredentialRules
from imageupdater.errors import CredentialError
from imageupdater.git.repos import GitRepositories, Identity, Signing
from imageupdater.gitcreds import (
    GitCredentials,
    KubeGitSecrets,
    check_secret_namespace,
    repository_credentials,
    secret_credentials,
    ssh_known_hosts,
)
from imageupdater.gitcreds.projects import check_source_permitted
from imageupdater.gitops.messages import load_commit_template
from imageupdater.scm import PullRequests, pull_requests
from imageupdater.scm.githubapp import GitHubAppTokens
from reconciler.gitwriter import CommitSettings, GitWriter
from reconciler.metrics import GitMetrics
from reconciler.options import GitOptions

DEFAULT_ARGOCD_NAMESPACE = "argocd"


async def git_writer(
    options: GitOptions,
    client: kube.KubeClient,
    *,
    metrics: GitMetrics | None,
    argocd_namespace: str | None,
    credential_rules: CredentialRules,
    stack: contextlib.AsyncExitStack,
) -> GitWriter:
    template = load_commit_template(
        Path(options.message_path) if options.message_path else None,
        explicit=options.message_path_explicit,
    )
    secrets = KubeGitSecrets(client)
    settings_namespace = argocd_namespace or DEFAULT_ARGOCD_NAMESPACE
    session = await stack.enter_async_context(aiohttp.ClientSession(trust_env=False))
    tokens = GitHubAppTokens(session, api_url=options.github_api_url)

    async def credentials(
        ref: str, app_namespace: str, project: str, repository: str
    ) -> GitCredentials:
        if ref == "repocreds":
            # Argo CD's credentials push only where the Application's project lets it
            # deploy from; otherwise any Application could borrow them for any repository.
            found = await client.get_or_none(kube.APPPROJECTS, settings_namespace, project)
            check_source_permitted(repository, project, found)
            return await repository_credentials(
                repository,
                project=project,
                argocd_namespace=settings_namespace,
                secrets=secrets,
            )
        secret = ref.removeprefix("secret:")
        namespace, sep, name = secret.partition("/")
        if not sep:
            namespace, name = "", secret
        namespace = check_secret_namespace(app_namespace, namespace or None, credential_rules)
        return await secret_credentials(namespace, name, repo_url=repository, secrets=secrets)

    async def known_hosts() -> str:
        found = await ssh_known_hosts(
            settings_namespace, secrets, mounted_path=options.known_hosts_path or None
        )
        return found or ""

    async def app_token(creds: GitCredentials) -> str:
        if (
            creds.github_app_id is None
            or creds.github_app_installation_id is None
            or creds.github_app_private_key is None
        ):
            raise CredentialError("GitHub App credentials are incomplete")
        return await tokens.token(
            creds.github_app_id,
            creds.github_app_installation_id,
            creds.github_app_private_key,
            creds.github_app_enterprise_base_url,
        )

    def clients(provider: str, repository: str, token: str) -> PullRequests:
        api = options.github_api_url if provider == "github" else options.gitlab_api_url
        return pull_requests(
            provider, repo_url=repository, token=token, session=session, api_url=api
        )

    repos = GitRepositories(
        Path(options.cache_dir),
        observe=metrics.observe if metrics is not None else None,
    )
    signing = Signing(options.signing_key, options.signing_method) if options.signing_key else None
    return GitWriter(
        repos,
        credentials=credentials,
        settings=CommitSettings(
            author=Identity(options.user, options.email),
            template=template,
            signing=signing,
            sign_off=options.sign_off,
            per_application=options.per_application,
            pull_request_branches=options.pull_request_branches,
        ),
        known_hosts=known_hosts,
        argocd_namespace=argocd_namespace,
        metrics=metrics,
        pull_requests=clients,
        app_token=app_token,
        parallel=options.parallel_repositories,
    )

"""The write-back annotations: method, git branch, repository and target."""

from __future__ import annotations

import pytest

from imageupdater.policy import WriteBackConfig
from tests.annotations.builders import key, only_error, only_problem, parse_suffixes


def write_back(pairs: dict[str, str], *, namespace: str | None = None) -> WriteBackConfig:
    result = parse_suffixes({"image-list": "nginx", **pairs}, namespace=namespace)
    assert result.problems == ()
    assert result.config is not None
    return result.config.write_back


def test_without_write_back_annotations_the_argocd_method_is_used() -> None:
    assert write_back({}) == WriteBackConfig(method="argocd")


@pytest.mark.parametrize(
    ("value", "method", "credentials", "secret"),
    [
        pytest.param("argocd", "argocd", None, None, id="argocd"),
        pytest.param("git", "git", "repocreds", None, id="git-defaults-to-repocreds"),
        pytest.param("git:repocreds", "git", "repocreds", None, id="git-repocreds"),
        pytest.param(
            "git:secret:argocd/git-creds",
            "git",
            "secret:argocd/git-creds",
            ("argocd", "git-creds"),
            id="git-secret-with-namespace",
        ),
        pytest.param(
            "git:secret:git-creds", "git", "secret:git-creds", (None, "git-creds"), id="git-secret"
        ),
    ],
)
def test_write_back_methods_record_method_and_credentials(
    value: str, method: str, credentials: str | None, secret: tuple[str | None, str] | None
) -> None:
    config = write_back({"write-back-method": value}, namespace="argocd")
    assert (config.method, config.git_credentials, config.git_secret) == (
        method,
        credentials,
        secret,
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "kubectl",
            "unknown write-back method 'kubectl'; expected argocd, git, git:repocreds, "
            "git:secret:<namespace>/<name> or git:secret:<name>",
            id="unknown-method",
        ),
        pytest.param(
            "Git",
            "unknown write-back method 'Git'; expected argocd, git, git:repocreds, "
            "git:secret:<namespace>/<name> or git:secret:<name>",
            id="wrong-case",
        ),
        pytest.param(
            "git:ssh",
            "unknown write-back method 'git:ssh'; expected argocd, git, git:repocreds, "
            "git:secret:<namespace>/<name> or git:secret:<name>",
            id="unknown-credentials",
        ),
        pytest.param(
            "git:secret:",
            "invalid secret name '' in 'git:secret:': a secret name is lower-case letters, "
            "digits, '-' and '.'; expected argocd, git, git:repocreds, "
            "git:secret:<namespace>/<name> or git:secret:<name>",
            id="empty-secret",
        ),
        pytest.param(
            "git:secret:Argo/creds",
            "invalid namespace 'Argo' in 'git:secret:Argo/creds': a namespace is 1-63 "
            "lower-case letters, digits and inner '-'; expected argocd, git, git:repocreds, "
            "git:secret:<namespace>/<name> or git:secret:<name>",
            id="bad-namespace",
        ),
        pytest.param(
            "git:secret:other/creds",
            "git credentials 'git:secret:other/creds' read a secret in namespace 'other', but "
            "an Application may only use secrets of its own namespace 'argocd'",
            id="foreign-namespace",
        ),
    ],
)
def test_invalid_write_back_methods_are_errors(value: str, message: str) -> None:
    result = parse_suffixes({"image-list": "nginx", "write-back-method": value}, namespace="argocd")
    problem = only_error(result)
    assert problem.key == key("write-back-method")
    assert problem.message == message


@pytest.mark.parametrize(
    ("value", "base", "target"),
    [
        pytest.param("main", "main", None, id="branch"),
        pytest.param("main:image-updates", "main", "image-updates", id="base-and-target"),
        pytest.param(":image-updates", None, "image-updates", id="target-only"),
        pytest.param(
            'main:up-{{range .Images}}{{printf "%s:%s" .Name .NewTag}}{{end}}',
            "main",
            'up-{{range .Images}}{{printf "%s:%s" .Name .NewTag}}{{end}}',
            id="template-with-colons",
        ),
        pytest.param("release/1.x", "release/1.x", None, id="branch-with-slash"),
    ],
)
def test_git_branch_forms_split_into_base_and_target(
    value: str, base: str | None, target: str | None
) -> None:
    config = write_back({"write-back-method": "git", "git-branch": value})
    assert config.branch == value
    assert (config.base_branch, config.target_branch) == (base, target)


_BRANCH_FORMS = "expected 'branch', 'base:target' or ':target' (the target may be a template)"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "a:b:c",
            f"'a:b:c' has more than one ':' outside a template; {_BRANCH_FORMS}",
            id="two-colons",
        ),
        pytest.param("main:", f"'main:' has nothing after ':'; {_BRANCH_FORMS}", id="empty-target"),
        pytest.param(
            "main:{{.SHA256",
            "'main:{{.SHA256' opens a template with '{{' that is never closed with '}}'",
            id="unclosed-template",
        ),
        pytest.param(
            "{{.AppName}}:x",
            "'{{.AppName}}:x' has a template in the base branch; only the target (after ':') "
            f"may be a template; {_BRANCH_FORMS}",
            id="template-in-base",
        ),
        pytest.param(
            "my branch",
            f"'my branch' is not a valid branch name: it contains ' '; {_BRANCH_FORMS}",
            id="space",
        ),
        pytest.param(
            "a..b",
            f"'a..b' is not a valid branch name: it contains '..'; {_BRANCH_FORMS}",
            id="double-dot",
        ),
        pytest.param(
            "feature/",
            "'feature/' is not a valid branch name: it starts with '-' or '/', ends with '/', "
            f"'.' or '.lock', or contains '//'; {_BRANCH_FORMS}",
            id="trailing-slash",
        ),
    ],
)
def test_invalid_git_branches_are_errors(value: str, message: str) -> None:
    result = parse_suffixes(
        {"image-list": "nginx", "write-back-method": "git", "git-branch": value}
    )
    problem = only_error(result)
    assert problem.key == key("git-branch")
    assert problem.message == message


@pytest.mark.parametrize(
    "value",
    [
        "https://github.com/org/repo.git",
        "ssh://git@github.com/org/repo.git",
        "git@github.com:org/repo.git",
        "file:///srv/git/repo",
    ],
)
def test_git_repository_accepts_git_urls(value: str) -> None:
    assert write_back({"write-back-method": "git", "git-repository": value}).repository == value


_REPO_FORMS = (
    "expected a git URL such as 'https://github.com/org/repo.git' or 'git@github.com:org/repo.git'"
)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "github.com/org/repo",
            f"'github.com/org/repo' is not a git URL; {_REPO_FORMS}",
            id="no-scheme",
        ),
        pytest.param(
            "ftp://host/repo",
            f"'ftp://host/repo' has the unsupported scheme 'ftp'; {_REPO_FORMS}",
            id="ftp",
        ),
        pytest.param("https:///repo", f"'https:///repo' has no host; {_REPO_FORMS}", id="no-host"),
        pytest.param(
            "https://bot:s3cr3t@github.com/org/repo",
            "'https://***@github.com/org/repo' embeds credentials in the URL (not shown); use "
            "write-back-method git:secret:<name> or Argo CD repository credentials instead",
            id="password-in-url",
        ),
        pytest.param(
            "https://ghp_T0KEN@github.com/org/repo",
            "'https://***@github.com/org/repo' embeds credentials in the URL (not shown); use "
            "write-back-method git:secret:<name> or Argo CD repository credentials instead",
            id="token-in-url",
        ),
    ],
)
def test_invalid_git_repositories_are_errors_that_never_show_credentials(
    value: str, message: str
) -> None:
    result = parse_suffixes(
        {"image-list": "nginx", "write-back-method": "git", "git-repository": value}
    )
    problem = only_error(result)
    assert problem.key == key("git-repository")
    assert problem.message == message
    assert "s3cr3t" not in str(result) and "T0KEN" not in str(result)


@pytest.mark.parametrize(
    ("value", "kind", "path"),
    [
        pytest.param("kustomization", "kustomization", None, id="kustomization"),
        pytest.param("kustomization:../base", "kustomization", "../base", id="kustomization-dir"),
        pytest.param("helmvalues", "helmvalues", None, id="helmvalues"),
        pytest.param(
            "helmvalues:/env/values.yaml", "helmvalues", "/env/values.yaml", id="helmvalues-file"
        ),
        pytest.param(
            ".argocd-source-x.yaml", "override", ".argocd-source-x.yaml", id="override-file"
        ),
    ],
)
def test_write_back_targets_have_a_kind_and_a_path(value: str, kind: str, path: str | None) -> None:
    config = write_back({"write-back-method": "git", "write-back-target": value})
    assert (config.target.text, config.target.kind, config.target.path) == (value, kind, path)


@pytest.mark.parametrize(
    "value", ["kustomization.yaml", "overlays/dev/kustomization.yml", "Kustomization"]
)
def test_a_kustomization_file_as_a_bare_target_path_is_an_error(value: str) -> None:
    result = parse_suffixes(
        {"image-list": "nginx", "write-back-method": "git", "write-back-target": value}
    )
    problem = only_error(result)
    assert problem.key == key("write-back-target")
    assert problem.message == (
        f"{value!r} would be overwritten as a parameter override file; to edit a kustomization "
        "write 'kustomization' or 'kustomization:<dir>'"
    )


def test_an_unknown_target_kind_is_an_error() -> None:
    result = parse_suffixes(
        {"image-list": "nginx", "write-back-method": "git", "write-back-target": "helm:values.yaml"}
    )
    assert only_error(result).message == (
        "unknown write-back target kind 'helm' in 'helm:values.yaml'; expected "
        "kustomization[:<dir>], helmvalues[:<file>] or a file path"
    )


def test_a_target_that_looks_like_a_misspelt_kind_is_a_warning() -> None:
    result = parse_suffixes(
        {"image-list": "nginx", "write-back-method": "git", "write-back-target": "kustomize"}
    )
    problem = only_problem(result)
    assert problem.severity == "warning"
    assert problem.message == (
        "'kustomize' is used as the name of a parameter override file; did you mean "
        "'kustomization'? (expected kustomization[:<dir>], helmvalues[:<file>] or a file path)"
    )
    assert result.config is not None


@pytest.mark.parametrize("suffix", ["git-branch", "git-repository", "write-back-target"])
def test_git_settings_with_the_argocd_method_are_a_warning(suffix: str) -> None:
    value = {
        "git-branch": "main",
        "git-repository": "https://h/r",
        "write-back-target": "kustomization",
    }[suffix]
    result = parse_suffixes({"image-list": "nginx", suffix: value})
    problem = only_problem(result)
    assert (problem.key, problem.severity) == (key(suffix), "warning")
    assert problem.message == (
        "has no effect: write-back-method is 'argocd' (the default), which patches the "
        "Application; set write-back-method to 'git' to use it"
    )


# -- pull requests -----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_git_pull_request_names_the_provider_and_its_labels(provider: str) -> None:
    config = write_back(
        {
            "write-back-method": "git",
            "git-pull-request": provider,
            "git-pull-request-labels": "images, automated ,",
        }
    )
    assert (config.pull_request, config.pull_request_labels) == (provider, ("images", "automated"))


def test_an_unknown_pull_request_provider_is_an_error_naming_both_accepted() -> None:
    problem = only_error(
        parse_suffixes(
            {"image-list": "nginx", "write-back-method": "git", "git-pull-request": "bitbucket"}
        )
    )
    assert problem.key == key("git-pull-request")
    assert problem.message == "unknown pull request provider 'bitbucket'; expected github or gitlab"


def test_pull_request_mode_refuses_a_colon_branch_as_upstream_does() -> None:
    problem = only_error(
        parse_suffixes(
            {
                "image-list": "nginx",
                "write-back-method": "git",
                "git-pull-request": "github",
                "git-branch": "main:updates",
            }
        )
    )
    assert problem.key == key("git-branch")
    assert problem.message.startswith("pull request mode does not support colon branch format")


def test_pull_request_labels_without_a_provider_warn_that_they_do_nothing() -> None:
    problem = only_problem(
        parse_suffixes(
            {"image-list": "nginx", "write-back-method": "git", "git-pull-request-labels": "a"}
        )
    )
    assert (problem.key, problem.severity) == (key("git-pull-request-labels"), "warning")


def test_pull_request_settings_with_the_argocd_method_warn_that_they_do_nothing() -> None:
    problem = only_problem(parse_suffixes({"image-list": "nginx", "git-pull-request": "github"}))
    assert problem.severity == "warning"
    assert "write-back-method is 'argocd'" in problem.message


def test_more_than_a_hundred_pull_request_labels_are_refused() -> None:
    labels = ",".join(f"l{i}" for i in range(101))
    problem = only_error(
        parse_suffixes(
            {
                "image-list": "nginx",
                "write-back-method": "git",
                "git-pull-request": "github",
                "git-pull-request-labels": labels,
            }
        )
    )
    assert "at most 100" in problem.message

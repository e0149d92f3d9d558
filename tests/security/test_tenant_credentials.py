"""Who may name which credentials: an Application gets pullsecret:/secret: of its own
namespace; env: and ext: are the operator's unless a namespace is opted in."""

from __future__ import annotations

import argparse

import pytest

from imageupdater.annotations import parse
from imageupdater.cli.tenant_flags import add_credential_rule_flags, credential_rules
from imageupdater.credentials import CredentialRules
from imageupdater.errors import InvalidInput
from imageupdater.lint import lint_documents
from imageupdater.policy import ImagePolicy
from imageupdater.resolver import Resolution
from tests.webhook.reviews import application, body, ours, review
from webhook import review as wire
from webhook.admission import Admission, AdmissionSettings

PREFIX = "argocd-image-updater.argoproj.io/"


def _annotations(pull_secret: str, *, app_wide: bool = False) -> dict[str, str]:
    key = "pull-secret" if app_wide else "web.pull-secret"
    return {PREFIX + "image-list": "web=ghcr.io/acme/web", PREFIX + key: pull_secret}


@pytest.mark.parametrize(
    "reference",
    ["env:GHCR_CREDS", "ext:/bin/sh", "ghcr.io=env:AWS_SECRET_ACCESS_KEY", "EXT:/usr/bin/yes"],
    ids=["env", "ext", "env-with-registry-prefix", "ext-spelled-upper-case"],
)
@pytest.mark.parametrize("app_wide", [False, True], ids=["per-image", "application-wide"])
def test_an_application_may_not_name_env_or_ext_credentials(reference: str, app_wide: bool) -> None:
    result = parse(_annotations(reference, app_wide=app_wide), namespace="team-a")
    assert result.config is None
    (error,) = result.errors
    assert "is not allowed in an Application" in error.message
    assert "--allow-env-ext-credentials" in error.message
    assert error.key.endswith("pull-secret")


@pytest.mark.parametrize(
    "reference",
    ["pullsecret:team-a/regcred", "secret:team-a/robot#creds"],
    ids=["pull-secret", "secret-field"],
)
def test_an_application_may_name_secrets_of_its_own_namespace(reference: str) -> None:
    result = parse(_annotations(reference), namespace="team-a")
    assert result.problems == ()


def test_a_namespace_the_operator_opted_in_may_name_env_and_ext() -> None:
    rules = CredentialRules(env_ext_namespaces=frozenset({"platform"}))
    allowed = parse(
        _annotations("ext:/app/ecr-login.sh"),
        namespace=rules.secret_scope("platform"),
        operator_credentials=rules.allows_operator_kinds("platform"),
    )
    denied = parse(
        _annotations("ext:/app/ecr-login.sh"),
        namespace=rules.secret_scope("team-a"),
        operator_credentials=rules.allows_operator_kinds("team-a"),
    )
    assert allowed.problems == ()
    assert denied.config is None


def test_an_unknown_namespace_is_never_opted_in() -> None:
    assert not CredentialRules(env_ext_namespaces=frozenset({"platform"})).allows_operator_kinds(
        None
    )


def _admission(resolved: list[ImagePolicy], **settings: object) -> Admission:
    async def resolve(policy: ImagePolicy, current: str | None) -> Resolution:
        resolved.append(policy)
        raise AssertionError("a tenant's env:/ext: reference must never reach the resolver")

    return Admission(AdmissionSettings(**settings), resolve)  # type: ignore[arg-type]


@pytest.mark.parametrize("reference", ["env:GHCR_CREDS", "ext:/bin/sh"])
async def test_the_webhook_denies_a_tenant_env_or_ext_reference_and_never_resolves_it(
    reference: str,
) -> None:
    resolved: list[ImagePolicy] = []
    admission = _admission(resolved)
    data = review(application(ours(image_list="web=ghcr.io/acme/web", web__pull_secret=reference)))
    verdict = admission.validate(wire.decode(body(data))).verdict
    assert not verdict.allowed
    assert "is not allowed in an Application" in verdict.message
    mutation = await admission.mutate(wire.decode(body(data)))
    assert mutation.verdict.patch == ()
    assert resolved == []


def test_the_webhook_honours_the_operators_namespace_opt_in() -> None:
    rules = CredentialRules(env_ext_namespaces=frozenset({"argocd"}))
    admission = _admission([], credentials=rules)
    data = review(application(ours(image_list="web=ghcr.io/acme/web", web__pull_secret="env:X")))
    assert admission.validate(wire.decode(body(data))).verdict.allowed


def test_lint_says_what_the_webhook_says_about_env_references() -> None:
    manifest = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\n"
        "metadata:\n  name: web\n  namespace: team-a\n  annotations:\n"
        f"    {PREFIX}image-list: web=ghcr.io/acme/web\n"
        f"    {PREFIX}web.pull-secret: env:GHCR_CREDS\n"
    )
    (finding,) = lint_documents(manifest, source="app.yaml")
    assert finding.severity == "error" and "is not allowed in an Application" in finding.message
    opted_in = CredentialRules(env_ext_namespaces=frozenset({"team-a"}))
    assert lint_documents(manifest, source="app.yaml", rules=opted_in) == []


def _flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_credential_rule_flags(parser.add_argument)
    return parser.parse_args(argv)


def test_the_opt_in_flag_takes_repeated_and_comma_separated_namespaces() -> None:
    rules = credential_rules(
        _flags("--allow-env-ext-credentials", "platform, infra", "--allow-env-ext-credentials=ci")
    )
    assert rules.env_ext_namespaces == frozenset({"platform", "infra", "ci"})
    assert not rules.allow_cross_namespace_secrets


@pytest.mark.parametrize("value", ["", "Team", "*", "a/b"], ids=["empty", "upper", "glob", "slash"])
def test_the_opt_in_flag_refuses_anything_but_namespace_names(value: str) -> None:
    with pytest.raises(InvalidInput, match="--allow-env-ext-credentials"):
        credential_rules(_flags("--allow-env-ext-credentials", value))

"""Every problem the parser reports, keyed by the field path of the value at fault, in the
same words as for annotations where the rule is the same."""

from __future__ import annotations

from typing import Any

import pytest

from imageupdater.credentials import CredentialRules
from imageupdater.imageupdaters import FromResource, Unusable, parse
from imageupdater.problems import Severity
from tests.imageupdaters.builders import image, ref, resource

R0 = "spec.applicationRefs[0]"
I0 = f"{R0}.images[0]"
GIT = f"{R0}.writeBackConfig.gitConfig"


def with_image(**fields: Any) -> dict[str, Any]:
    return resource(ref("*", image(**fields)))


def with_settings(**settings: Any) -> dict[str, Any]:
    return with_image(commonUpdateSettings=settings)


def with_target(**targets: Any) -> dict[str, Any]:
    return with_image(manifestTargets=targets)


def with_git(method: str = "git", **git: Any) -> dict[str, Any]:
    return resource(ref("*", writeBackConfig={"method": method, "gitConfig": git}))


def with_selector(selector: Any) -> dict[str, Any]:
    return resource(ref("*", labelSelectors=selector))


def top(**changes: Any) -> dict[str, Any]:
    obj = resource()
    obj.update(changes)
    return obj


def spec(**changes: Any) -> dict[str, Any]:
    obj = resource()
    obj["spec"].update(changes)
    return obj


def without_spec() -> dict[str, Any]:
    obj = resource()
    del obj["spec"]
    return obj


CASES: list[Any] = [
    # the resource's outer shape
    ("not-an-object", ["spec"], "", "error", "must be an object"),
    ("unknown-top-level-field", top(spce={}), "spce", "error", "did you mean 'spec'?"),
    ("wrong-api-version", top(apiVersion="argoproj.io/v1alpha1"), "apiVersion", "error", "must be"),
    ("wrong-kind", top(kind="Application"), "kind", "error", "'ImageUpdater'"),
    ("metadata-not-an-object", top(metadata=[]), "metadata", "error", "must be an object"),
    ("spec-missing", without_spec(), "spec", "error", "is missing"),
    (
        "spec-namespace-removed",
        spec(namespace="argocd"),
        "spec.namespace",
        "error",
        "removed in upstream v1.2",
    ),
    (
        "unknown-spec-field",
        spec(applicationRef=[]),
        "spec.applicationRef",
        "error",
        "did you mean 'applicationRefs'?",
    ),
    (
        "refs-not-a-list",
        spec(applicationRefs={}),
        "spec.applicationRefs",
        "error",
        "must be a list",
    ),
    ("refs-empty", spec(applicationRefs=[]), "spec.applicationRefs", "error", "minItems: 1"),
    (
        "too-many-refs",
        spec(applicationRefs=[ref(f"a{i}") for i in range(129)]),
        "spec.applicationRefs",
        "error",
        "at most 128",
    ),
    # selection
    (
        "name-pattern-missing",
        spec(applicationRefs=[{"images": [image()]}]),
        f"{R0}.namePattern",
        "error",
        "is missing",
    ),
    (
        "name-pattern-not-a-string",
        resource(ref(7)),
        f"{R0}.namePattern",
        "error",
        "must be a string",
    ),
    (
        "name-pattern-bad-glob",
        resource(ref("web-[")),
        f"{R0}.namePattern",
        "error",
        "invalid namePattern 'web-['",
    ),
    (
        "name-pattern-repeated",
        resource(ref("web"), ref("web")),
        "spec.applicationRefs[1].namePattern",
        "error",
        "is also used by spec.applicationRefs[0]",
    ),
    (
        "selector-unknown-operator",
        with_selector({"matchExpressions": [{"key": "env", "operator": "in", "values": ["a"]}]}),
        f"{R0}.labelSelectors.matchExpressions[0].operator",
        "error",
        "did you mean 'In'?",
    ),
    (
        "selector-in-without-values",
        with_selector({"matchExpressions": [{"key": "env", "operator": "In"}]}),
        f"{R0}.labelSelectors.matchExpressions[0].values",
        "error",
        "needs at least one value",
    ),
    (
        "selector-exists-with-values",
        with_selector(
            {"matchExpressions": [{"key": "env", "operator": "Exists", "values": ["a"]}]}
        ),
        f"{R0}.labelSelectors.matchExpressions[0].values",
        "error",
        "takes no values",
    ),
    (
        "selector-key-missing",
        with_selector({"matchExpressions": [{"operator": "Exists"}]}),
        f"{R0}.labelSelectors.matchExpressions[0].key",
        "error",
        "is missing",
    ),
    (
        "selector-bad-key",
        with_selector({"matchLabels": {"bad key": "x"}}),
        f"{R0}.labelSelectors.matchLabels[bad key]",
        "error",
        "label key 'bad key' is not valid",
    ),
    (
        "selector-bad-value",
        with_selector({"matchLabels": {"env": "-prod"}}),
        f"{R0}.labelSelectors.matchLabels[env]",
        "error",
        "label value '-prod' is not valid",
    ),
    (
        "selector-unknown-field",
        with_selector({"matchLabel": {}}),
        f"{R0}.labelSelectors.matchLabel",
        "error",
        "did you mean 'matchLabels'?",
    ),
    # the applicationRef
    (
        "use-annotations-not-a-bool",
        resource(ref("*", useAnnotations="true")),
        f"{R0}.useAnnotations",
        "error",
        "must be true or false",
    ),
    (
        "images-missing",
        spec(applicationRefs=[{"namePattern": "*"}]),
        R0,
        "error",
        "Either useAnnotations must be true, or images must be provided",
    ),
    (
        "images-empty",
        resource(ref("*", images=[])),
        f"{R0}.images",
        "error",
        "Either useAnnotations must be true",
    ),
    (
        "too-many-images",
        resource(ref("*", *[image(f"i{i}") for i in range(65)])),
        f"{R0}.images",
        "error",
        "at most 64",
    ),
    (
        "images-ignored-with-annotations",
        resource(ref("*", image(), useAnnotations=True)),
        f"{R0}.images",
        "warning",
        "ignored because useAnnotations is true",
    ),
    (
        "settings-ignored-with-annotations",
        resource(ref("*", useAnnotations=True, commonUpdateSettings={})),
        f"{R0}.commonUpdateSettings",
        "warning",
        "ignored because useAnnotations is true",
    ),
    (
        "spec-verification-skips-annotation-refs",
        resource(
            ref("*", useAnnotations=True),
            imagesVerification={"cosignKey": {"secretName": "k", "key": "cosign.pub"}},
        ),
        "spec.imagesVerification",
        "warning",
        "verifies signatures only with its own imagesVerification",
    ),
    # an image
    (
        "alias-missing",
        resource(ref("*", {"imageName": "nginx"})),
        f"{I0}.alias",
        "error",
        "is missing",
    ),
    ("alias-bad", with_image(alias="-web"), f"{I0}.alias", "error", "^[a-zA-Z0-9][a-zA-Z0-9-._]*$"),
    (
        "alias-repeated",
        resource(ref("*", image("web"), image("web"))),
        f"{R0}.images[1].alias",
        "error",
        "is also used by",
    ),
    (
        "image-name-missing",
        resource(ref("*", {"alias": "web"})),
        f"{I0}.imageName",
        "error",
        "is missing",
    ),
    (
        "image-name-invalid",
        with_image(name="Nginx/UPPER"),
        f"{I0}.imageName",
        "error",
        "invalid image reference",
    ),
    (
        "image-name-with-alias",
        with_image(name="web=nginx"),
        f"{I0}.imageName",
        "error",
        "belongs in the alias field",
    ),
    (
        "constraint-too-long",
        with_image(name="nginx:" + "1" * 129),
        f"{I0}.imageName",
        "error",
        "at most 128",
    ),
    (
        "unknown-image-field",
        with_image(imagename="x"),
        f"{I0}.imagename",
        "error",
        "did you mean 'imageName'?",
    ),
    # commonUpdateSettings
    (
        "strategy-unknown",
        with_settings(updateStrategy="semvr"),
        f"{I0}.commonUpdateSettings.updateStrategy",
        "error",
        "unknown update strategy 'semvr'; expected one of semver, newest-build, "
        "alphabetical, digest; did you mean 'semver'?",
    ),
    (
        "strategy-deprecated",
        with_settings(updateStrategy="name"),
        f"{I0}.commonUpdateSettings.updateStrategy",
        "warning",
        "deprecated name for 'alphabetical'",
    ),
    (
        "force-update-not-a-bool",
        with_settings(forceUpdate="true"),
        f"{I0}.commonUpdateSettings.forceUpdate",
        "error",
        "must be true or false",
    ),
    (
        "allow-tags-bad-regex",
        with_settings(allowTags="regexp:(a"),
        f"{I0}.commonUpdateSettings.allowTags",
        "error",
        "not an RE2 expression",
    ),
    (
        "allow-tags-no-prefix",
        with_settings(allowTags="^v1"),
        f"{I0}.commonUpdateSettings.allowTags",
        "error",
        "invalid allow-tags '^v1'",
    ),
    (
        "allow-tags-backreference",
        with_settings(allowTags="regexp:(a)\\1"),
        f"{I0}.commonUpdateSettings.allowTags",
        "error",
        "RE2 has no backreferences",
    ),
    (
        "ignore-tags-bad-glob",
        with_settings(ignoreTags=["ok", "[a-"]),
        f"{I0}.commonUpdateSettings.ignoreTags[1]",
        "error",
        "invalid ignore-tags glob '[a-'",
    ),
    (
        "ignore-tags-empty-glob",
        with_settings(ignoreTags=[""]),
        f"{I0}.commonUpdateSettings.ignoreTags[0]",
        "warning",
        "an empty glob matches no tag",
    ),
    (
        "ignore-tags-whitespace",
        with_settings(ignoreTags=["dev *"]),
        f"{I0}.commonUpdateSettings.ignoreTags[0]",
        "warning",
        "never matches",
    ),
    (
        "ignore-tags-not-a-list",
        with_settings(ignoreTags="latest"),
        f"{I0}.commonUpdateSettings.ignoreTags",
        "error",
        "must be a list",
    ),
    (
        "pull-secret-bad",
        with_settings(pullSecret="secret:argocd/creds"),
        f"{I0}.commonUpdateSettings.pullSecret",
        "error",
        "credential",
    ),
    (
        "pull-secret-other-namespace",
        with_settings(pullSecret="pullsecret:other/creds"),
        f"{I0}.commonUpdateSettings.pullSecret",
        "error",
        "may only use secrets of its own namespace 'argocd'",
    ),
    (
        "pull-secret-operator-kind",
        with_settings(pullSecret="env:REGISTRY_CREDS"),
        f"{I0}.commonUpdateSettings.pullSecret",
        "error",
        "only the operator may configure it",
    ),
    (
        "platform-bad",
        with_settings(platforms=["linux"], updateStrategy="newest-build"),
        f"{I0}.commonUpdateSettings.platforms[0]",
        "error",
        "linux",
    ),
    (
        "platform-repeated",
        with_settings(platforms=["linux/amd64", "linux/amd64"], updateStrategy="newest-build"),
        f"{I0}.commonUpdateSettings.platforms[1]",
        "warning",
        "listed more than once",
    ),
    (
        "platforms-without-effect",
        with_settings(platforms=["linux/arm64"]),
        f"{I0}.commonUpdateSettings.platforms",
        "warning",
        "has no effect with update strategy 'semver'",
    ),
    (
        "unknown-settings-field",
        with_settings(allowTag="any"),
        f"{I0}.commonUpdateSettings.allowTag",
        "error",
        "did you mean 'allowTags'?",
    ),
    # constraints against the inherited strategy
    (
        "digest-without-tag",
        resource(ref("*", image(name="nginx")), commonUpdateSettings={"updateStrategy": "digest"}),
        f"{I0}.imageName",
        "error",
        "cannot use update strategy 'digest' (set by spec.commonUpdateSettings.updateStrategy)",
    ),
    (
        "digest-with-range",
        with_image(name="nginx:~1.2", commonUpdateSettings={"updateStrategy": "digest"}),
        f"{I0}.imageName",
        "error",
        "follows one tag",
    ),
    (
        "semver-bad-constraint",
        with_image(name="nginx:latest"),
        f"{I0}.imageName",
        "error",
        "invalid semver constraint",
    ),
    (
        "constraint-ignored",
        with_image(name="nginx:1.x", commonUpdateSettings={"updateStrategy": "alphabetical"}),
        f"{I0}.imageName",
        "warning",
        "is ignored by update strategy 'alphabetical'",
    ),
    # manifestTargets
    (
        "targets-none",
        with_target(),
        f"{I0}.manifestTargets",
        "error",
        "Exactly one of helm, kustomize, or plugin",
    ),
    (
        "targets-two",
        with_target(helm={}, kustomize={"name": "nginx"}),
        f"{I0}.manifestTargets",
        "error",
        "Found helm and kustomize",
    ),
    (
        "kustomize-name-missing",
        with_target(kustomize={}),
        f"{I0}.manifestTargets.kustomize.name",
        "error",
        "is missing",
    ),
    (
        "kustomize-name-invalid",
        with_target(kustomize={"name": "a b"}),
        f"{I0}.manifestTargets.kustomize.name",
        "error",
        "invalid Kustomize image name",
    ),
    (
        "plugin-without-name-or-spec",
        with_target(plugin={"tag": "TAG"}),
        f"{I0}.manifestTargets.plugin",
        "error",
        "At least one of spec or name",
    ),
    (
        "plugin-env-name-invalid",
        with_target(plugin={"name": "1IMAGE"}),
        f"{I0}.manifestTargets.plugin.name",
        "error",
        "invalid plugin env var name",
    ),
    (
        "plugin-env-name-empty",
        with_target(plugin={"name": ""}),
        f"{I0}.manifestTargets.plugin.name",
        "error",
        "is empty",
    ),
    (
        "helm-name-invalid",
        with_target(helm={"name": "image name"}),
        f"{I0}.manifestTargets.helm.name",
        "error",
        "invalid Helm parameter name",
    ),
    (
        "helm-name-empty",
        with_target(helm={"name": ""}),
        f"{I0}.manifestTargets.helm.name",
        "warning",
        "the default applies",
    ),
    (
        "helm-spec-wins",
        with_target(helm={"spec": "image", "tag": "image.tag"}),
        f"{I0}.manifestTargets.helm.tag",
        "warning",
        f"ignored because {I0}.manifestTargets.helm.spec is set",
    ),
    # imagesVerification
    (
        "verification-without-key",
        with_image(imagesVerification={}),
        f"{I0}.imagesVerification",
        "error",
        "at least one verification method (cosignKey) is required",
    ),
    (
        "cosign-secret-missing",
        with_image(imagesVerification={"cosignKey": {"key": "cosign.pub"}}),
        f"{I0}.imagesVerification.cosignKey.secretName",
        "error",
        "is missing",
    ),
    (
        "cosign-secret-invalid",
        with_image(imagesVerification={"cosignKey": {"secretName": "Keys", "key": "k"}}),
        f"{I0}.imagesVerification.cosignKey.secretName",
        "error",
        "invalid Secret name 'Keys'",
    ),
    (
        "cosign-key-invalid",
        with_image(imagesVerification={"cosignKey": {"secretName": "keys", "key": "a/b"}}),
        f"{I0}.imagesVerification.cosignKey.key",
        "error",
        "invalid Secret data key",
    ),
    # writeBackConfig
    (
        "method-unknown",
        resource(ref("*", writeBackConfig={"method": "gitt"})),
        f"{R0}.writeBackConfig.method",
        "error",
        "unknown write-back method 'gitt'",
    ),
    (
        "method-secret-other-namespace",
        resource(ref("*", writeBackConfig={"method": "git:secret:other/creds"})),
        f"{R0}.writeBackConfig.method",
        "error",
        "own namespace 'argocd'",
    ),
    ("branch-two-colons", with_git(branch="a:b:c"), f"{GIT}.branch", "error", "more than one ':'"),
    (
        "branch-template-unclosed",
        with_git(branch="main:up-{{.SHA256"),
        f"{GIT}.branch",
        "error",
        "never closed",
    ),
    (
        "branch-invalid-ref",
        with_git(branch="ma..in"),
        f"{GIT}.branch",
        "error",
        "not a valid branch name",
    ),
    (
        "repository-with-credentials",
        with_git(repository="https://user:pw@github.com/o/r.git"),
        f"{GIT}.repository",
        "error",
        "embeds credentials",
    ),
    (
        "target-unknown-kind",
        with_git(writeBackTarget="helmvalue:values.yaml"),
        f"{GIT}.writeBackTarget",
        "error",
        "unknown write-back target kind 'helmvalue'",
    ),
    (
        "target-clobbers-kustomization",
        with_git(writeBackTarget="overlays/kustomization.yaml"),
        f"{GIT}.writeBackTarget",
        "error",
        "would be overwritten",
    ),
    (
        "target-typo",
        with_git(writeBackTarget="kustomisation"),
        f"{GIT}.writeBackTarget",
        "warning",
        "did you mean 'kustomization'?",
    ),
    (
        "pull-request-two-providers",
        with_git(pullRequest={"github": {}, "gitlab": {}}),
        f"{GIT}.pullRequest",
        "error",
        "Exactly one of github or gitlab must be set (found github and gitlab)",
    ),
    (
        "pull-request-no-provider",
        with_git(pullRequest={"labels": ["a"]}),
        f"{GIT}.pullRequest",
        "error",
        "(found neither)",
    ),
    (
        "pull-request-provider-takes-no-fields",
        with_git(pullRequest={"github": {"owner": "org"}}),
        f"{GIT}.pullRequest.github.owner",
        "error",
        "this object takes no fields",
    ),
    (
        "pull-request-empty-label",
        with_git(pullRequest={"github": {}, "labels": [""]}),
        f"{GIT}.pullRequest.labels[0]",
        "error",
        "1 to 255 characters",
    ),
    (
        "pull-request-colon-branch",
        with_git(branch="main:update", pullRequest={"github": {}}),
        f"{GIT}.branch",
        "error",
        "pull request mode does not support colon branch format",
    ),
    (
        "git-config-with-argocd",
        with_git(method="argocd", branch="main"),
        f"{GIT}.branch",
        "warning",
        "has no effect: the write-back method is 'argocd' (set by",
    ),
    (
        "git-config-default-method",
        resource(ref("*", writeBackConfig={"gitConfig": {"repository": "https://g/r.git"}})),
        f"{GIT}.repository",
        "warning",
        "'argocd' (the default)",
    ),
    (
        "unknown-git-field",
        with_git(branches="main"),
        f"{GIT}.branches",
        "error",
        "did you mean 'branch'?",
    ),
]


@pytest.mark.parametrize(
    ("obj", "path", "severity", "fragment"),
    [
        pytest.param(obj, path, severity, fragment, id=name)
        for name, obj, path, severity, fragment in CASES
    ],
)
def test_each_problem_names_the_field_at_fault(
    obj: Any, path: str, severity: Severity, fragment: str
) -> None:
    result = parse(obj)
    found = [p for p in result.problems if p.key == path and p.severity == severity]
    assert found, result.problems
    assert any(fragment in p.message for p in found), found


def test_every_problem_is_reported_at_once() -> None:
    obj = resource(
        ref("a", image("web", "nginx:latest"), commonUpdateSettings={"allowTags": "regexp:("}),
        ref("b", writeBackConfig={"method": "gitt"}),
        commonUpdateSettings={"updateStrategy": "semvr"},
    )
    keys = {p.key for p in parse(obj).errors}
    assert keys == {
        "spec.commonUpdateSettings.updateStrategy",
        f"{R0}.commonUpdateSettings.allowTags",
        f"{I0}.imageName",
        "spec.applicationRefs[1].writeBackConfig.method",
    }


def test_a_ref_with_bad_settings_still_selects_but_is_unusable_and_says_why() -> None:
    result = parse(resource(ref("a", image(name="nginx:latest")), ref("b")))
    assert result.updater is not None
    first, second = result.updater.refs
    assert isinstance(first.source, Unusable)
    assert [p.key for p in first.source.errors] == [f"{I0}.imageName"]
    assert isinstance(second.source, FromResource)


def test_a_problem_found_once_per_ref_on_an_inherited_value_is_reported_once() -> None:
    obj = resource(
        ref("a"),
        ref("b"),
        writeBackConfig={"method": "argocd", "gitConfig": {"branch": "main"}},
    )
    warnings = [p for p in parse(obj).problems if p.key == "spec.writeBackConfig.gitConfig.branch"]
    assert len(warnings) == 1


def test_operator_credentials_are_allowed_where_the_rules_allow_them() -> None:
    obj = with_settings(pullSecret="env:REGISTRY_CREDS")
    rules = CredentialRules(env_ext_namespaces=frozenset({"argocd"}))
    assert parse(obj, rules=rules).problems == ()


def test_other_namespaces_secrets_are_allowed_when_the_rules_allow_them() -> None:
    obj = with_settings(pullSecret="pullsecret:other/creds")
    assert parse(obj, rules=CredentialRules(allow_cross_namespace_secrets=True)).problems == ()


def test_many_unknown_fields_are_summarised() -> None:
    obj = top(**{f"x{i}": 1 for i in range(15)})
    problems = parse(obj).problems
    assert sum(1 for p in problems if p.key.startswith("x")) == 10
    assert any(p.key == "" and "5 more unknown fields" in p.message for p in problems)

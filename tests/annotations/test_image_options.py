"""Per-image and application-wide options: strategy, force-update, filters, secrets, platforms."""

from __future__ import annotations

import pytest

from imageupdater.platforms import Platform
from imageupdater.strategies import Strategy
from tests.annotations.builders import key, only_error, only_problem, parse_suffixes

IMAGE_LIST = key("image-list")


def one_image(**options: str) -> dict[str, str]:
    pairs = {"image-list": "web=nginx"}
    pairs.update({f"web.{k.replace('_', '-')}": v for k, v in options.items()})
    return pairs


# --- update-strategy --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("semver", Strategy.SEMVER, id="semver"),
        pytest.param("newest-build", Strategy.NEWEST_BUILD, id="newest-build"),
        pytest.param("alphabetical", Strategy.ALPHABETICAL, id="alphabetical"),
        pytest.param(" Alphabetical ", Strategy.ALPHABETICAL, id="any-case-and-spaces"),
    ],
)
def test_update_strategy_names_select_the_strategy(value: str, expected: Strategy) -> None:
    result = parse_suffixes(one_image(update_strategy=value))
    assert result.problems == ()
    assert result.config is not None
    assert result.config.images[0].strategy is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("latest", Strategy.NEWEST_BUILD, id="latest"),
        pytest.param("name", Strategy.ALPHABETICAL, id="name"),
    ],
)
def test_deprecated_strategy_names_work_with_a_warning(value: str, expected: Strategy) -> None:
    result = parse_suffixes(one_image(update_strategy=value))
    problem = only_problem(result)
    assert (problem.key, problem.severity) == (key("web.update-strategy"), "warning")
    assert problem.message == (
        f"update strategy '{value}' is a deprecated name for '{expected.value}'; "
        f"write '{expected.value}' instead"
    )
    assert result.config is not None
    assert result.config.images[0].strategy is expected


def test_an_unknown_strategy_is_an_error() -> None:
    problem = only_error(parse_suffixes(one_image(update_strategy="semvar")))
    assert problem.key == key("web.update-strategy")
    assert problem.message == (
        "unknown update strategy 'semvar'; expected one of semver, newest-build, "
        "alphabetical, digest"
    )


def test_the_digest_strategy_follows_the_tag_of_the_entry() -> None:
    result = parse_suffixes({"image-list": "web=nginx:stable", "web.update-strategy": "digest"})
    assert result.problems == ()
    assert result.config is not None
    policy = result.config.images[0]
    assert (policy.strategy, policy.constraint) == (Strategy.DIGEST, "stable")


@pytest.mark.parametrize(
    ("entry", "strategy_key", "message"),
    [
        pytest.param(
            "web=nginx",
            "web.update-strategy",
            "cannot use update strategy 'digest' (set by '{k}') for image 'web=nginx' without a "
            "version constraint (the tag to follow); write the image as <image>:<tag>, "
            "e.g. 'nginx:latest'",
            id="digest-without-tag",
        ),
        pytest.param(
            "web=nginx:~1.2",
            "web.update-strategy",
            "update strategy 'digest' (set by '{k}') follows one tag, but image 'web=nginx:~1.2' "
            "has the version constraint '~1.2'; write a plain tag such as 'latest'",
            id="digest-with-constraint",
        ),
        pytest.param(
            "web=nginx",
            "update-strategy",
            "cannot use update strategy 'digest' (set by '{k}') for image 'web=nginx' without a "
            "version constraint (the tag to follow); write the image as <image>:<tag>, "
            "e.g. 'nginx:latest'",
            id="app-wide-digest-without-tag",
        ),
    ],
)
def test_digest_needs_a_plain_tag_on_the_image_list_entry(
    entry: str, strategy_key: str, message: str
) -> None:
    problem = only_error(parse_suffixes({"image-list": entry, strategy_key: "digest"}))
    assert problem.key == IMAGE_LIST
    assert problem.message == message.format(k=key(strategy_key))


def test_an_invalid_semver_constraint_is_an_error_suggesting_digest_for_moving_tags() -> None:
    problem = only_error(parse_suffixes({"image-list": "web=nginx:latest"}))
    assert problem.key == IMAGE_LIST
    assert problem.message.startswith("image 'web=nginx:latest' has an invalid semver constraint: ")
    assert "'latest'" in problem.message
    assert problem.message.endswith(
        "to follow a moving tag such as 'latest' use update strategy 'digest'"
    )


@pytest.mark.parametrize("strategy", ["newest-build", "alphabetical"])
def test_a_constraint_is_ignored_with_a_warning_by_strategies_that_do_not_use_it(
    strategy: str,
) -> None:
    result = parse_suffixes({"image-list": "web=nginx:1.x", "web.update-strategy": strategy})
    problem = only_problem(result)
    assert (problem.key, problem.severity) == (IMAGE_LIST, "warning")
    assert problem.message == (
        f"the constraint '1.x' of image 'web=nginx:1.x' is ignored by update strategy "
        f"'{strategy}' (set by '{key('web.update-strategy')}'); it only applies to semver "
        "and digest"
    )
    assert result.config is not None


# --- force-update -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "true", "True"])
def test_go_parsebool_true_spellings_enable_force_update(value: str) -> None:
    result = parse_suffixes(one_image(force_update=value))
    assert result.config is not None
    assert result.config.images[0].force_update is True


@pytest.mark.parametrize("value", ["0", "f", "F", "FALSE", "false", "False"])
def test_go_parsebool_false_spellings_disable_force_update(value: str) -> None:
    result = parse_suffixes({**one_image(force_update=value), "force-update": "true"})
    assert result.config is not None
    assert result.config.images[0].force_update is False


@pytest.mark.parametrize("value", ["yes", "on", "tRuE", "2", ""])
def test_other_force_update_values_are_errors(value: str) -> None:
    problem = only_error(parse_suffixes(one_image(force_update=value)))
    assert problem.key == key("web.force-update")
    assert problem.message == (
        f"invalid boolean {value!r}; expected true or false "
        "(also accepted: 1, t, T, TRUE, True, 0, f, F, FALSE, False)"
    )


# --- allow-tags, tag-match, ignore-tags -------------------------------------------------


def test_allow_tags_compiles_an_re2_filter() -> None:
    result = parse_suffixes(one_image(allow_tags="regexp:^v[0-9]+$"))
    assert result.config is not None
    tag_filter = result.config.images[0].tag_filter
    assert tag_filter.keeps("v12")
    assert not tag_filter.keeps("v12-rc")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        pytest.param("^v1", "invalid allow-tags '^v1'", id="missing-regexp-prefix"),
        pytest.param("regex:^v1", "the prefix 'regex:' is not 'regexp:'", id="wrong-prefix"),
        pytest.param("regexp:(a", "not an RE2 expression", id="bad-regex"),
        pytest.param("regexp:(?=v)", "no backreferences", id="lookahead"),
    ],
)
def test_invalid_allow_tags_are_errors(value: str, fragment: str) -> None:
    problem = only_error(parse_suffixes(one_image(allow_tags=value)))
    assert problem.key == key("web.allow-tags")
    assert fragment in problem.message


def test_tag_match_is_a_deprecated_spelling_of_allow_tags() -> None:
    result = parse_suffixes(one_image(tag_match="regexp:^1"))
    problem = only_problem(result)
    assert (problem.key, problem.severity) == (key("web.tag-match"), "warning")
    assert problem.message == f"is deprecated; rename it to '{key('web.allow-tags')}'"
    assert result.config is not None
    assert not result.config.images[0].tag_filter.keeps("2.0")


def test_tag_match_is_ignored_when_allow_tags_is_set() -> None:
    result = parse_suffixes(one_image(tag_match="regexp:^1", allow_tags="regexp:^2"))
    problem = only_problem(result)
    assert problem.key == key("web.tag-match")
    assert problem.message == f"is ignored because '{key('web.allow-tags')}' is set"
    assert result.config is not None
    assert result.config.images[0].tag_filter.keeps("2.0")


def test_ignore_tags_are_comma_separated_globs() -> None:
    result = parse_suffixes(one_image(ignore_tags=" latest , dev-* "))
    assert result.config is not None
    tag_filter = result.config.images[0].tag_filter
    assert tag_filter.ignore == ("latest", "dev-*")
    assert not tag_filter.keeps("dev-3")
    assert tag_filter.keeps("1.0")


def test_an_empty_ignore_tags_item_is_dropped_with_a_warning() -> None:
    result = parse_suffixes(one_image(ignore_tags="dev,,test"))
    problem = only_problem(result)
    assert (problem.key, problem.severity) == (key("web.ignore-tags"), "warning")
    assert problem.message == (
        "'dev,,test' has an empty pattern between commas, which is ignored; "
        "expected comma-separated globs such as 'latest,dev-*'"
    )
    assert result.config is not None
    assert result.config.images[0].tag_filter.ignore == ("dev", "test")


@pytest.mark.parametrize(
    ("value", "glob"),
    [
        pytest.param("dev,[a", "[a", id="unclosed-class"),
        pytest.param("x\\", "x\\", id="trailing-backslash"),
        pytest.param("[]", "[]", id="empty-class"),
    ],
)
def test_a_malformed_glob_is_an_error(value: str, glob: str) -> None:
    problem = only_error(parse_suffixes(one_image(ignore_tags=value)))
    assert problem.key == key("web.ignore-tags")
    assert problem.message.startswith(f"invalid ignore-tags glob {glob!r}: ")
    assert "accepted: a glob" in problem.message


# --- pull-secret ------------------------------------------------------------------------


def test_a_pull_secret_is_parsed_as_a_credential_reference() -> None:
    result = parse_suffixes(one_image(pull_secret="pullsecret:argocd/regcred"), namespace="argocd")
    assert result.config is not None
    ref = result.config.images[0].pull_secret
    assert ref is not None
    assert (ref.kind, ref.namespace, ref.name) == ("pullsecret", "argocd", "regcred")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("secret:/x#f", id="empty-namespace"),
        pytest.param("secret:ns/x#", id="empty-field"),
        pytest.param("pullsecret:ns", id="no-name"),
        pytest.param("secrets:ns/x", id="unknown-type"),
        pytest.param("=secret:ns/x#f", id="empty-registry-prefix"),
    ],
)
def test_a_malformed_credential_reference_is_an_error(value: str) -> None:
    problem = only_error(parse_suffixes(one_image(pull_secret=value)))
    assert problem.key == key("web.pull-secret")
    assert problem.message.startswith(f"invalid credential reference {value!r}: ")
    assert "expected" in problem.message


def test_a_secret_from_another_namespace_is_an_error_when_the_namespace_is_known() -> None:
    pairs = one_image(pull_secret="secret:other/x#creds")
    assert parse_suffixes(pairs).config is not None
    problem = only_error(parse_suffixes(pairs, namespace="argocd"))
    assert problem.message == (
        "credential reference 'secret:other/x#creds' reads a secret in namespace 'other', "
        "but an Application may only use secrets of its own namespace 'argocd'"
    )


# --- platforms --------------------------------------------------------------------------


def test_platforms_are_parsed_for_strategies_that_read_manifests() -> None:
    result = parse_suffixes(
        one_image(update_strategy="newest-build", platforms="linux/amd64, linux/arm64/v8")
    )
    assert result.problems == ()
    assert result.config is not None
    assert result.config.images[0].platforms == (
        Platform("linux", "amd64"),
        Platform("linux", "arm64", "v8"),
    )


def test_platforms_without_effect_under_semver_are_a_warning() -> None:
    result = parse_suffixes(one_image(platforms="linux/arm64"))
    problem = only_problem(result)
    assert (problem.key, problem.severity) == (key("web.platforms"), "warning")
    assert problem.message == (
        "has no effect with update strategy 'semver', which never reads image manifests; "
        "platforms only matter for newest-build and digest"
    )


@pytest.mark.parametrize("value", ["linux", "linux/amd64/v1/x", "Linux/amd64", "linux/"])
def test_a_bad_platform_is_an_error(value: str) -> None:
    problem = only_error(
        parse_suffixes(one_image(update_strategy="newest-build", platforms=f"linux/amd64,{value}"))
    )
    assert problem.key == key("web.platforms")
    assert problem.message.startswith(f"invalid platform {value!r}")
    assert "os/arch[/variant]" in problem.message


# --- precedence -------------------------------------------------------------------------


def test_application_wide_defaults_apply_to_every_image() -> None:
    result = parse_suffixes(
        {
            "image-list": "web=nginx, redis",
            "update-strategy": "alphabetical",
            "force-update": "true",
            "allow-tags": "regexp:^1",
            "ignore-tags": "1.0",
            "pull-secret": "secret:argocd/creds#robot",
        }
    )
    assert result.problems == ()
    assert result.config is not None
    for policy in result.config.images:
        assert policy.strategy is Strategy.ALPHABETICAL
        assert policy.force_update is True
        assert policy.tag_filter.keeps("1.1")
        assert not policy.tag_filter.keeps("1.0")
        assert not policy.tag_filter.keeps("2.0")
        assert policy.pull_secret is not None
        assert policy.pull_secret.kind == "secret"


def test_image_specific_settings_win_over_application_wide_ones() -> None:
    result = parse_suffixes(
        {
            "image-list": "web=nginx, api=redis",
            "update-strategy": "alphabetical",
            "force-update": "true",
            "allow-tags": "regexp:^1",
            "ignore-tags": "1.0",
            "web.update-strategy": "newest-build",
            "web.force-update": "false",
            "web.allow-tags": "any",
            "web.ignore-tags": "2.0",
        }
    )
    assert result.problems == ()
    assert result.config is not None
    web, api = result.config.images
    assert (web.strategy, web.force_update) == (Strategy.NEWEST_BUILD, False)
    assert web.tag_filter.keeps("1.0") and not web.tag_filter.keeps("2.0")
    assert (api.strategy, api.force_update) == (Strategy.ALPHABETICAL, True)
    assert not api.tag_filter.keeps("1.0")


def test_v0_aliases_with_a_slash_are_configured_with_an_underscore_or_verbatim() -> None:
    result = parse_suffixes(
        {
            "image-list": "argoproj/argocd=argoproj/argocd, other/img=other/img",
            "argoproj_argocd.update-strategy": "alphabetical",
            "other/img.update-strategy": "newest-build",
        }
    )
    assert result.problems == ()
    assert result.config is not None
    assert [p.strategy for p in result.config.images] == [
        Strategy.ALPHABETICAL,
        Strategy.NEWEST_BUILD,
    ]


def test_setting_one_option_with_both_alias_spellings_is_an_error() -> None:
    result = parse_suffixes(
        {
            "image-list": "a/b=nginx",
            "a/b.update-strategy": "semver",
            "a_b.update-strategy": "alphabetical",
        }
    )
    problem = only_error(result)
    assert problem.key == key("a_b.update-strategy")
    assert problem.message == f"sets the same option as '{key('a/b.update-strategy')}'; keep one"

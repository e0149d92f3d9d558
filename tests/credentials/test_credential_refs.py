"""Parsing credential references: upstream's grammar, its errors, and round-trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.credentials import CredentialRef, Credentials
from imageupdater.errors import InvalidCredentialRef

VALID = [
    pytest.param(
        "pullsecret:argocd/regcred",
        CredentialRef("pullsecret", namespace="argocd", name="regcred"),
        id="pullsecret",
    ),
    pytest.param(
        "secret:argocd/dockerhub#creds",
        CredentialRef("secret", namespace="argocd", name="dockerhub", field="creds"),
        id="secret-with-field",
    ),
    pytest.param(
        "env:DOCKER_HUB_CREDS", CredentialRef("env", env_var="DOCKER_HUB_CREDS"), id="env"
    ),
    pytest.param(
        "ext:/app/scripts/ecr-login.sh",
        CredentialRef("ext", path="/app/scripts/ecr-login.sh"),
        id="ext-absolute-path",
    ),
    pytest.param(
        "gcr.io=secret:foo/bar#baz",
        CredentialRef("secret", namespace="foo", name="bar", field="baz", registry_prefix="gcr.io"),
        id="registry-prefix",
    ),
    pytest.param(
        "localhost:5000=env:LOCAL",
        CredentialRef("env", env_var="LOCAL", registry_prefix="localhost:5000"),
        id="registry-prefix-with-port",
    ),
    pytest.param(
        "SECRET:ns/name#f",
        CredentialRef("secret", namespace="ns", name="name", field="f"),
        id="type-is-case-insensitive",
    ),
    pytest.param(
        "PullSecret:ns/secret",
        CredentialRef("pullsecret", namespace="ns", name="secret"),
        id="secret-named-secret-mixed-case-type",
    ),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_a_valid_reference_parses_into_its_parts(text: str, expected: CredentialRef) -> None:
    assert CredentialRef.parse(text) == expected


INVALID = [
    pytest.param(
        "secret:/x#f",
        "the secret namespace is empty",
        "secret:<namespace>",
        id="secret-no-namespace",
    ),
    pytest.param(
        "secret:ns/#f", "the secret name is empty", "secret:<namespace>", id="secret-no-name"
    ),
    pytest.param(
        "secret:ns/x#", "the secret field after '#' is empty", "#<field>", id="secret-no-field"
    ),
    pytest.param("secret:ns/x", "no '#<field>'", "#<field>", id="secret-without-hash"),
    pytest.param(
        "secret:ns/a/b#f", "must not contain '/'", "secret:<namespace>", id="secret-extra-slash"
    ),
    pytest.param("secret:ns/x#f#g", "must not contain '#'", "#<field>", id="secret-extra-hash"),
    pytest.param(
        "pullsecret:/x",
        "the secret namespace is empty",
        "pullsecret:<namespace>/<name>",
        id="pullsecret-no-namespace",
    ),
    pytest.param(
        "pullsecret:ns", "no '/' between", "pullsecret:<namespace>/<name>", id="pullsecret-no-name"
    ),
    pytest.param(
        "pullsecret:ns/x#f",
        "takes no '#<field>'",
        "pullsecret:<namespace>/<name>",
        id="pullsecret-with-field",
    ),
    pytest.param(
        "gcr.io=secret:",
        "nothing follows 'secret:'",
        "secret:<namespace>",
        id="prefix-and-empty-definition",
    ),
    pytest.param(
        "secrets:ns/x#f",
        "not one of pullsecret, secret, env, ext",
        "env:<VARIABLE>",
        id="unknown-type",
    ),
    pytest.param(
        "=secret:ns/x#f",
        "registry prefix before '=' is empty",
        "<registry>=",
        id="empty-registry-prefix",
    ),
    pytest.param(
        "ext:relative/path", "must be absolute", "ext:</absolute/path>", id="ext-relative-path"
    ),
    pytest.param("env:", "nothing follows 'env:'", "env:<VARIABLE>", id="env-empty"),
    pytest.param("env", "no ':' between the type", "ext:</absolute/path>", id="no-colon"),
    pytest.param(":ns/x", "the type before ':' is empty", "secret:<namespace>", id="empty-type"),
    pytest.param("", "the reference is empty", "pullsecret:", id="empty"),
    pytest.param("env:A:B", "must not contain ':'", "env:<VARIABLE>", id="colon-in-definition"),
    pytest.param("secret:ns/x #f", "whitespace", "secret:<namespace>", id="whitespace"),
]


@pytest.mark.parametrize(("text", "reason", "accepted"), INVALID)
def test_an_invalid_reference_is_an_error_naming_value_reason_and_accepted_forms(
    text: str, reason: str, accepted: str
) -> None:
    with pytest.raises(InvalidCredentialRef) as caught:
        CredentialRef.parse(text)
    message = str(caught.value)
    assert f"invalid credential reference {text!r}" in message
    assert reason in message
    assert accepted in message


def test_a_hidden_value_stays_out_of_the_message_even_when_it_looks_like_a_password() -> None:
    with pytest.raises(InvalidCredentialRef) as caught:
        CredentialRef.parse("admin:S3cretPassw0rd", show_value=False)
    message = str(caught.value)
    assert "S3cretPassw0rd" not in message
    assert "admin" not in message
    assert "value not shown" in message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("pullsecret:argocd/regcred", id="pullsecret"),
        pytest.param("secret:argocd/dockerhub#creds", id="secret"),
        pytest.param("env:CREDS", id="env"),
        pytest.param("ext:/bin/creds", id="ext"),
        pytest.param("quay.io=pullsecret:a/b", id="prefixed"),
    ],
)
def test_str_gives_back_the_text_that_was_parsed(text: str) -> None:
    assert str(CredentialRef.parse(text)) == text


_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._", min_size=1, max_size=12)
_registry = st.none() | st.builds(lambda h, p: h + p, _word, st.sampled_from(["", ":5000"]))
_refs = st.one_of(
    st.builds(
        lambda ns, n, r: CredentialRef("pullsecret", namespace=ns, name=n, registry_prefix=r),
        _word,
        _word,
        _registry,
    ),
    st.builds(
        lambda ns, n, f, r: CredentialRef(
            "secret", namespace=ns, name=n, field=f, registry_prefix=r
        ),
        _word,
        _word,
        _word,
        _registry,
    ),
    st.builds(lambda v, r: CredentialRef("env", env_var=v, registry_prefix=r), _word, _registry),
    st.builds(
        lambda parts, r: CredentialRef("ext", path="/" + "/".join(parts), registry_prefix=r),
        st.lists(_word, min_size=1, max_size=4),
        _registry,
    ),
)


@given(_refs)
def test_any_reference_survives_a_round_trip_through_its_text(ref: CredentialRef) -> None:
    assert CredentialRef.parse(str(ref)) == ref


@given(_refs)
def test_the_case_of_the_type_never_changes_the_result(ref: CredentialRef) -> None:
    shouted = "".join(c.upper() if i % 2 else c for i, c in enumerate(ref.kind))
    prefix = f"{ref.registry_prefix}=" if ref.registry_prefix is not None else ""
    assert CredentialRef.parse(f"{prefix}{shouted}:{ref.definition}") == ref


@given(st.text(max_size=40) | st.text(alphabet="=:/#eEnvxtsécrpul /", max_size=30))
def test_parsing_arbitrary_text_either_succeeds_or_raises_invalid_credential_ref(text: str) -> None:
    try:
        ref = CredentialRef.parse(text)
    except InvalidCredentialRef:
        return
    assert CredentialRef.parse(str(ref)) == ref


def test_credentials_never_show_the_password() -> None:
    creds = Credentials("robot", "hunter2-very-secret")
    for rendering in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert "hunter2-very-secret" not in rendering
        assert "robot" in rendering
    assert repr(creds) == "Credentials(username='robot', password=<redacted>)"


def test_credentials_compare_by_username_and_password() -> None:
    assert Credentials("u", "a") == Credentials("u", "a")
    assert Credentials("u", "a") != Credentials("u", "b")

"""Www-Authenticate challenges, token answers and credential identities."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from imageupdater.errors import RegistryProtocolError
from imageupdater.registry.auth import (
    Challenge,
    credentials_identity,
    parse_challenges,
    parse_token_answer,
    pull_scope,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
            [
                Challenge(
                    "bearer",
                    {"realm": "https://auth.docker.io/token", "service": "registry.docker.io"},
                )
            ],
            id="docker-hub-bearer",
        ),
        pytest.param(
            'Bearer realm="http://127.0.0.1:5053/token",service="test",'
            'scope="repository:tok/app:pull,push"',
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "http://127.0.0.1:5053/token",
                        "service": "test",
                        "scope": "repository:tok/app:pull,push",
                    },
                )
            ],
            id="scope-with-a-comma-inside-quotes",
        ),
        pytest.param(
            'Basic realm="test-realm"', [Challenge("basic", {"realm": "test-realm"})], id="basic"
        ),
        pytest.param(
            'Basic realm="a", Bearer realm="https://x/token"',
            [Challenge("basic", {"realm": "a"}), Challenge("bearer", {"realm": "https://x/token"})],
            id="two-challenges-in-one-header",
        ),
        pytest.param(
            "BEARER Realm=https://x/token , Service=svc",
            [Challenge("bearer", {"realm": "https://x/token", "service": "svc"})],
            id="unquoted-values-and-any-case",
        ),
        pytest.param(
            'Bearer realm="a \\"quoted\\" realm"',
            [Challenge("bearer", {"realm": 'a "quoted" realm'})],
            id="escaped-quotes",
        ),
        pytest.param("", [], id="empty"),
    ],
)
def test_challenges_are_parsed_like_the_distribution_client_does(
    header: str, expected: list[Challenge]
) -> None:
    assert list(parse_challenges(header)) == expected


_tokens = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=12)
_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\'),
    max_size=30,
)


@given(
    scheme=st.sampled_from(["Bearer", "Basic"]),
    params=st.dictionaries(_tokens, _values, max_size=4),
)
def test_any_quoted_parameter_list_round_trips(scheme: str, params: dict[str, str]) -> None:
    header = scheme + " " + ",".join(f'{k}="{v}"' for k, v in params.items())
    (challenge,) = parse_challenges(header)
    assert challenge.scheme == scheme.lower()
    assert dict(challenge.params) == {k.lower(): v for k, v in params.items()}


@given(st.text(max_size=200))
def test_the_challenge_parser_never_fails_on_garbage(header: str) -> None:
    for challenge in parse_challenges(header):
        assert challenge.scheme


def test_a_pull_scope_names_the_repository() -> None:
    assert pull_scope("ghcr.io", "argoproj/argocd") == "repository:argoproj/argocd:pull"
    assert pull_scope("x.azurecr.io", "app") == "repository:app:pull,metadata_read,content_read"


def test_a_token_answer_expires_a_margin_before_the_server_says() -> None:
    token = parse_token_answer(b'{"token": "abc", "expires_in": 300}', registry="r", now=100.0)
    assert token.value == "abc"
    assert 380.0 <= token.expires_at < 400.0


def test_a_token_answer_without_expiry_lasts_sixty_seconds_minus_the_margin() -> None:
    token = parse_token_answer(b'{"access_token": "abc"}', registry="r", now=0.0)
    assert 30.0 <= token.expires_at < 60.0


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"[]", id="not-an-object"),
        pytest.param(b'{"expires_in": 5}', id="no-token"),
    ],
)
def test_a_broken_token_answer_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(RegistryProtocolError, match="registry r: the token server"):
        parse_token_answer(body, registry="r", now=0.0)


def test_a_token_never_shows_its_value() -> None:
    token = parse_token_answer(b'{"token": "s3cr3t-token"}', registry="r", now=0.0)
    assert "s3cr3t-token" not in repr(token)
    assert "s3cr3t-token" not in str(token)


@given(user=st.text(max_size=20), password=st.text(min_size=4, max_size=40))
def test_a_credentials_identity_reveals_neither_part(user: str, password: str) -> None:
    assume(any(c not in "0123456789abcdef" for c in password))
    identity = credentials_identity(user, password)
    assert identity.startswith("id:")
    assert password not in identity
    assert identity != credentials_identity(user, password + "x")


def test_anonymous_access_has_the_empty_identity() -> None:
    assert credentials_identity(None, None) == ""

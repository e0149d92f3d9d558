"""Which proxy a request takes, from the environment as Go's ProxyFromEnvironment reads it."""

from __future__ import annotations

import pytest
from yarl import URL

from imageupdater.registry.proxies import EnvProxies, UnusableProxy

PROXY = "http://proxy.corp:3128"


def chosen(environ: dict[str, str], url: str) -> str | None:
    choice = EnvProxies.from_environ(environ).for_url(URL(url))
    assert not isinstance(choice, UnusableProxy)
    return None if choice is None else str(choice)


@pytest.mark.parametrize(
    ("environ", "url", "expected"),
    [
        pytest.param({}, "https://ghcr.io", None, id="nothing-set"),
        pytest.param({"HTTPS_PROXY": PROXY}, "https://ghcr.io", PROXY, id="https-uses-https-proxy"),
        pytest.param({"HTTPS_PROXY": PROXY}, "http://harbor", None, id="http-ignores-https-proxy"),
        pytest.param({"HTTP_PROXY": PROXY}, "https://ghcr.io", None, id="https-ignores-http-proxy"),
        pytest.param({"http_proxy": PROXY}, "http://harbor", PROXY, id="lower-case-name"),
        pytest.param(
            {"HTTPS_PROXY": PROXY, "https_proxy": "http://other:1"},
            "https://ghcr.io",
            PROXY,
            id="upper-case-name-wins",
        ),
        pytest.param(
            {"HTTPS_PROXY": "proxy.corp:3128"}, "https://ghcr.io", PROXY, id="no-scheme-means-http"
        ),
        pytest.param(
            {"HTTP_PROXY": PROXY, "REQUEST_METHOD": "GET"}, "http://harbor", None, id="cgi"
        ),
        pytest.param({"HTTPS_PROXY": PROXY}, "https://localhost:5000", None, id="localhost"),
        pytest.param({"HTTPS_PROXY": PROXY}, "https://127.0.0.9", None, id="loopback-v4"),
        pytest.param({"HTTPS_PROXY": PROXY}, "https://[::1]:5000", None, id="loopback-v6"),
        pytest.param({"HTTPS_PROXY": PROXY, "NO_PROXY": "*"}, "https://ghcr.io", None, id="star"),
        pytest.param(
            {"HTTPS_PROXY": PROXY, "NO_PROXY": "ghcr.io"}, "https://ghcr.io", None, id="exact"
        ),
        pytest.param(
            {"HTTPS_PROXY": PROXY, "NO_PROXY": "GHCR.io"}, "https://ghcr.io", None, id="any-case"
        ),
        pytest.param(
            {"HTTPS_PROXY": PROXY, "no_proxy": "corp"}, "https://harbor.corp", None, id="subdomain"
        ),
        pytest.param(
            {"HTTPS_PROXY": PROXY, "NO_PROXY": "corp"},
            "https://harborcorp",
            PROXY,
            id="not-a-subdomain",
        ),
        pytest.param(
            {"HTTPS_PROXY": PROXY, "NO_PROXY": ".corp"}, "https://corp", PROXY, id="dot-only-subs"
        ),
        pytest.param(
            {"HTTPS_PROXY": PROXY, "NO_PROXY": "*.corp"}, "https://a.corp", None, id="star-dot"
        ),
        pytest.param(
            {"HTTPS_PROXY": PROXY, "NO_PROXY": "harbor.corp:8443"},
            "https://harbor.corp:8443",
            None,
            id="host-and-port",
        ),
        pytest.param(
            {"HTTPS_PROXY": PROXY, "NO_PROXY": "harbor.corp:8443"},
            "https://harbor.corp",
            PROXY,
            id="other-port",
        ),
        pytest.param(
            {"HTTPS_PROXY": PROXY, "NO_PROXY": "harbor.corp:443"},
            "https://harbor.corp",
            None,
            id="default-port-counts",
        ),
        pytest.param(
            {"HTTPS_PROXY": PROXY, "NO_PROXY": "10.0.0.0/8"}, "https://10.1.2.3", None, id="cidr"
        ),
        pytest.param(
            {"HTTPS_PROXY": PROXY, "NO_PROXY": "10.0.0.0/8"},
            "https://11.1.2.3",
            PROXY,
            id="outside-cidr",
        ),
        pytest.param(
            {"HTTPS_PROXY": PROXY, "NO_PROXY": "192.168.1.5"},
            "https://192.168.1.5:5000",
            None,
            id="one-address",
        ),
        pytest.param(
            {"HTTPS_PROXY": PROXY, "NO_PROXY": "[fd00::5]:443"},
            "https://[fd00::5]",
            None,
            id="v6-address-and-port",
        ),
        pytest.param(
            {"HTTPS_PROXY": PROXY, "NO_PROXY": " , nonsense/99 ,, ghcr.io "},
            "https://ghcr.io",
            None,
            id="blanks-and-nonsense-skipped",
        ),
    ],
)
def test_the_proxy_for_a_request_follows_go_rules(
    environ: dict[str, str], url: str, expected: str | None
) -> None:
    assert chosen(environ, url) == expected


def test_proxy_credentials_are_kept_for_the_proxy() -> None:
    choice = EnvProxies.from_environ({"HTTPS_PROXY": "http://robot:s3cret@proxy:3128"}).for_url(
        URL("https://ghcr.io")
    )
    assert isinstance(choice, URL)
    assert (choice.user, choice.password) == ("robot", "s3cret")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            "socks5://robot:s3cret@proxy:1080",
            "HTTPS_PROXY='socks5://robot@proxy:1080' uses scheme 'socks5', which the registry "
            "client cannot use (accepted: http://, https://)",
            id="socks-password-hidden",
        ),
        pytest.param(
            "http://proxy:99999",
            "HTTPS_PROXY='http://proxy:99999' is not a proxy URL (expected http://host:port)",
            id="bad-port",
        ),
        pytest.param(
            "http://robot:s3cret@[oops",
            "HTTPS_PROXY is not a proxy URL (expected http://host:port)",
            id="unparseable-with-password-not-shown",
        ),
    ],
)
def test_an_unusable_proxy_is_named_with_what_would_be_accepted(value: str, expected: str) -> None:
    choice = EnvProxies.from_environ({"HTTPS_PROXY": value}).for_url(URL("https://ghcr.io"))
    assert choice == UnusableProxy("HTTPS_PROXY", expected)

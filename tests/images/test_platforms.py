"""Platforms: the os/arch[/variant] form, the updater's own platform, and matching."""

from __future__ import annotations

import platform
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.errors import InvalidPlatform
from imageupdater.platforms import (
    Platform,
    current_platform,
    parse_platforms,
    platform_matches,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("linux/amd64", Platform("linux", "amd64"), id="os-arch"),
        pytest.param("linux/arm64/v8", Platform("linux", "arm64", "v8"), id="with-variant"),
        pytest.param(" windows/amd64 ", Platform("windows", "amd64"), id="trimmed"),
        pytest.param("linux/386", Platform("linux", "386"), id="numeric-arch"),
        pytest.param("linux/ppc64le", Platform("linux", "ppc64le"), id="ppc64le"),
    ],
)
def test_valid_platforms_parse(text: str, expected: Platform) -> None:
    assert Platform.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("linux", "os/arch[/variant]", id="os-alone"),
        pytest.param("", "os/arch[/variant]", id="empty"),
        pytest.param("linux/", "architecture is empty", id="missing-arch"),
        pytest.param("/amd64", "os is empty", id="missing-os"),
        pytest.param("linux//v7", "architecture is empty", id="empty-middle"),
        pytest.param("linux/arm/", "variant is empty", id="empty-variant"),
        pytest.param("linux/arm/v7/extra", "os/arch[/variant]", id="too-many-parts"),
        pytest.param("Linux/AMD64", "lower case", id="upper-case"),
        pytest.param("linux/amd 64", "not a name", id="space-inside"),
        pytest.param("linux/-arm", "not a name", id="leading-dash"),
        pytest.param("linux,amd64", "os/arch[/variant]", id="comma-instead-of-slash"),
    ],
)
def test_malformed_platforms_are_errors_naming_the_value_and_form(text: str, reason: str) -> None:
    with pytest.raises(InvalidPlatform) as caught:
        Platform.parse(text)
    message = str(caught.value)
    assert reason in message
    assert repr(text) in message
    assert "os/arch[/variant]" in message


@pytest.mark.parametrize(
    "text", ["linux/amd64", "linux/arm/v7", "windows/arm64", "darwin/arm64/v8"]
)
def test_a_platform_formats_as_it_was_written(text: str) -> None:
    assert str(Platform.parse(text)) == text


_name = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,8}", fullmatch=True)


@given(_name, _name, st.just("") | _name)
def test_formatting_then_parsing_gives_back_the_same_platform(
    os_name: str, arch: str, variant: str
) -> None:
    value = Platform(os_name, arch, variant)
    assert Platform.parse(str(value)) == value


def test_platform_lists_split_commas_keep_order_and_drop_repeats() -> None:
    assert parse_platforms(["linux/arm64, linux/amd64", "linux/arm64", "linux/arm/v7"]) == (
        Platform("linux", "arm64"),
        Platform("linux", "amd64"),
        Platform("linux", "arm", "v7"),
    )


def test_blank_platform_entries_name_nothing() -> None:
    assert parse_platforms(["", "linux/amd64,", " , "]) == (Platform("linux", "amd64"),)


def test_one_bad_entry_in_a_list_is_an_error() -> None:
    with pytest.raises(InvalidPlatform, match="'arm64'"):
        parse_platforms(["linux/amd64,arm64"])


L_AMD64 = Platform("linux", "amd64")
L_ARM64 = Platform("linux", "arm64")
L_ARM64_V8 = Platform("linux", "arm64", "v8")
L_ARM = Platform("linux", "arm")
L_ARM_V6 = Platform("linux", "arm", "v6")
L_ARM_V7 = Platform("linux", "arm", "v7")
W_AMD64 = Platform("windows", "amd64")


@pytest.mark.parametrize(
    ("wanted", "actual", "matches"),
    [
        pytest.param((), L_ARM_V7, True, id="nothing-wanted-accepts-anything"),
        pytest.param((L_AMD64,), L_AMD64, True, id="exact"),
        pytest.param((L_AMD64,), L_ARM64, False, id="other-arch"),
        pytest.param((L_AMD64,), W_AMD64, False, id="other-os"),
        pytest.param((L_ARM64,), L_ARM64_V8, True, id="variant-less-wanted-takes-a-variant"),
        pytest.param((L_ARM,), L_ARM_V7, True, id="arm-takes-v7"),
        pytest.param((L_ARM_V6,), L_ARM, False, id="wanted-variant-rejects-variant-less"),
        pytest.param((L_ARM_V6,), L_ARM_V7, False, id="wanted-variant-rejects-other-variant"),
        pytest.param((L_ARM_V7,), L_ARM_V7, True, id="same-variant"),
        pytest.param((L_AMD64, L_ARM_V7), L_ARM_V7, True, id="any-of-several"),
        pytest.param((L_AMD64, L_ARM_V6), L_ARM64, False, id="none-of-several"),
    ],
)
def test_platform_matching_follows_upstream_rules(
    wanted: tuple[Platform, ...], actual: Platform, matches: bool
) -> None:
    assert platform_matches(wanted, actual) is matches


@pytest.mark.parametrize(
    ("machine", "system", "expected"),
    [
        pytest.param("x86_64", "linux", L_AMD64, id="linux-x86_64"),
        pytest.param("AMD64", "win32", W_AMD64, id="windows-AMD64"),
        pytest.param("aarch64", "linux", L_ARM64, id="linux-aarch64"),
        pytest.param("arm64", "darwin", Platform("darwin", "arm64"), id="macos-arm64"),
        pytest.param("armv7l", "linux", L_ARM_V7, id="armv7l"),
        pytest.param("armv6l", "linux", L_ARM_V6, id="armv6l"),
        pytest.param("i686", "linux", Platform("linux", "386"), id="i686"),
        pytest.param("i386", "linux", Platform("linux", "386"), id="i386"),
        pytest.param("ppc64le", "linux", Platform("linux", "ppc64le"), id="ppc64le"),
        pytest.param("s390x", "linux", Platform("linux", "s390x"), id="s390x"),
        pytest.param("riscv64", "linux", Platform("linux", "riscv64"), id="riscv64"),
        pytest.param("amd64", "freebsd14", Platform("freebsd", "amd64"), id="freebsd"),
    ],
)
def test_the_own_platform_uses_go_names(machine: str, system: str, expected: Platform) -> None:
    assert current_platform(machine=machine, system=system) == expected


@pytest.mark.parametrize(
    ("machine", "system", "named"),
    [
        pytest.param("vax", "linux", "'vax'", id="unknown-machine"),
        pytest.param("x86_64", "plan9", "'plan9'", id="unknown-system"),
    ],
)
def test_an_unnameable_own_platform_asks_for_explicit_platforms(
    machine: str, system: str, named: str
) -> None:
    with pytest.raises(InvalidPlatform, match="explicitly") as caught:
        current_platform(machine=machine, system=system)
    assert named in str(caught.value)


def test_the_own_platform_defaults_to_this_interpreters_machine_and_system() -> None:
    assert current_platform() == current_platform(machine=platform.machine(), system=sys.platform)

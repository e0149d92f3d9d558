"""Where a git write-back writes (upstream §11.3 path rules) and the override file it writes,
byte for byte with upstream's test vectors."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.errors import WriteBackTargetError
from imageupdater.gitops.overridefile import render_override_file
from imageupdater.gitops.paths import ResolvedTarget, key_target, override_file_name, resolve_target
from imageupdater.policy import WriteBackTarget


def resolve(
    text: str | None, source_path: str = "apps/guestbook", namespace: str = "argocd"
) -> ResolvedTarget:
    return resolve_target(
        WriteBackTarget.parse(text),
        source_path=source_path,
        app_name="guestbook",
        app_namespace=namespace,
        argocd_namespace="argocd",
    )


@pytest.mark.parametrize(
    ("text", "source_path", "kind", "path"),
    [
        (None, "apps/guestbook", "override", "apps/guestbook/.argocd-source-guestbook.yaml"),
        (None, "", "override", ".argocd-source-guestbook.yaml"),
        (None, ".", "override", ".argocd-source-guestbook.yaml"),
        ("kustomization", "apps/guestbook", "kustomization", "apps/guestbook"),
        ("kustomization:../base", "apps/guestbook", "kustomization", "apps/base"),
        ("kustomization:/base", "apps/guestbook", "kustomization", "base"),
        ("kustomization:.", "apps/guestbook", "kustomization", "apps/guestbook"),
        ("helmvalues", "charts/app", "helmvalues", "charts/app/values.yaml"),
        ("helmvalues:values-prod.yaml", "charts/app", "helmvalues", "charts/app/values-prod.yaml"),
        ("helmvalues:/env/prod/values.yaml", "charts/app", "helmvalues", "env/prod/values.yaml"),
        ("helmvalues:../values.yaml", "charts/app", "helmvalues", "charts/values.yaml"),
        # A bare path is relative to the repository root, not the source path (as upstream).
        ("overrides/app.yaml", "apps/guestbook", "override", "overrides/app.yaml"),
        ("/overrides/app.yaml", "apps/guestbook", "override", "overrides/app.yaml"),
        ("./a/./b/../c.yaml", "x", "override", "a/c.yaml"),
    ],
)
def test_targets_resolve_as_upstream_resolves_them(
    text: str | None, source_path: str, kind: str, path: str
) -> None:
    assert resolve(text, source_path) == ResolvedTarget(kind, path)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "source_path"),
    [
        ("kustomization:../../..", "apps/guestbook"),
        ("helmvalues:../../../etc/passwd", "apps/guestbook"),
        ("../outside.yaml", "apps"),
        ("a/../../outside.yaml", ""),
        (None, "../.."),
    ],
)
def test_a_target_that_escapes_the_repository_is_an_error(
    text: str | None, source_path: str
) -> None:
    with pytest.raises(WriteBackTargetError, match="outside the repository"):
        resolve(text, source_path)


@pytest.mark.parametrize(
    ("namespace", "argocd_namespace", "name"),
    [
        ("argocd", "argocd", ".argocd-source-guestbook.yaml"),
        ("team-a", "argocd", ".argocd-source-team-a_guestbook.yaml"),
        ("team-a", "default", ".argocd-source-guestbook.yaml"),
        ("team-a", None, ".argocd-source-guestbook.yaml"),
        ("", "argocd", ".argocd-source-guestbook.yaml"),
    ],
)
def test_the_default_override_file_names_the_namespace_only_outside_argocds(
    namespace: str, argocd_namespace: str | None, name: str
) -> None:
    assert override_file_name("guestbook", namespace, argocd_namespace) == name


def test_a_kustomization_targets_key_is_the_default_override_file_as_upstream_hashes_it() -> None:
    target = resolve("kustomization:../base")
    assert (
        key_target(
            target,
            source_path="apps/guestbook",
            app_name="guestbook",
            app_namespace="argocd",
            argocd_namespace="argocd",
        )
        == "apps/guestbook/.argocd-source-guestbook.yaml"
    )


# ---- the override file: upstream's Test_MarshalParamsOverride vectors ----

KUSTOMIZE_VECTORS = [
    pytest.param(
        "\nkustomize:\n  images:\n  - baz\n",
        ["foo", "bar"],
        "kustomize:\n  images:\n  - baz\n  - foo\n  - bar\n",
        id="valid-kustomize-source",
    ),
    pytest.param(
        "\nkustomize:\n  images:\n  - existing:latest\n  - updated:old\n",
        ["new", "updated:latest"],
        "kustomize:\n  images:\n  - existing:latest\n  - updated:latest\n  - new\n",
        id="merge-images-param",
    ),
    pytest.param(
        "\nkustomize:\n  images:\n  - docker.io/jannfis/foobar:1.0.0\n",
        ["jannfis/foobar:1.0.1"],
        "kustomize:\n  images:\n  - jannfis/foobar:1.0.1\n",
        id="issue-1411-docker-io-explicit-vs-implicit",
    ),
    pytest.param(
        None,
        ["gcr.io/jannfis/foobar:1.0.3"],
        "kustomize:\n  images:\n  - gcr.io/jannfis/foobar:1.0.3\n",
        id="new-file",
    ),
    pytest.param(
        "kustomize:\n  images:\n  - nginx:1.0\n",
        ["nginx"],
        "kustomize:\n  images:\n  - nginx:1.0\n",
        id="an-untagged-new-entry-keeps-the-tagged-one",
    ),
    pytest.param(
        "kustomize:\n  images:\n  - app=reg.io/app:1.0\n",
        ["app=reg.io/app:1.1@sha256:" + "a" * 64],
        "kustomize:\n  images:\n  - app=reg.io/app:1.1@sha256:" + "a" * 64 + "\n",
        id="alias-entry-replaced-with-digest",
    ),
]


@pytest.mark.parametrize(("existing", "entries", "expected"), KUSTOMIZE_VECTORS)
def test_kustomize_override_files_merge_as_upstreams(
    existing: str | None, entries: list[str], expected: str
) -> None:
    assert render_override_file(existing, "kustomize", entries).content == expected


def test_helm_override_files_hold_managed_parameters_merged_and_sorted() -> None:
    existing = "\nhelm:\n  parameters:\n  - name: baz\n    value: baz\n    forcestring: false\n"
    assert render_override_file(existing, "helm", []).content == (
        "helm:\n  parameters:\n  - name: baz\n    value: baz\n    forcestring: false\n"
    )
    managed = [
        {"name": "image.tag", "value": "1.2.3", "forceString": True},
        {"name": "image.name", "value": "nginx", "forceString": True},
    ]
    assert render_override_file(None, "helm", managed).content == (
        "helm:\n  parameters:\n"
        "  - name: image.name\n    value: nginx\n    forcestring: true\n"
        "  - name: image.tag\n    value: 1.2.3\n    forcestring: true\n"
    )
    assert render_override_file(None, "helm", []).content == "helm:\n  parameters: []\n"


def test_plugin_override_files_hold_env_merged_by_name() -> None:
    existing = (
        "plugin:\n  env:\n  - name: OTHER\n    value: x\n  - name: IMAGE_TAG\n    value: 6.0.0\n"
    )
    entries = [
        {"name": "IMAGE_NAME", "value": "myregistry/redis"},
        {"name": "IMAGE_TAG", "value": "7.0.0"},
    ]
    assert render_override_file(existing, "plugin", entries).content == (
        "plugin:\n  env:\n"
        "  - name: OTHER\n    value: x\n"
        "  - name: IMAGE_TAG\n    value: 7.0.0\n"
        "  - name: IMAGE_NAME\n    value: myregistry/redis\n"
    )


@pytest.mark.parametrize(
    ("existing", "prefix"),
    [
        ("---\nkustomize:\n  images:\n  - baz\n", "---\n"),
        ("---\t# header\nkustomize:\n  images:\n  - baz\n", "---\t# header\n"),
        ("%YAML 1.2\n---\nkustomize:\n  images:\n  - baz\n", "%YAML 1.2\n---\n"),
        (
            "# owned by the platform team\n\n---\nkustomize: {}\n",
            "# owned by the platform team\n\n---\n",
        ),
        ("kustomize:\n  images:\n  - baz\n", ""),
        ("   ---\nkustomize:\n  images:\n  - baz\n", ""),
        ("# a comment without a marker\nkustomize:\n  images: []\n", ""),
    ],
)
def test_the_leading_run_before_a_document_marker_is_kept_verbatim(
    existing: str, prefix: str
) -> None:
    content = render_override_file(existing, "kustomize", ["foo"]).content
    assert content.startswith(prefix + "kustomize:\n")


@pytest.mark.parametrize(
    "existing", ["{{{ not yaml", "kustomize: [1, 2]\n", "- a list\n", "kustomize:\n  images: 7\n"]
)
def test_an_unparseable_override_file_is_replaced_and_said(existing: str) -> None:
    rendered = render_override_file(existing, "kustomize", ["foo:1"])
    assert rendered.content == "kustomize:\n  images:\n  - foo:1\n"
    assert rendered.replaced_unparseable


def test_values_yaml_would_retype_are_quoted() -> None:
    params = [
        {"name": n, "value": v, "forceString": True}
        for n, v in [("a", "1.20"), ("b", "on"), ("c", "0755"), ("d", "~")]
    ]
    content = render_override_file(None, "helm", params).content
    for value in ('"1.20"', '"on"', '"0755"', '"~"'):
        assert f"value: {value}\n" in content


@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=4))
def test_any_helm_value_reads_back_as_written(values: list[str]) -> None:
    params = [{"name": f"p{i}", "value": v, "forceString": True} for i, v in enumerate(values)]
    document = yaml.safe_load(render_override_file(None, "helm", params).content)
    assert [p["value"] for p in document["helm"]["parameters"]] == values


def test_rendering_twice_is_rendering_once() -> None:
    entries = ["reg.io/a:1.1", "b:2"]
    once = render_override_file(
        "kustomize:\n  images:\n  - reg.io/a:1.0\n", "kustomize", entries
    ).content
    assert render_override_file(once, "kustomize", entries).content == once

"""``image-updater migrate FILE...``: grouping, names, output, and what it says and exits
with when something cannot be converted (run in-process through the command's parser)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from imageupdater.imageupdaters import bind, parse
from imageupdater.imageupdaters.model import FromResource
from tests.migrate.helpers import Ran, application, configured, migrate, same_but_aliases

SHOP = {"image-list": "web=ghcr.io/org/web:1.x, api=ghcr.io/org/api:~2", "force-update": "true"}
BLOG = {"image-list": "cms=ghcr.io/org/cms:latest", "cms.update-strategy": "digest"}
TEAM = {
    "image-list": "svc=registry.team/svc",
    "update-strategy": "newest-build",
    "write-back-method": "git",
    "git-branch": "main",
}
BROKEN = {"image-list": "web=ghcr.io/org/web:1.x", "web.allow-tags": "regexp:(("}


def write(path: Path, *documents: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


@pytest.fixture
def apps(tmp_path: Path) -> Path:
    return write(
        tmp_path / "apps.yaml",
        application("shop", SHOP),
        application("blog", BLOG),
        application("plain"),
        application("svc", TEAM, namespace="team-a"),
        application("local", BLOG, namespace=None),
    )


def resources(ran: Ran) -> dict[tuple[str | None, str], dict[str, Any]]:
    return {
        (doc["metadata"].get("namespace"), doc["metadata"]["name"]): doc for doc in ran.documents
    }


def assert_configures(resource: dict[str, Any], name: str, pairs: dict[str, str]) -> None:
    """``resource`` selects the Application ``name`` and reads back as its annotations."""
    result = parse(resource)
    assert not result.errors, result.errors
    assert result.updater is not None
    namespace = resource["metadata"].get("namespace")
    binding = bind(result.updater, {"metadata": {"name": name, "namespace": namespace}})
    assert binding is not None
    assert isinstance(binding.source, FromResource)
    assert same_but_aliases(binding.source.config, configured(pairs, namespace))


def test_one_resource_per_namespace_configures_each_application(
    capsys: pytest.CaptureFixture[str], apps: Path
) -> None:
    ran = migrate(capsys, str(apps))
    assert ran.code == 0, ran.err
    found = resources(ran)
    assert list(found) == [(None, "migrated"), ("argocd", "migrated"), ("team-a", "migrated")]
    patterns = [r["namePattern"] for r in found["argocd", "migrated"]["spec"]["applicationRefs"]]
    assert patterns == ["blog", "shop"]  # in name order, whatever the input order
    assert_configures(found["argocd", "migrated"], "shop", SHOP)
    assert_configures(found["argocd", "migrated"], "blog", BLOG)
    assert_configures(found["team-a", "migrated"], "svc", TEAM)
    assert_configures(found[None, "migrated"], "local", BLOG)
    assert "namespace" not in found[None, "migrated"]["metadata"]
    assert ran.lines("argocd/plain: note: skipped: no argocd-image-updater.argoproj.io/*")
    assert ran.lines("4 Applications converted into 3 ImageUpdaters")


def test_the_output_is_yaml_documents_with_a_header_and_is_stable(
    capsys: pytest.CaptureFixture[str], apps: Path, tmp_path: Path
) -> None:
    first = migrate(capsys, str(apps))
    assert first.out.startswith("# ImageUpdater resources written by `image-updater migrate`")
    assert first.out.count("\n---\n") == 3
    documents = list(yaml.safe_load_all(apps.read_text()))
    reordered = write(tmp_path / "reordered.yaml", *reversed(documents))
    assert migrate(capsys, str(reordered)).out == first.out


def test_per_application_names_each_resource_after_its_application(
    capsys: pytest.CaptureFixture[str], apps: Path
) -> None:
    ran = migrate(capsys, str(apps), "--per-application")
    assert ran.code == 0, ran.err
    found = resources(ran)
    assert list(found) == [
        (None, "local"),
        ("argocd", "blog"),
        ("argocd", "shop"),
        ("team-a", "svc"),
    ]
    assert_configures(found["argocd", "shop"], "shop", SHOP)
    assert len(found["argocd", "shop"]["spec"]["applicationRefs"]) == 1

    ran = migrate(capsys, str(apps), "--per-application", "--name", "iu-{app}")
    assert sorted(name for _, name in resources(ran)) == [
        "iu-blog",
        "iu-local",
        "iu-shop",
        "iu-svc",
    ]


def test_name_sets_the_resource_name(capsys: pytest.CaptureFixture[str], apps: Path) -> None:
    ran = migrate(capsys, str(apps), "--name", "from-annotations")
    assert {name for _, name in resources(ran)} == {"from-annotations"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--per-application", "--name", "fixed"], "it must contain {app}"),
        (["--name", "x-{app}"], "use it with --per-application"),
        (["--name", "Not_A_Name"], "not a resource name"),
        (["--namespace", "argocd"], "--namespace reads from a cluster"),
        (["--kubeconfig", "/dev/null"], "--kubeconfig reads from a cluster"),
        (["--from-cluster"], "not both"),
    ],
)
def test_flags_used_wrongly_are_refused(
    capsys: pytest.CaptureFixture[str], apps: Path, argv: list[str], message: str
) -> None:
    ran = migrate(capsys, str(apps), *argv)
    assert ran.code == 2
    assert ran.out == ""
    assert message in ran.err


def test_no_input_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    ran = migrate(capsys)
    assert ran.code == 2
    assert "give the Applications to migrate" in ran.err


def test_json_output_is_one_list(capsys: pytest.CaptureFixture[str], apps: Path) -> None:
    ran = migrate(capsys, str(apps), "-o", "json")
    assert ran.code == 0
    listing = json.loads(ran.out)
    assert listing["kind"] == "List"
    assert [item["kind"] for item in listing["items"]] == ["ImageUpdater"] * 3
    assert listing["items"] == [d for d in yaml.safe_load_all(migrate(capsys, str(apps)).out) if d]


def test_a_broken_annotation_is_reported_and_nothing_is_printed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path / "a.yaml", application("shop", SHOP), application("bad", BROKEN))
    ran = migrate(capsys, str(path))
    assert ran.code == 2
    assert ran.out == ""
    [error] = ran.lines("argocd/bad: argocd-image-updater.argoproj.io/web.allow-tags: ")
    assert "invalid allow-tags 'regexp:(('" in error
    assert ran.lines(f"{path}: argocd/bad: not converted: fix the annotations above")
    assert ran.lines("nothing printed: 1 Application not converted")
    assert ran.lines("--allow-partial")


def test_allow_partial_prints_the_rest_and_still_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path / "a.yaml", application("shop", SHOP), application("bad", BROKEN))
    ran = migrate(capsys, str(path), "--allow-partial")
    assert ran.code == 2
    [resource] = ran.documents
    assert [r["namePattern"] for r in resource["spec"]["applicationRefs"]] == ["shop"]
    assert ran.lines("1 Application converted into 1 ImageUpdater; 1 Application not converted")


def test_a_setting_no_image_updater_can_hold_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    platforms = ",".join(f"linux/arch{n}" for n in range(129))
    pairs = {"image-list": "web=org/web", "web.platforms": platforms}
    ran = migrate(capsys, str(write(tmp_path / "a.yaml", application("many", pairs))))
    assert ran.code == 2
    assert ran.out == ""
    [line] = ran.lines("cannot be expressed in an ImageUpdater")
    assert (
        "argocd/many: cannot be expressed in an ImageUpdater (commonUpdateSettings.platforms)"
        in line
    )
    assert "at most 128" in line
    assert ran.lines("argocd/many: not converted: an ImageUpdater cannot express")


def test_what_changed_on_the_way_is_a_note_and_the_webhooks_warnings_are_shown(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pairs = {"image-list": "nginx:1.x", "git-branch": "main"}
    ran = migrate(capsys, str(write(tmp_path / "a.yaml", application("shop", pairs))))
    assert ran.code == 0, ran.err
    assert ran.lines(
        "argocd/shop: argocd-image-updater.argoproj.io/image-list: note: image "
        "'nginx:1.x' has no alias; it is given the alias 'nginx'"
    )
    [warning] = ran.lines("warning:")
    assert "argocd/shop: ImageUpdater migrated: spec.applicationRefs[0].writeBackConfig" in warning
    assert "has no effect: the write-back method is 'argocd'" in warning
    quiet = migrate(capsys, str(tmp_path / "a.yaml"), "-q")
    assert quiet.err == ""
    assert quiet.out == ran.out


def test_nothing_to_migrate_prints_nothing_and_succeeds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ran = migrate(capsys, str(write(tmp_path / "a.yaml", application("plain"))))
    assert ran.code == 0
    assert ran.out == ""
    assert ran.lines("no Application with argocd-image-updater.argoproj.io/* annotations found")


def test_credential_references_follow_the_rules_of_the_flags(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pairs = {"image-list": "web=org/web", "pull-secret": "env:REGISTRY_CREDS"}
    path = write(tmp_path / "a.yaml", application("shop", pairs))
    refused = migrate(capsys, str(path))
    assert refused.code == 2
    assert refused.lines("is not allowed in an Application")
    allowed = migrate(capsys, str(path), "--allow-env-ext-credentials", "argocd")
    assert allowed.code == 0, allowed.err
    assert allowed.documents[0]["spec"]["applicationRefs"][0]["commonUpdateSettings"] == {
        "pullSecret": "env:REGISTRY_CREDS"
    }

    other = {"image-list": "web=org/web", "pull-secret": "pullsecret:shared/regcred"}
    path = write(tmp_path / "b.yaml", application("shop", other))
    assert migrate(capsys, str(path)).code == 2
    assert migrate(capsys, str(path), "--allow-cross-namespace-secrets").code == 0


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "ApplicationSet",
                "metadata": {"name": "set", "namespace": "argocd"},
                "spec": {
                    "template": {
                        "metadata": {
                            "annotations": {
                                "argocd-image-updater.argoproj.io/image-list": "web=org/web"
                            }
                        }
                    }
                },
            },
            "argocd/set: not converted: an ApplicationSet's Applications are named by its "
            "generators",
        ),
        (
            application("flag", {"image-list": "web=org/web", "web.force-update": True}),  # type: ignore[dict-item]
            "argocd/flag: argocd-image-updater.argoproj.io/web.force-update: the value is not "
            "a string",
        ),
        ({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application"}, "without metadata.name"),
    ],
    ids=["application-set", "non-string-value", "no-name"],
)
def test_inputs_that_cannot_be_converted_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, document: dict[str, Any], message: str
) -> None:
    ran = migrate(capsys, str(write(tmp_path / "a.yaml", document, application("shop", SHOP))))
    assert ran.code == 2
    assert ran.out == ""
    assert ran.lines(message), ran.err


def test_the_same_application_twice_is_not_converted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    one = write(tmp_path / "one.yaml", application("shop", SHOP))
    two = write(tmp_path / "two.yaml", application("shop", BLOG))
    ran = migrate(capsys, str(one), str(two))
    assert ran.code == 2
    assert ran.lines(f"the input holds this Application 2 times ({one}, {two})")


def test_directories_lists_and_unreadable_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "envs" / "prod").mkdir(parents=True)
    listing = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [application("shop", SHOP), application("blog", BLOG)],
    }
    write(tmp_path / "envs" / "prod" / "apps.yml", listing)
    (tmp_path / "envs" / "README.md").write_text("not yaml: [")
    ran = migrate(capsys, str(tmp_path / "envs"))
    assert ran.code == 0, ran.err
    [resource] = ran.documents
    assert len(resource["spec"]["applicationRefs"]) == 2

    (tmp_path / "envs" / "broken.yaml").write_text("a: [\n")
    ran = migrate(capsys, str(tmp_path / "envs"))
    assert ran.code == 2
    assert ran.lines(f"{tmp_path / 'envs' / 'broken.yaml'}:2: invalid YAML")
    assert ran.lines("nothing printed: 1 file not read")
    missing = migrate(capsys, str(tmp_path / "missing.yaml"))
    assert missing.code == 2
    assert missing.lines("cannot read: No such file or directory")


def test_a_helm_template_is_not_read(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text("{{ if .Values.enabled }}\nkind: Application\n{{ end }}\n")
    ran = migrate(capsys, str(path))
    assert ran.code == 2
    assert ran.lines("not read: a Helm/Go template")


def test_more_applications_than_one_resource_holds_are_split(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    apps = [application(f"app-{n:03}", SHOP) for n in range(130)]
    ran = migrate(capsys, str(write(tmp_path / "many.yaml", *apps)))
    assert ran.code == 0, ran.err
    assert [(d["metadata"]["name"], len(d["spec"]["applicationRefs"])) for d in ran.documents] == [
        ("migrated", 128),
        ("migrated-2", 2),
    ]


def test_standard_input_is_read_with_a_dash(tmp_path: Path) -> None:
    text = yaml.safe_dump_all([application("shop", SHOP)])
    code = (
        "import sys; from tests.migrate.helpers import parser; "
        "args = parser().parse_args(['migrate', '-']); sys.exit(args.handler(args))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    [resource] = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert_configures(resource, "shop", SHOP)


def test_a_repeated_annotation_key_is_refused_not_silently_dropped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: shop\n"
        "  annotations:\n"
        "    argocd-image-updater.argoproj.io/image-list: web=org/web\n"
        "    argocd-image-updater.argoproj.io/image-list: api=org/api\n"
    )
    ran = migrate(capsys, str(path))
    assert ran.code == 2
    assert ran.out == ""
    assert ran.lines(f"{path}:7: invalid YAML: found duplicate key")

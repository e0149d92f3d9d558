"""The git writer in a real cycle against a real git server: grouping, conflicts, refusals,
no duplicate work, dry runs, targets and branches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from devcluster.gitserver import GitRepos
from devcluster.kubeapi import KubeAPI
from tests.reconciler.conftest import stored
from tests.reconciler.gitwriter.conftest import WriterKit, git_app

Seeded = Callable[[list[str]], Awaitable[str]]
Kit = Callable[..., WriterKit]


def override(name: str) -> str:
    return f"apps/{name}/.argocd-source-{name}.yaml"


async def test_applications_sharing_a_branch_go_out_in_one_commit_and_one_push(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    for name in ("a", "b", "c"):
        kube_api.store.put(git_app(name, image, url))
    k = kit()
    result = await k.cycle().run([stored(kube_api, n) for n in ("a", "b", "c")])
    assert (result.images_updated, result.errors) == (3, 0)
    log = repos.log("apps", "main")
    assert len(log) == 2  # the initial commit and ours
    message = log[0][2]
    assert message.startswith("build: automatic update of 3 applications (a, b, c)")
    assert message.count("updates image") == 3
    for name in ("a", "b", "c"):
        assert repos.read("apps", "main", override(name)) == (
            f"kustomize:\n  images:\n  - {image}:1.1.0\n"
        )
    assert k.value("image_updater_git_commits_total") == 1
    assert k.value("image_updater_git_pushes_total", {"result": "ok"}) == 1
    events = [
        e
        for e in kube_api.store.list("", None, "events", "argocd")
        if e["reason"] == "ImagesUpdated"
    ]
    assert len(events) == 3
    assert all(log[0][0][:12] in e["message"] for e in events)


async def test_commit_per_application_makes_one_commit_each_in_one_push(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    from imageupdater.gitops.messages import load_commit_template
    from reconciler.gitwriter import CommitSettings
    from tests.reconciler.gitwriter.conftest import AUTHOR

    repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    for name in ("a", "b"):
        kube_api.store.put(git_app(name, image, url))
    settings = CommitSettings(
        author=AUTHOR, template=load_commit_template(None, explicit=False), per_application=True
    )
    k = kit(settings=settings)
    await k.cycle().run([stored(kube_api, n) for n in ("a", "b")])
    log = repos.log("apps", "main")
    assert [entry[2].splitlines()[0] for entry in log[:2]] == [
        "build: automatic update of b",
        "build: automatic update of a",
    ]
    assert k.value("image_updater_git_commits_total") == 2
    assert k.value("image_updater_git_pushes_total", {"result": "ok"}) == 1


async def test_a_human_commit_pushed_between_our_fetch_and_our_push_survives(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(git_app("a", image, url))
    k = kit()
    observe = k.repos.observe
    interposed: list[str] = []

    def human_after_first_fetch(operation: str, seconds: float, ok: bool) -> None:
        if observe is not None:
            observe(operation, seconds, ok)
        if operation == "fetch" and not interposed:
            interposed.append(repos.commit("apps", "main", {"apps/a/human.txt": "mine\n"}, "human"))

    k.repos.observe = human_after_first_fetch
    result = await k.cycle().run([stored(kube_api, "a")])
    assert (result.images_updated, result.errors) == (1, 0)
    assert interposed
    assert repos.read("apps", "main", "apps/a/human.txt") == "mine\n"
    assert repos.read("apps", "main", override("a")) is not None
    # Our commit sits on top of the human's.
    log = repos.log("apps", "main")
    assert log[1][0] == interposed[0]
    assert k.value("image_updater_git_conflicts_total") == 1
    assert k.value("image_updater_git_push_retries_total") == 1


async def test_two_writers_on_the_same_branch_both_land(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    import asyncio

    repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    for name in ("a", "b"):
        kube_api.store.put(git_app(name, image, url))
    one, two = kit(name="one"), kit(name="two")
    results = await asyncio.gather(
        one.cycle().run([stored(kube_api, "a")]), two.cycle().run([stored(kube_api, "b")])
    )
    assert [r.errors for r in results] == [0, 0]
    assert repos.read("apps", "main", override("a")) is not None
    assert repos.read("apps", "main", override("b")) is not None
    assert len(repos.log("apps", "main")) == 3


async def test_a_protected_branch_is_reported_and_not_retried(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    repos, url = remote
    repos.protect("apps", "main is protected: changes need a pull request")
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(git_app("a", image, url))
    k = kit()
    result = await k.cycle().run([stored(kube_api, "a")])
    assert (result.images_updated, result.errors) == (0, 1)
    assert k.value("image_updater_git_pushes_total", {"result": "rejected"}) == 1
    assert k.value("image_updater_git_push_retries_total") == 0
    failed = [
        e
        for e in kube_api.store.list("", None, "events", "argocd")
        if e["reason"] == "ImageUpdateFailed"
    ]
    assert failed and "main is protected" in failed[0]["message"]


async def test_a_target_through_a_symlink_is_refused(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    repos, url = remote
    repos.symlink("apps", "main", "apps/evil", "/etc")
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(git_app("evil", image, url, extra={"write-back-target": "apps/evil/passwd"}))
    kube_api.store.put(git_app("a", image, url))
    k = kit()
    result = await k.cycle().run([stored(kube_api, n) for n in ("evil", "a")])
    assert (result.images_updated, result.errors) == (1, 1)
    failed = [
        e
        for e in kube_api.store.list("", None, "events", "argocd")
        if e["reason"] == "ImageUpdateFailed"
    ]
    assert "symbolic link 'apps/evil'" in failed[0]["message"]
    assert repos.read("apps", "main", override("a")) is not None


async def test_a_written_change_is_not_fetched_or_committed_again_before_argo_cd_syncs_it(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(git_app("a", image, url))
    k = kit()
    cycle = k.cycle()
    await cycle.run([stored(kube_api, "a")])
    spawned = k.repos.spawned
    # Argo CD has not synced yet: the Application still runs 1.0.0.
    result = await cycle.run([stored(kube_api, "a")])
    assert result.errors == 0
    assert k.repos.spawned == spawned
    assert len(repos.log("apps", "main")) == 2


async def test_a_file_that_already_holds_the_change_makes_no_commit(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    repos.commit(
        "apps", "main", {override("a"): f"kustomize:\n  images:\n  - {image}:1.1.0\n"}, "by hand"
    )
    kube_api.store.put(git_app("a", image, url))
    k = kit()
    result = await k.cycle().run([stored(kube_api, "a")])
    assert (result.images_updated, result.errors) == (0, 0)
    assert len(repos.log("apps", "main")) == 2
    assert k.value("image_updater_git_commits_total") == 0


async def test_a_dry_run_prints_the_diff_and_touches_no_remote(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(git_app("a", image, url))
    tip = repos.tip("apps", "main")
    k = kit()
    await k.cycle(dry_run=True).run([stored(kube_api, "a")])
    assert repos.tip("apps", "main") == tip
    shown = k.output.getvalue()
    assert "# dry run: would commit to branch main of" in shown
    assert f"+++ b/{override('a')}" in shown
    assert f"+  - {image}:1.1.0" in shown


async def test_a_kustomization_target_is_edited_as_kustomize_would(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    repos.commit(
        "apps",
        "main",
        {
            "apps/a/kustomization.yaml": (
                "# keep me\nresources: []\n\nimages:\n- name: web\n  newTag: old\n"
            )
        },
        "kustomization",
    )
    kube_api.store.put(git_app("a", image, url, extra={"write-back-target": "kustomization"}))
    await kit().cycle().run([stored(kube_api, "a")])
    assert repos.read("apps", "main", "apps/a/kustomization.yaml") == (
        "# keep me\nresources: []\n\nimages:\n- name: web\n  newTag: old\n"
        f"- name: {image}\n  newTag: 1.1.0\n"
    )


async def test_a_missing_kustomization_is_named(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    _repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(git_app("z", image, url, extra={"write-back-target": "kustomization"}))
    result = await kit().cycle().run([stored(kube_api, "z")])
    assert result.errors == 1
    failed = [
        e
        for e in kube_api.store.list("", None, "events", "argocd")
        if e["reason"] == "ImageUpdateFailed"
    ]
    assert (
        "no kustomization.yaml, kustomization.yml or Kustomization in 'apps/z'"
        in failed[0]["message"]
    )


async def test_a_helm_values_target_is_patched_in_place(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    values = f"# chart values\nimage:\n  name: {image}  # the app\n  tag: 1.0.0\nreplicas: 2\n"
    repos.commit("apps", "main", {"charts/web/values.yaml": values}, "chart")
    source = {"repoURL": url, "path": "charts/web", "targetRevision": "main", "helm": {}}
    kube_api.store.put(
        git_app("web", image, url, source=source, extra={"write-back-target": "helmvalues"})
    )
    await kit().cycle().run([stored(kube_api, "web")])
    assert repos.read("apps", "main", "charts/web/values.yaml") == values.replace(
        "tag: 1.0.0", "tag: 1.1.0"
    )


async def test_a_target_branch_is_created_from_the_base_and_then_stacked_on(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    branch = {"git-branch": "main:image-updater/{{ .AppNamespace }}"}
    for name in ("a", "b"):
        kube_api.store.put(git_app(name, image, url, extra=branch))
    await kit().cycle().run([stored(kube_api, "a")])
    base = repos.tip("apps", "main")
    assert repos.read("apps", "image-updater/argocd", override("a")) is not None
    human = repos.commit(
        "apps", "image-updater/argocd", {"note.txt": "review me\n"}, "human on our branch"
    )
    await kit(name="second").cycle().run([stored(kube_api, "b")])
    log = repos.log("apps", "image-updater/argocd")
    assert log[1][0] == human
    assert repos.read("apps", "image-updater/argocd", "note.txt") == "review me\n"
    assert repos.read("apps", "image-updater/argocd", override("a")) is not None
    assert repos.read("apps", "image-updater/argocd", override("b")) is not None
    assert repos.tip("apps", "main") == base


async def test_a_missing_branch_is_reported_for_its_applications_only(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(git_app("a", image, url, extra={"git-branch": "release"}))
    kube_api.store.put(git_app("b", image, url))
    result = await kit().cycle().run([stored(kube_api, n) for n in ("a", "b")])
    assert (result.images_updated, result.errors) == (1, 1)
    failed = [
        e
        for e in kube_api.store.list("", None, "events", "argocd")
        if e["reason"] == "ImageUpdateFailed"
    ]
    assert "branch 'release' does not exist" in failed[0]["message"]
    assert repos.read("apps", "main", override("b")) is not None


async def test_a_sync_window_holds_a_git_update_without_touching_the_repository(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    kube_api.store.put(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": {"name": "default", "namespace": "argocd"},
            "spec": {
                "syncWindows": [
                    {
                        "kind": "deny",
                        "schedule": "* * * * *",
                        "duration": "1h",
                        "applications": ["*"],
                    }
                ]
            },
        }
    )
    kube_api.store.put(git_app("a", image, url))
    k = kit()
    result = await k.cycle().run([stored(kube_api, "a")])
    assert (result.deferred, result.images_updated) == (1, 0)
    assert k.repos.spawned == 0
    assert len(repos.log("apps", "main")) == 1


async def test_a_helm_application_gets_its_managed_parameters_in_the_override_file(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    source = {
        "repoURL": url,
        "path": "charts/web",
        "targetRevision": "main",
        # A parameter set by hand in Argo CD: not the updater's, so not written to git.
        "helm": {"parameters": [{"name": "replicas", "value": "3"}]},
    }
    kube_api.store.put(git_app("web", image, url, source=source))
    await kit().cycle().run([stored(kube_api, "web")])
    assert repos.read("apps", "main", "charts/web/.argocd-source-web.yaml") == (
        "helm:\n  parameters:\n"
        f"  - name: image.name\n    value: {image}\n    forcestring: true\n"
        "  - name: image.tag\n    value: 1.1.0\n    forcestring: true\n"
    )


async def test_a_plugin_application_gets_its_env_in_the_override_file(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    source = {"repoURL": url, "path": "plug", "targetRevision": "main", "plugin": {"name": "cmp"}}
    extra = {"web.plugin.image-name": "IMAGE_NAME", "web.plugin.image-tag": "IMAGE_TAG"}
    app = git_app("plug", image, url, source=source, extra=extra, alias="web")
    kube_api.store.put(app)
    result = await kit().cycle().run([stored(kube_api, "plug")])
    assert result.errors == 0, result
    text = repos.read("apps", "main", "plug/.argocd-source-plug.yaml") or ""
    assert text.startswith("plugin:\n  env:\n")
    assert "value: 1.1.0\n" in text


async def test_a_change_pushed_to_the_default_branch_is_not_fetched_again_before_sync(
    kube_api: KubeAPI, seeded: Seeded, kit: Kit, remote: tuple[GitRepos, str]
) -> None:
    repos, url = remote
    image = await seeded(["1.0.0", "1.1.0"])
    source = {"repoURL": url, "path": "apps/a", "targetRevision": "HEAD", "kustomize": {}}
    kube_api.store.put(git_app("a", image, url, source=source))
    k = kit()
    cycle = k.cycle()
    await cycle.run([stored(kube_api, "a")])
    assert repos.read("apps", "main", override("a")) is not None
    spawned = k.repos.spawned
    await cycle.run([stored(kube_api, "a")])
    assert k.repos.spawned == spawned

"""``lint_documents``: the findings for every resource lint knows in multi-document YAML.

* ``argoproj.io/v1alpha1`` ``Application``: the webhook's review of its annotations.
* ``argoproj.io/v1alpha1`` ``ApplicationSet``: the same review of ``spec.template`` (the
  Application template's annotations and spec), under the ApplicationSet's name; values
  with template expressions are skipped with a note (see ``imageupdater.lint.checks``).
* ``argocd-image-updater.argoproj.io/v1alpha1`` ``ImageUpdater``: the problems
  ``imageupdaters.parse`` finds (field paths as keys), the words the webhook refuses it with.
* ``image-updater.io/v1alpha1`` ``ClusterImageUpdatePolicy`` and ``ImageUpdatePolicy``: the
  problems ``updatepolicy.parse_policy`` finds, the words the webhook refuses them with,
  under ``<Kind>/[<namespace>/]<name>`` and the field path.
* ``kind: List`` (and the kinds' own lists): their items.

Other kinds are ignored. A Helm or Go template is one note, not findings.
"""

from __future__ import annotations

__all__ = ["lint_documents"]

from collections.abc import Iterator, Mapping
from typing import Any, cast

import yaml

from imageupdater.annotations import PREFIX
from imageupdater.application import Application
from imageupdater.credentials import CredentialRules
from imageupdater.imageupdaters import parse as parse_image_updater
from imageupdater.lint.checks import check_annotations, has_template
from imageupdater.lint.findings import LintFinding, template_skipped
from imageupdater.lint.yamltext import StrictLoader, is_go_template, yaml_finding
from imageupdater.updatepolicy import API_VERSION as _POLICY_API
from imageupdater.updatepolicy import KINDS as _POLICY_KINDS
from imageupdater.updatepolicy import parse_policy

_ARGO_API = "argoproj.io/v1alpha1"
_UPDATER_API = "argocd-image-updater.argoproj.io/v1alpha1"
_LISTS = {
    ("ApplicationList", _ARGO_API),
    ("ApplicationSetList", _ARGO_API),
    ("ImageUpdaterList", _UPDATER_API),
    *((f"{kind}List", _POLICY_API) for kind in _POLICY_KINDS),
}
_DEFAULT_NAMESPACE = "default"

_TEMPLATE_PATCH_SKIPPED = (
    "skipped: spec.templatePatch, which lint does not apply; only spec.template is checked"
)
_GIT_CHECKS_SKIPPED = (
    "skipped: the git write-back checks of the template's sources, whose repoURL or "
    "targetRevision has template expressions that lint does not evaluate"
)
# What the git write-back checks read from a source (which source is chosen depends on
# the keys present, never on values).
_GIT_FIELDS = ("repoURL", "targetRevision")


def lint_documents(
    text: str, *, source: str, rules: CredentialRules | None = None
) -> list[LintFinding]:
    """Check every resource lint knows in the multi-document YAML ``text`` (named ``source``)."""
    if is_go_template(text):
        return [template_skipped(source)]
    rules = rules or CredentialRules()
    findings: list[LintFinding] = []
    try:
        loader = StrictLoader(text)
    except yaml.YAMLError as err:  # the reader rejects some characters up front
        return [yaml_finding(err, text, source)]
    try:
        while loader.check_node():
            node = loader.get_node()
            document = loader.construct_document(node) if node is not None else None
            for kind, resource in _resources(document):
                findings.extend(_lint_resource(kind, resource, source, rules))
    except yaml.YAMLError as err:
        findings.append(yaml_finding(err, text, source))
    except RecursionError:
        # PyYAML composes recursively; absurd nesting must be a finding, not a traceback.
        findings.append(LintFinding(source, "invalid YAML: nested too deeply to read"))
    finally:
        loader.dispose()
    return findings


def _resources(document: object) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if not isinstance(document, Mapping):
        return
    kind, api_version = document.get("kind"), document.get("apiVersion")
    if (
        (kind in ("Application", "ApplicationSet") and api_version == _ARGO_API)
        or (kind == "ImageUpdater" and api_version == _UPDATER_API)
        or (kind in _POLICY_KINDS and api_version == _POLICY_API)
    ):
        yield str(kind), document
    elif kind == "List" or (kind, api_version) in _LISTS:
        items = document.get("items")
        for item in items if isinstance(items, list) else ():
            yield from _resources(item)


def _lint_resource(
    kind: str, resource: Mapping[str, Any], source: str, rules: CredentialRules
) -> list[LintFinding]:
    if kind in _POLICY_KINDS:
        return _lint_policy(kind, resource, source)
    metadata = _mapping(resource.get("metadata"))
    namespace = _text(metadata.get("namespace"))
    label = f"{namespace or _DEFAULT_NAMESPACE}/{_text(metadata.get('name')) or '<unnamed>'}"
    if kind == "ImageUpdater":
        parsed = parse_image_updater(resource, rules=rules)
        return [
            LintFinding(source, p.message, p.severity, app=label, key=p.key)
            for p in parsed.problems
        ]
    if kind == "Application":
        return check_annotations(
            metadata.get("annotations"),
            source=source,
            label=label,
            namespace=namespace,
            app=cast(Application, resource),
            rules=rules,
        )
    return _lint_application_set(resource, source, label, namespace, rules)


def _lint_policy(kind: str, resource: Mapping[str, Any], source: str) -> list[LintFinding]:
    parsed = parse_policy(resource)
    if parsed.ref is not None:
        label = str(parsed.ref)
    else:
        name = _text(_mapping(resource.get("metadata")).get("name")) or "<unnamed>"
        label = f"{kind}/{name}"
    return [
        LintFinding(source, p.message, p.severity, app=label, key=p.key) for p in parsed.problems
    ]


def _lint_application_set(
    appset: Mapping[str, Any],
    source: str,
    label: str,
    namespace: str | None,
    rules: CredentialRules,
) -> list[LintFinding]:
    spec = _mapping(appset.get("spec"))
    template = _mapping(spec.get("template"))
    metadata = _mapping(template.get("metadata"))
    template_spec = template.get("spec")
    # The generated Applications are created in the ApplicationSet's namespace, which is
    # what their secret references are scoped to.
    application: Application = {
        "apiVersion": _ARGO_API,
        "kind": "Application",
        "metadata": cast(Any, metadata),
        "spec": cast(Any, template_spec),
    }
    spec_templated = _git_fields_templated(template_spec)
    findings = check_annotations(
        metadata.get("annotations"),
        source=source,
        label=label,
        namespace=namespace,
        app=None if spec_templated else application,
        rules=rules,
        templated=True,
    )
    if spec_templated and _may_write_to_git(metadata.get("annotations")):
        findings.append(LintFinding(source, _GIT_CHECKS_SKIPPED, "note", app=label))
    if "templatePatch" in spec:
        findings.append(LintFinding(source, _TEMPLATE_PATCH_SKIPPED, "note", app=label))
    return findings


def _git_fields_templated(spec: object) -> bool:
    spec = _mapping(spec)
    sources = spec.get("sources")
    blocks = [spec.get("source"), *(sources if isinstance(sources, list) else ())]
    return any(
        has_template(_mapping(block).get(field)) for block in blocks for field in _GIT_FIELDS
    )


def _may_write_to_git(annotations: object) -> bool:
    method = _mapping(annotations).get(PREFIX + "write-back-method")
    return isinstance(method, str) and (method.startswith("git") or "{{" in method)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None

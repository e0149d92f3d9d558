"""Checking Argo CD Application manifests in YAML text, as ``image-updater lint`` does.

Every ``argoproj.io/v1alpha1`` ``Application`` (also inside ``kind: List`` and
``ApplicationList`` items) gets the same review (``imageupdater.review``: parse and checks)
the admission webhook gives it, so lint reports exactly what ``kubectl apply`` would be told,
warnings included. Other kinds are
ignored. YAML that cannot be read is one finding with its line, never a traceback, and a
duplicated mapping key (which YAML readers silently resolve to the last value) is one too.
"""

from __future__ import annotations

__all__ = ["LintFinding", "lint_documents"]

from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode
from yaml.reader import ReaderError

from imageupdater.annotations import PREFIX
from imageupdater.application import Application, live_images
from imageupdater.credentials import CredentialRules
from imageupdater.problems import Severity
from imageupdater.review import configuration_checks, parse_configuration

_API_VERSION = "argoproj.io/v1alpha1"
_DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True, slots=True)
class LintFinding:
    """One line of lint output.

    ``app`` is ``"<namespace>/<name>"`` for a finding about an Application, ``""`` for one
    about the file itself (then ``line`` says where, 1-based).
    """

    source: str
    message: str
    severity: Severity = "error"
    app: str = ""
    key: str = ""
    line: int | None = None

    def __str__(self) -> str:
        message = f"warning: {self.message}" if self.severity == "warning" else self.message
        if not self.app:
            where = f"{self.source}:{self.line}" if self.line is not None else self.source
            return f"{where}: {message}"
        key = f"{self.key}: " if self.key else ""
        return f"{self.source}: {self.app}: {key}{message}"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last one."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r}; YAML would keep only the last value",
                    key_node.start_mark,
                )
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def lint_documents(
    text: str, *, source: str, rules: CredentialRules | None = None
) -> list[LintFinding]:
    """Check every Application in the multi-document YAML ``text`` (named ``source``)."""
    findings: list[LintFinding] = []
    try:
        loader = _StrictLoader(text)
    except yaml.YAMLError as err:  # the reader rejects some characters up front
        return [_yaml_finding(err, text, source)]
    try:
        while loader.check_node():
            node = loader.get_node()
            document = loader.construct_document(node) if node is not None else None
            for app in _applications(document):
                findings.extend(_lint_application(app, source, rules or CredentialRules()))
    except yaml.YAMLError as err:
        findings.append(_yaml_finding(err, text, source))
    except RecursionError:
        # PyYAML composes recursively; absurd nesting must be a finding, not a traceback.
        findings.append(LintFinding(source, "invalid YAML: nested too deeply to read"))
    finally:
        loader.dispose()
    return findings


def _applications(document: object) -> Iterator[Mapping[str, Any]]:
    if not isinstance(document, Mapping):
        return
    kind, api_version = document.get("kind"), document.get("apiVersion")
    if kind == "Application" and api_version == _API_VERSION:
        yield document
    elif kind == "List" or (kind == "ApplicationList" and api_version == _API_VERSION):
        items = document.get("items")
        for item in items if isinstance(items, list) else ():
            yield from _applications(item)


def _lint_application(
    app: Mapping[str, Any], source: str, rules: CredentialRules
) -> list[LintFinding]:
    metadata = app.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    name = metadata.get("name")
    namespace = metadata.get("namespace")
    label = (
        f"{namespace if isinstance(namespace, str) and namespace else _DEFAULT_NAMESPACE}/"
        f"{name if isinstance(name, str) and name else '<unnamed>'}"
    )
    annotations = metadata.get("annotations")
    if annotations is None:
        return []
    if not isinstance(annotations, Mapping):
        return [
            LintFinding(
                source,
                "metadata.annotations must be a mapping of strings to strings",
                app=label,
            )
        ]
    findings: list[LintFinding] = []
    texts: dict[str, str] = {}
    for key, value in annotations.items():
        key_text = str(key)
        if isinstance(value, str):
            texts[key_text] = value
            continue
        # Kubernetes rejects non-string annotation values; unquoted `true` or `1.2` is the
        # usual slip, so say how to write it and still check what it would have meant.
        shown = _yaml_scalar(value)
        if key_text.startswith(PREFIX):
            findings.append(
                LintFinding(
                    source,
                    "annotation values must be strings, but YAML read this one as "
                    f"{_describe(value, shown)}; put the value in quotes",
                    app=label,
                    key=key_text,
                )
            )
        texts[key_text] = shown
    known = namespace if isinstance(namespace, str) and namespace else None
    result = parse_configuration(texts, known, rules)
    problems = result.problems
    if result.config is not None:
        typed = cast(Application, app)
        problems += configuration_checks(result.config, live_images(typed), typed)
    findings.extend(
        LintFinding(source, p.message, p.severity, app=label, key=p.key) for p in problems
    )
    return findings


def _describe(value: object, shown: str) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {shown}"
    if isinstance(value, int | float):
        return f"the number {shown}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return f"the {type(value).__name__} {shown}"


def _yaml_scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return yaml.safe_dump(value, default_flow_style=True).strip()


def _yaml_finding(err: yaml.YAMLError, text: str, source: str) -> LintFinding:
    line: int | None = None
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        if mark is not None:
            line = mark.line + 1
        reason = err.problem or err.context or "unreadable YAML"
    elif isinstance(err, ReaderError):
        line = text.count("\n", 0, err.position) + 1
        reason = str(err).splitlines()[0]
    else:
        reason = str(err).splitlines()[0] if str(err) else "unreadable YAML"
    return LintFinding(source, f"invalid YAML: {reason}", line=line)

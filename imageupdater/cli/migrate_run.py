"""The work of ``image-updater migrate``: read Applications, convert their annotations with
:mod:`imageupdater.imageupdaters.export`, check the result, print it.

Each Application is parsed exactly as the webhook parses it (``review.parse_configuration``
with the credential rules of the flags), written as one applicationRef, and read back alone
and then in the resource it is packed into; only a resource every one of whose Applications
reads back as its annotations say is printed. Lines on standard error name the input
(file, ``<stdin>`` or ``cluster``), the Application and the annotation or field path, as
``lint`` does.

Exit codes: 0 converted; 2 input that could not be read or converted (nothing is printed
unless ``--allow-partial``), or invalid flags; 1 the cluster could not be read, or the
self-check found a difference (a bug).
"""

from __future__ import annotations

__all__ = ["run"]

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import re2
import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

from imageupdater import kube
from imageupdater.annotations import PREFIX
from imageupdater.cli import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from imageupdater.cli.migrate_cmd import APP_PLACEHOLDER, DEFAULT_NAME, DEFAULT_NAMESPACE
from imageupdater.cli.tenant_flags import credential_rules
from imageupdater.credentials import CredentialRules
from imageupdater.errors import ImageUpdaterError, InvalidInput, KubeNotFound
from imageupdater.imageupdaters import ImageUpdater, arbitrate, bind
from imageupdater.imageupdaters import parse as parse_image_updater
from imageupdater.imageupdaters.export import (
    ExportedRef,
    Verified,
    export_ref,
    image_updater,
    pack,
    verify,
)
from imageupdater.lint.yamltext import is_go_template, yaml_finding
from imageupdater.review import parse_configuration

COMMAND = "image-updater migrate"
IMAGE_UPDATERS = kube.Resource("argocd-image-updater.argoproj.io", "v1alpha1", "imageupdaters")
_ARGO_API = "argoproj.io/v1alpha1"
_STDIN = "-"
_STDIN_NAME = "<stdin>"
_CLUSTER = "cluster"
_SUFFIXES = (".yaml", ".yml")
_LISTS = ("List", "ApplicationList")
_NAMESPACE = re2.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_SUBDOMAIN = re2.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_MAX_NAME = 253

Severity = Literal["error", "warning", "note"]


class _Internal(Exception):
    """The self-check found that a resource would not do what the annotations do."""


@dataclass(frozen=True, slots=True)
class _Found:
    """One Application read from ``origin``."""

    origin: str
    app: Mapping[str, Any]
    namespace: str | None
    name: str

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


@dataclass(slots=True)
class _Report:
    """The lines on standard error, and what they add up to."""

    quiet: bool
    failed: int = 0  # Applications (or ApplicationSets) not converted
    unread: int = 0  # files (or standard input) not read

    def say(self, where: str, message: str, severity: Severity = "error", key: str = "") -> None:
        if severity != "error" and self.quiet:
            return
        shown = message if severity == "error" else f"{severity}: {message}"
        key_part = f"{key}: " if key else ""
        print(f"{where}: {key_part}{shown}", file=sys.stderr)

    def fail(self, where: str, message: str, key: str = "") -> None:
        """An Application that is not converted."""
        self.failed += 1
        self.say(where, message, "error", key)

    def cannot_read(self, where: str, message: str) -> None:
        self.unread += 1
        self.say(where, message)

    @property
    def lost(self) -> str:
        """What was not converted, in words ("" for nothing)."""
        parts = []
        if self.failed:
            parts.append(f"{_count(self.failed, 'Application')} not converted")
        if self.unread:
            parts.append(f"{_count(self.unread, 'file')} not read")
        return " and ".join(parts)


@dataclass(frozen=True, slots=True)
class _Converted:
    found: _Found
    exported: ExportedRef


def run(args: argparse.Namespace) -> int:
    try:
        rules = credential_rules(args)
        namespaces = _check_flags(args)
    except InvalidInput as exc:
        print(f"{COMMAND}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    report = _Report(quiet=args.quiet)
    existing: list[Mapping[str, Any]] | None = None
    if args.from_cluster:
        try:
            found, existing = asyncio.run(_from_cluster(args, namespaces, report))
        except InvalidInput as exc:
            print(f"{COMMAND}: {exc}", file=sys.stderr)
            return EXIT_INVALID
        except ImageUpdaterError as exc:
            print(f"{COMMAND}: {exc}", file=sys.stderr)
            return EXIT_FAILED
    else:
        found = list(_from_files(args.files, report))
    try:
        documents, converted = _migrate(found, existing, args, rules, report)
        text = _render(documents, args.output) if documents else ""
    except _Internal as exc:
        print(
            f"{COMMAND}: self-check failed, nothing printed (this is a bug; please report it "
            f"with the input): {exc}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    lost = report.lost
    if lost and not args.allow_partial:
        rest = f", or print the {converted} converted with --allow-partial" if converted else ""
        print(f"{COMMAND}: nothing printed: {lost}; fix them{rest}", file=sys.stderr)
        return EXIT_INVALID
    sys.stdout.write(text)
    if (documents and not report.quiet) or lost:
        summary = (
            f"{_count(converted, 'Application')} converted into "
            f"{_count(len(documents), 'ImageUpdater')}"
        )
        print(f"{COMMAND}: {summary}" + (f"; {lost}" if lost else ""), file=sys.stderr)
    return EXIT_INVALID if lost else EXIT_OK


def _check_flags(args: argparse.Namespace) -> list[str | None]:
    """The namespaces to read (None: all); InvalidInput naming a flag used wrongly."""
    if args.from_cluster and args.files:
        raise InvalidInput("give FILE arguments or --from-cluster, not both")
    if not args.from_cluster:
        if not args.files:
            raise InvalidInput(
                "give the Applications to migrate: FILE arguments (YAML files, directories, "
                "'-' for standard input) or --from-cluster"
            )
        for flag, value in (
            ("--kubeconfig", args.kubeconfig),
            ("--context", args.context),
            ("--namespace", args.namespace),
            ("--all-namespaces", args.all_namespaces),
        ):
            if value:
                raise InvalidInput(f"{flag} reads from a cluster: use it with --from-cluster")
    if args.all_namespaces and args.namespace:
        raise InvalidInput("give --namespace or --all-namespaces, not both")
    namespaces: list[str | None] = []
    for value in args.namespace:
        for name in value.split(","):
            name = name.strip()
            if not _NAMESPACE.fullmatch(name):
                raise InvalidInput(
                    f"--namespace: {name!r} is not a namespace name (lower-case letters, "
                    "digits and '-', at most 63 characters)"
                )
            if name not in namespaces:
                namespaces.append(name)
    if args.all_namespaces:
        namespaces = [None]
    name = args.name
    if name is not None:
        if args.per_application and APP_PLACEHOLDER not in name:
            raise InvalidInput(
                f"--name {name!r}: with --per-application it must contain {APP_PLACEHOLDER} "
                "(the Application's name), so that every resource has a name of its own"
            )
        if not args.per_application and APP_PLACEHOLDER in name:
            raise InvalidInput(
                f"--name {name!r}: {APP_PLACEHOLDER} names one Application; use it with "
                "--per-application"
            )
        if not args.per_application and not _valid_name(name):
            raise InvalidInput(f"--name {name!r}: {_NAME_RULE}")
    return namespaces or [DEFAULT_NAMESPACE]


_NAME_RULE = (
    "not a resource name (lower-case letters, digits, '-' and '.', starting and ending with "
    f"a letter or digit, at most {_MAX_NAME} characters)"
)


def _valid_name(name: str) -> bool:
    return len(name) <= _MAX_NAME and _SUBDOMAIN.fullmatch(name) is not None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


# ---- reading ----


async def _from_cluster(
    args: argparse.Namespace, namespaces: Sequence[str | None], report: _Report
) -> tuple[list[_Found], list[Mapping[str, Any]] | None]:
    """The Applications of ``namespaces``, and the ImageUpdaters there (None when the
    cluster serves none: the CRD is not installed, or listing them is not allowed)."""
    found: list[_Found] = []
    existing: list[Mapping[str, Any]] | None = []
    async with await kube.KubeClient.connect(args.kubeconfig, context=args.context) as client:
        for namespace in namespaces:
            body = await client.list(kube.APPLICATIONS, namespace)
            found.extend(_applications(_CLUSTER, body, report))
            if existing is None:
                continue
            try:
                listed = await client.list(IMAGE_UPDATERS, namespace)
            except KubeNotFound:
                existing = None
                continue
            except ImageUpdaterError as exc:
                report.say(
                    _CLUSTER,
                    f"existing ImageUpdaters not checked for overlaps: {exc}",
                    "warning",
                )
                existing = None
                continue
            items = listed.get("items")
            existing.extend(i for i in items or () if isinstance(i, Mapping))
    return found, existing


def _from_files(names: Sequence[str], report: _Report) -> Iterator[_Found]:
    for name in names:
        for origin, text in _read(name, report):
            yield from _documents(origin, text, report)


def _read(name: str, report: _Report) -> list[tuple[str, str]]:
    if name == _STDIN:
        try:
            return [(_STDIN_NAME, sys.stdin.read())]
        except (OSError, UnicodeDecodeError) as err:
            report.cannot_read(_STDIN_NAME, f"cannot read: {err}")
            return []
    path = Path(name)
    if path.is_dir():
        files = sorted(
            (
                Path(directory) / filename
                for directory, _dirs, filenames in os.walk(path)
                for filename in filenames
                if filename.endswith(_SUFFIXES)
            ),
            key=lambda p: p.relative_to(path).parts,
        )
        if not files:
            report.cannot_read(name, "no *.yaml or *.yml files found")
        return [(str(p), text) for p in files if (text := _read_file(p, report)) is not None]
    text = _read_file(path, report)
    return [] if text is None else [(name, text)]


def _read_file(path: Path, report: _Report) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        report.cannot_read(str(path), f"cannot read: {reason}")
        return None


def _documents(origin: str, text: str, report: _Report) -> Iterator[_Found]:
    if is_go_template(text):
        report.cannot_read(
            origin,
            "not read: a Helm/Go template, not YAML until rendered; migrate the rendered "
            "output (e.g. 'helm template ... | image-updater migrate -')",
        )
        return
    try:
        loader = _Loader(text)
    except yaml.YAMLError as err:  # the reader rejects some characters up front
        _unreadable(origin, text, err, report)
        return
    documents: list[object] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            documents.append(loader.construct_document(node) if node is not None else None)
    except yaml.YAMLError as err:
        _unreadable(origin, text, err, report)
        return
    except RecursionError:
        report.cannot_read(origin, "invalid YAML: nested too deeply to read")
        return
    finally:
        loader.dispose()
    for document in documents:
        yield from _applications(origin, document, report)


# libyaml when present: thousands of Applications are read and written in seconds rather
# than half a minute.
_FastLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FastDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Loader(_FastLoader):  # type: ignore[misc]
    """As ``lint``'s ``StrictLoader``: a duplicate mapping key is an error, not the last
    value silently kept (a repeated annotation key would otherwise lose a setting)."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Hashable] = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable):
                if key in seen:
                    raise ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key!r}; YAML would keep only the last value",
                        key_node.start_mark,
                    )
                seen.add(key)
        mapping: dict[Hashable, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def _unreadable(origin: str, text: str, err: yaml.YAMLError, report: _Report) -> None:
    finding = yaml_finding(err, text, origin)
    where = origin if finding.line is None else f"{origin}:{finding.line}"
    report.cannot_read(where, finding.message)


def _applications(origin: str, document: object, report: _Report) -> Iterator[_Found]:
    """The Applications in one document or list (an ApplicationSet is reported)."""
    if not isinstance(document, Mapping):
        return
    kind, api_version = document.get("kind"), document.get("apiVersion")
    if kind in _LISTS:
        items = document.get("items")
        for item in items if isinstance(items, list) else ():
            # A list from the API server may leave apiVersion and kind to the list.
            if isinstance(item, Mapping) and kind == "ApplicationList" and "kind" not in item:
                item = {"apiVersion": _ARGO_API, "kind": "Application", **item}
            yield from _applications(origin, item, report)
        return
    if api_version != _ARGO_API or kind not in ("Application", "ApplicationSet"):
        return
    metadata = document.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if kind == "ApplicationSet":
        spec = document.get("spec")
        template = spec.get("template") if isinstance(spec, Mapping) else None
        meta = template.get("metadata") if isinstance(template, Mapping) else None
        annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
        if isinstance(annotations, Mapping) and any(
            isinstance(k, str) and k.startswith(PREFIX) for k in annotations
        ):
            label = f"{namespace}/{name}" if namespace else str(name)
            report.fail(
                f"{origin}: {label}",
                "not converted: an ApplicationSet's Applications are named by its generators, "
                "so no namePattern can be written for them here; select them with an "
                "applicationRef with useAnnotations: true (they keep their annotations), or "
                "migrate the generated Applications (--from-cluster)",
            )
        return
    if not isinstance(name, str) or not name:
        report.fail(origin, "an Application without metadata.name: not converted")
        return
    if not isinstance(namespace, str) or not namespace:
        namespace = None
    yield _Found(origin, document, namespace, name)


# ---- converting ----


def _migrate(
    found: Sequence[_Found],
    existing: Sequence[Mapping[str, Any]] | None,
    args: argparse.Namespace,
    rules: CredentialRules,
    report: _Report,
) -> tuple[list[dict[str, Any]], int]:
    """The resources to print, in order, and how many Applications they configure; problems
    are reported as they are found."""
    seen: dict[tuple[str | None, str], list[_Found]] = {}
    for entry in found:
        seen.setdefault((entry.namespace, entry.name), []).append(entry)
    converted: list[_Converted] = []
    for copies in seen.values():
        if len(copies) > 1:
            origins = ", ".join(dict.fromkeys(c.origin for c in copies))
            report.fail(
                f"{copies[0].origin}: {copies[0].label}",
                f"not converted: the input holds this Application {len(copies)} times "
                f"({origins}); keep one",
            )
            continue
        result = _convert(copies[0], rules, report)
        if result is not None:
            converted.append(result)
    if not converted:
        if not report.failed and not report.unread:
            report.say(
                COMMAND,
                f"no Application with {PREFIX}* annotations found; nothing to print",
                "note",
            )
        return [], 0
    groups: dict[str | None, list[_Converted]] = {}
    for done in sorted(converted, key=lambda c: (c.found.namespace or "", c.found.name)):
        groups.setdefault(done.found.namespace, []).append(done)
    documents: list[dict[str, Any]] = []
    parsed: list[ImageUpdater] = []
    printed = 0
    for namespace, group in groups.items():
        for name, run_items in _resources(group, args, report):
            mine = {c.found.name for c in run_items}
            others = sorted(n for (ns, n) in seen if ns == namespace and n not in mine)
            resource = image_updater(name, namespace, (i.exported for i in run_items))
            checked = verify(resource, [i.exported for i in run_items], rules=rules, others=others)
            if not checked.exact:
                raise _Internal(_why(name, namespace, checked))
            _warnings(resource, run_items, checked, report)
            if checked.updater is not None:
                parsed.append(checked.updater)
            documents.append(resource)
            printed += len(run_items)
    if existing is not None:
        _overlaps(converted, parsed, existing, rules, report)
    return documents, printed


def _convert(item: _Found, rules: CredentialRules, report: _Report) -> _Converted | None:
    where = f"{item.origin}: {item.label}"
    metadata = item.app.get("metadata")
    raw = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    raw = raw if isinstance(raw, Mapping) else {}
    ours = {k: v for k, v in raw.items() if isinstance(k, str) and k.startswith(PREFIX)}
    if not ours:
        report.say(where, f"skipped: no {PREFIX}* annotations", "note")
        return None
    bad = sorted(k for k, v in ours.items() if not isinstance(v, str))
    for key in bad:
        report.say(
            where,
            "the value is not a string; annotation values are strings (quote it, e.g. 'true')",
            key=key,
        )
    if bad:
        report.fail(where, "not converted: fix the annotations above, then migrate again")
        return None
    parsed = parse_configuration(ours, item.namespace, rules)
    if parsed.config is None:
        for problem in parsed.errors:
            report.say(where, problem.message, key=problem.key)
        report.fail(where, "not converted: fix the annotations above, then migrate again")
        return None
    exported = export_ref(item.name, parsed.config)
    for notice in exported.notices:
        report.say(where, notice.message, "note", key=notice.key)
    # Alone first, so that what an ImageUpdater cannot hold is this Application's problem.
    alone = verify(image_updater("check", item.namespace, [exported]), [exported], rules=rules)
    if alone.errors:
        for problem in alone.errors:
            # The field path in the applicationRef, e.g. images[0].commonUpdateSettings.platforms
            path = problem.key.removeprefix("spec.applicationRefs[0].")
            report.say(where, f"cannot be expressed in an ImageUpdater ({path}): {problem.message}")
        report.fail(where, "not converted: an ImageUpdater cannot express the settings above")
        return None
    if alone.mismatches:
        raise _Internal("; ".join(alone.mismatches))
    return _Converted(item, exported)


def _resources(
    items: Sequence[_Converted], args: argparse.Namespace, report: _Report
) -> Iterator[tuple[str, list[_Converted]]]:
    """(resource name, its Applications) for one namespace."""
    if args.per_application:
        template = args.name or APP_PLACEHOLDER
        for item in items:
            name = template.replace(APP_PLACEHOLDER, item.found.name)
            if not _valid_name(name):
                report.fail(
                    f"{item.found.origin}: {item.found.label}",
                    f"not converted: the resource name {name!r} is {_NAME_RULE}; choose "
                    "another --name",
                )
                continue
            yield name, [item]
        return
    base = args.name or DEFAULT_NAME
    by_ref = {id(i.exported): i for i in items}
    for number, run_refs in enumerate(pack([i.exported for i in items]), start=1):
        name = base if number == 1 else f"{base}-{number}"
        run_items = [by_ref[id(ref)] for ref in run_refs]
        if not _valid_name(name):
            for item in run_items:
                report.fail(
                    f"{item.found.origin}: {item.found.label}",
                    f"not converted: the resource name {name!r} is {_NAME_RULE}",
                )
            continue
        yield name, run_items


def _why(name: str, namespace: str | None, checked: Verified) -> str:
    where = f"ImageUpdater {namespace + '/' if namespace else ''}{name}"
    reasons = [f"{p.key}: {p.message}" for p in checked.errors] + list(checked.mismatches)
    return f"{where}: " + "; ".join(reasons)


def _warnings(
    resource: Mapping[str, Any], items: Sequence[_Converted], checked: Verified, report: _Report
) -> None:
    """The warnings the webhook will give for ``resource``, under the Application each
    applicationRef was made for."""
    name = resource["metadata"]["name"]
    for problem in checked.warnings:
        index = _ref_index(problem.key)
        if index is not None and index < len(items):
            found = items[index].found
            where = f"{found.origin}: {found.label}"
        else:
            where = f"ImageUpdater {name}"
        report.say(where, problem.message, "warning", key=f"ImageUpdater {name}: {problem.key}")


def _ref_index(path: str) -> int | None:
    prefix = "spec.applicationRefs["
    if not path.startswith(prefix):
        return None
    number = path[len(prefix) :].partition("]")[0]
    return int(number) if number.isdigit() else None


def _overlaps(
    converted: Sequence[_Converted],
    ours: Sequence[ImageUpdater],
    existing: Sequence[Mapping[str, Any]],
    rules: CredentialRules,
    report: _Report,
) -> None:
    """Say which ImageUpdaters in the cluster already select a migrated Application, and
    which one acts on it once the output is applied; and which ones the output replaces."""
    generated = {(u.namespace, u.name) for u in ours}
    theirs: list[ImageUpdater] = []
    for obj in existing:
        updater = parse_image_updater(obj, rules=rules).updater
        if updater is None:
            continue
        if (updater.namespace, updater.name) in generated:
            report.say(
                f"{_CLUSTER}: ImageUpdater {updater.namespace}/{updater.name}",
                "exists already: applying this output replaces its spec; choose another "
                "--name to keep it",
                "warning",
            )
            continue
        theirs.append(updater)
    for item in converted:
        app = item.found.app
        others = [u for u in theirs if bind(u, app) is not None]
        if not others:
            continue
        mine = [u for u in ours if u.namespace == item.found.namespace and bind(u, app)]
        decision = arbitrate([*mine, *others], app)
        where = f"{item.found.origin}: {item.found.label}"
        names = ", ".join(f"'{u.name}'" for u in others)
        winner = decision.winner
        if winner is not None and any(winner.updater is u for u in mine):
            report.say(
                where,
                f"ImageUpdater {names} selects it too; once this output is applied, "
                f"'{winner.updater.name}' acts on it (it is more specific) and the others "
                "stand back",
                "note",
            )
        elif winner is not None:
            report.say(
                where,
                f"ImageUpdater '{winner.updater.name}' selects it as or more specifically "
                f"({winner.ref.path}, namePattern '{winner.ref.name_pattern}'), so it keeps "
                "acting on it once this output is applied; narrow its namePattern",
                "warning",
            )


# ---- printing ----


def _render(documents: list[dict[str, Any]], output: str) -> str:
    if output == "json":
        listing = {"apiVersion": "v1", "kind": "List", "items": documents}
        return json.dumps(listing, indent=2, ensure_ascii=False) + "\n"
    header = (
        "# ImageUpdater resources written by `image-updater migrate` from the\n"
        f"# {PREFIX}* annotations of Argo CD Applications.\n"
        "# Apply them, then remove those annotations from the Applications.\n"
    )
    text = yaml.dump_all(
        documents,
        Dumper=_FastDumper,
        explicit_start=True,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 20,
    )
    if list(yaml.load_all(text, Loader=_FastLoader)) != documents:
        raise _Internal("the YAML written does not read back as the resources")
    return header + text

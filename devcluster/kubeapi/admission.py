"""Calling admission webhooks the way kube-apiserver does.

Configurations are read from the stored Mutating-/ValidatingWebhookConfigurations and
checked when written (`compile_configuration`). On each create/update the matching
mutating webhooks run first (configurations by name, webhooks in order, each seeing the
previous one's JSONPatch), then the validating ones (concurrently; the first denial in
order wins). AdmissionReview v1 goes out over HTTPS, verified against `caBundle`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import ssl
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
import jsonpatch

from .cel import CelEvalError, CelUnsupported, Program, compile_expression
from .discovery import ResourceType
from .selectors import LabelSelector, SelectorError, label_selector_from_object
from .status import ApiError

JSON = dict[str, Any]
Operation = Literal["CREATE", "UPDATE", "DELETE"]
WebhookKind = Literal["mutating", "validating"]
ADMISSION_GROUP = "admissionregistration.k8s.io"


@dataclass(frozen=True, slots=True)
class Rule:
    groups: tuple[str, ...]
    versions: tuple[str, ...]
    resources: tuple[str, ...]
    operations: tuple[str, ...]
    scope: str

    def matches(self, rt: ResourceType, subresource: str, operation: Operation) -> bool:
        def has(values: tuple[str, ...], value: str) -> bool:
            return "*" in values or value in values

        if not (has(self.groups, rt.group) and has(self.versions, rt.version)):
            return False
        if not has(self.operations, operation):
            return False
        if self.scope != "*" and (self.scope == "Namespaced") != rt.namespaced:
            return False
        for entry in self.resources:
            res, _, sub = entry.partition("/")
            if res in ("*", rt.plural) and sub in ("*", subresource):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Webhook:
    name: str
    kind: WebhookKind
    configuration: str
    rules: tuple[Rule, ...]
    namespace_selector: LabelSelector
    object_selector: LabelSelector
    match_conditions: tuple[tuple[str, Program], ...]
    failure_policy: Literal["Fail", "Ignore"]
    side_effects: Literal["None", "NoneOnDryRun"]
    timeout_seconds: int
    url: str | None
    service: tuple[str, str, str, int] | None  # namespace, name, path, port
    ca_bundle: str  # PEM text, "" for the system trust store


def _invalid(config: str, where: str, detail: str) -> ApiError:
    return ApiError(422, f"{config} is invalid: {where}: {detail}", reason="Invalid")


def compile_configuration(obj: JSON, kind: WebhookKind) -> list[Webhook]:
    """Check one configuration like kube-apiserver validation does; 422 naming the field."""
    config = f'{obj.get("kind", "WebhookConfiguration")}.{ADMISSION_GROUP} ' \
             f'"{(obj.get("metadata") or {}).get("name", "")}"'  # fmt: skip
    out = []
    for i, hook in enumerate(obj.get("webhooks") or []):
        at = f"webhooks[{i}]"
        name = hook.get("name") or ""
        if "." not in name:
            raise _invalid(config, f"{at}.name", f"{name!r} must be a fully qualified name")
        versions = hook.get("admissionReviewVersions") or []
        if "v1" not in versions:
            raise _invalid(config, f"{at}.admissionReviewVersions",
                           f"{versions!r} must include 'v1', the only version the emulator "
                           "speaks")  # fmt: skip
        side_effects = hook.get("sideEffects")
        if side_effects not in ("None", "NoneOnDryRun"):
            raise _invalid(config, f"{at}.sideEffects",
                           f"{side_effects!r}: supported values: None, NoneOnDryRun")  # fmt: skip
        policy = hook.get("failurePolicy", "Fail")
        if policy not in ("Fail", "Ignore"):
            raise _invalid(config, f"{at}.failurePolicy",
                           f"{policy!r}: supported values: Fail, Ignore")  # fmt: skip
        timeout = hook.get("timeoutSeconds", 10)
        if not isinstance(timeout, int) or not 1 <= timeout <= 30:
            raise _invalid(config, f"{at}.timeoutSeconds", f"{timeout!r}: must be 1 to 30")
        cc = hook.get("clientConfig") or {}
        url, svc = cc.get("url"), cc.get("service")
        if (url is None) == (svc is None):
            raise _invalid(
                config, f"{at}.clientConfig", "exactly one of url or service is required"
            )
        if url is not None and not str(url).startswith("https://"):
            raise _invalid(config, f"{at}.clientConfig.url", f"{url!r}: must be an https URL")
        service = None
        if svc is not None:
            service = (str(svc.get("namespace", "")), str(svc.get("name", "")),
                       str(svc.get("path", "/")), int(svc.get("port", 443)))  # fmt: skip
        try:
            ca = base64.b64decode(cc.get("caBundle", ""), validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _invalid(config, f"{at}.clientConfig.caBundle", "not base64 PEM") from exc
        rules = tuple(
            Rule(
                tuple(r.get("apiGroups") or ()),
                tuple(r.get("apiVersions") or ()),
                tuple(r.get("resources") or ()),
                tuple(r.get("operations") or ()),
                r.get("scope", "*"),
            )
            for r in hook.get("rules") or []
        )
        conditions = []
        for j, cond in enumerate(hook.get("matchConditions") or []):
            try:
                conditions.append((str(cond.get("name", "")), compile_expression(
                    str(cond.get("expression", "")))))  # fmt: skip
            except CelUnsupported as exc:
                raise _invalid(config, f"{at}.matchConditions[{j}].expression", str(exc)) from exc
        try:
            ns_sel = label_selector_from_object(hook.get("namespaceSelector"),
                                                f"{at}.namespaceSelector")  # fmt: skip
            obj_sel = label_selector_from_object(hook.get("objectSelector"),
                                                 f"{at}.objectSelector")  # fmt: skip
        except SelectorError as exc:
            raise _invalid(config, at, str(exc)) from exc
        out.append(Webhook(name, kind, str((obj.get("metadata") or {}).get("name", "")), rules,
                           ns_sel, obj_sel, tuple(conditions), policy, side_effects, timeout,
                           url, service, ca))  # fmt: skip
    return out


@dataclass(frozen=True, slots=True)
class Attributes:
    """What one write is, as the admission chain sees it."""

    rt: ResourceType
    subresource: str
    operation: Operation
    namespace: str
    name: str
    obj: JSON | None
    old: JSON | None
    dry_run: bool
    user: JSON
    options: JSON
    namespace_labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Outcome:
    obj: JSON | None
    warnings: tuple[str, ...]


class _CallFailed(Exception):
    """A webhook could not be called or answered nonsense (subject to failurePolicy)."""


def _labels(obj: JSON | None) -> Mapping[str, str]:
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


class Dispatcher:
    def __init__(self, service_addresses: Mapping[tuple[str, str], str]) -> None:
        self.service_addresses = dict(service_addresses)
        self._ssl: dict[str, ssl.SSLContext] = {}
        self.session: aiohttp.ClientSession | None = None

    def _context(self, ca: str) -> ssl.SSLContext:
        if ca not in self._ssl:
            self._ssl[ca] = ssl.create_default_context(cadata=ca or None)
        return self._ssl[ca]

    def _applies(self, hook: Webhook, a: Attributes) -> bool:
        if not any(rule.matches(a.rt, a.subresource, a.operation) for rule in hook.rules):
            return False
        if a.rt.storage_key == ("", "namespaces"):
            if not (hook.namespace_selector.matches(_labels(a.obj))
                    or hook.namespace_selector.matches(_labels(a.old))):  # fmt: skip
                return False
        elif a.rt.namespaced and not hook.namespace_selector.matches(a.namespace_labels):
            return False
        return hook.object_selector.matches(_labels(a.obj)) or (
            a.old is not None and hook.object_selector.matches(_labels(a.old))
        )

    def _conditions_hold(self, hook: Webhook, review: JSON, a: Attributes) -> bool:
        request = {k: v for k, v in review["request"].items() if k not in ("object", "oldObject")}
        env = {"object": a.obj, "oldObject": a.old, "request": request}
        # Like kube-apiserver: every condition is evaluated, one false skips the webhook
        # whatever the others raised, and only then does an error meet the failurePolicy.
        errors: list[tuple[str, CelEvalError]] = []
        for cname, program in hook.match_conditions:
            try:
                if not program.evaluate(env):
                    return False
            except CelEvalError as exc:
                errors.append((cname, exc))
        if not errors:
            return True
        if hook.failure_policy == "Ignore":
            return False
        cname, error = errors[0]
        raise ApiError(
            500,
            f'Internal error occurred: failed calling webhook "{hook.name}": '
            f'failed to evaluate match condition "{cname}": {error}',
        ) from error

    def _review(self, a: Attributes, obj: JSON | None) -> JSON:
        gvk = {"group": a.rt.group, "version": a.rt.version, "kind": a.rt.kind}
        gvr = {"group": a.rt.group, "version": a.rt.version, "resource": a.rt.plural}
        request: JSON = {
            "uid": str(uuid.uuid4()),
            "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
            "name": a.name, "namespace": a.namespace, "operation": a.operation,
            "userInfo": a.user, "object": obj, "oldObject": a.old,
            "dryRun": a.dry_run, "options": a.options,
        }  # fmt: skip
        if a.subresource:
            request["subResource"] = request["requestSubResource"] = a.subresource
        if not a.rt.namespaced:
            request.pop("namespace")
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}

    def _target(self, hook: Webhook) -> tuple[str, str, str | None]:
        """(URL shown in errors, URL connected to, TLS server name) with ?timeout= appended."""
        suffix = f"timeout={hook.timeout_seconds}s"
        if hook.url is not None:
            shown = hook.url + ("&" if "?" in hook.url else "?") + suffix
            return shown, shown, None
        assert hook.service is not None
        ns, svc, path, port = hook.service
        host = f"{svc}.{ns}.svc"
        path = path if path.startswith("/") else "/" + path
        shown = f"https://{host}:{port}{path}?{suffix}"
        address = self.service_addresses.get((ns, svc))
        if address is None:
            raise _CallFailed(
                f'failed to call webhook: Post "{shown}": service "{ns}/{svc}" has no address; '
                "give KubeAPI(service_addresses={(namespace, name): 'host:port'})"
            )
        return shown, f"https://{address}{path}?{suffix}", host

    async def _call(self, hook: Webhook, review: JSON) -> JSON:
        shown, target, server_name = self._target(hook)
        if self.session is None:
            raise _CallFailed("the emulator's webhook client is not running")
        try:
            async with self.session.post(
                target,
                json=review,
                ssl=self._context(hook.ca_bundle),
                server_hostname=server_name,
                timeout=aiohttp.ClientTimeout(total=hook.timeout_seconds),
            ) as resp:
                if resp.status != 200:
                    raise _CallFailed(
                        f'failed to call webhook: Post "{shown}": the server responded with '
                        f"status {resp.status}"
                    )
                answer = await resp.json(content_type=None)
        except TimeoutError as exc:
            raise _CallFailed(
                f'failed to call webhook: Post "{shown}": context deadline exceeded'
            ) from exc
        except (aiohttp.ClientError, ssl.SSLError, ValueError) as exc:
            raise _CallFailed(f'failed to call webhook: Post "{shown}": {exc}') from exc
        response = answer.get("response") if isinstance(answer, dict) else None
        if not isinstance(response, dict):
            raise _CallFailed("received invalid webhook response: no response field")
        if response.get("uid") != review["request"]["uid"]:
            raise _CallFailed(
                f"expected response.uid={review['request']['uid']!r}, got {response.get('uid')!r}"
            )
        return response

    @staticmethod
    def _denial(hook: Webhook, response: JSON) -> ApiError:
        status = dict(response.get("status") or {})
        code = int(status.get("code") or 0)
        denied = f'admission webhook "{hook.name}" denied the request'
        message, reason = status.get("message") or "", status.get("reason") or ""
        text = f"{denied}: {message}" if message else (
            f"{denied}: {reason}" if reason else f"{denied} without explanation")  # fmt: skip
        return ApiError(max(code, 400), text, reason=reason, details=status.get("details"))

    @staticmethod
    def _patched(obj: JSON | None, response: JSON) -> JSON | None:
        if "patch" not in response:
            return obj
        if response.get("patchType") != "JSONPatch":
            raise _CallFailed(f"unsupported patchType {response.get('patchType')!r}")
        try:
            ops = json.loads(base64.b64decode(response["patch"], validate=True))
            result = jsonpatch.JsonPatch(ops).apply(obj)
        except (ValueError, binascii.Error, jsonpatch.JsonPatchException,
                jsonpatch.JsonPointerException) as exc:  # fmt: skip
            raise _CallFailed(f"the webhook's JSONPatch cannot be applied: {exc}") from exc
        if not isinstance(result, dict):
            raise _CallFailed("the webhook's JSONPatch did not produce an object")
        return result

    def _failure(self, hook: Webhook, exc: _CallFailed) -> ApiError | None:
        if hook.failure_policy == "Ignore":
            return None
        return ApiError(
            500, f'Internal error occurred: failed calling webhook "{hook.name}": {exc}'
        )

    def _should_call(self, hook: Webhook, a: Attributes, review: JSON) -> bool:
        if not self._applies(hook, a) or not self._conditions_hold(hook, review, a):
            return False
        if a.dry_run and hook.side_effects not in ("None", "NoneOnDryRun"):
            raise ApiError(400, f'admission webhook "{hook.name}" does not support dry run')
        return True

    async def admit(self, a: Attributes, hooks: list[Webhook]) -> Outcome:
        """Run the chain; raises ApiError for a denial or a failed call under Fail."""
        if a.rt.group == ADMISSION_GROUP:
            return Outcome(a.obj, ())
        obj, warnings = a.obj, list[str]()
        for hook in (h for h in hooks if h.kind == "mutating"):
            review = self._review(a, obj)
            if not self._should_call(hook, a, review):
                continue
            try:
                response = await self._call(hook, review)
                if not response.get("allowed"):
                    raise self._denial(hook, response)
                warnings.extend(str(w) for w in response.get("warnings") or [])
                obj = self._patched(obj, response)
            except _CallFailed as exc:
                if (error := self._failure(hook, exc)) is not None:
                    raise error from exc
        final = Attributes(a.rt, a.subresource, a.operation, a.namespace, a.name, obj, a.old,
                           a.dry_run, a.user, a.options, a.namespace_labels)  # fmt: skip
        review = self._review(final, obj)
        called = [
            h for h in hooks if h.kind == "validating" and self._should_call(h, final, review)
        ]
        results = await asyncio.gather(
            *(self._call(h, self._review(final, obj)) for h in called), return_exceptions=True
        )
        for hook, result in zip(called, results, strict=True):
            if isinstance(result, _CallFailed):
                if (error := self._failure(hook, result)) is not None:
                    raise error from result
            elif isinstance(result, BaseException):
                raise result
            else:
                if not result.get("allowed"):
                    raise self._denial(hook, result)
                warnings.extend(str(w) for w in result.get("warnings") or [])
        return Outcome(obj, tuple(warnings))


def warning_headers(warnings: tuple[str, ...]) -> list[str]:
    """`Warning: 299 - "<text>"` values, truncated the way kube-apiserver does past 4096 runes."""
    items = list(warnings)
    if sum(len(w) for w in items) > 4096:
        items = [w if len(w) <= 256 else w[:253] + "..." for w in items]
    out = []
    for w in items:
        text = "".join(ch if ch.isprintable() else " " for ch in w)
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        out.append(f'299 - "{escaped}"')
    return out

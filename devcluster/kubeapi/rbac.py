"""Authentication of ServiceAccount tokens and RBAC authorization, as kube-apiserver does it.

Owns: the identities a bearer token stands for (`Authenticator`), the request attributes
kube-apiserver's RequestInfoFactory derives from a method, path and query
(`request_attributes`), the RBAC rule resolver and matcher over the stored Roles,
ClusterRoles (aggregated ones included) and their bindings (`Authorizer`), the default
ClusterRoles and ClusterRoleBindings a cluster bootstraps with (`BOOTSTRAP_POLICY`), the
401/403 Status bodies worded like kube-apiserver's, and SelfSubjectAccessReview
(`access_review`; the server decodes its JSON or protobuf body).

Only ServiceAccount identities (and, under `strict_tokens`, anonymous requests) are put
through RBAC: the admin and `users={}` identities stay unrestricted, so tests that never
ask for RBAC see none.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .discovery import Resources
from .selectors import SelectorError, label_selector_from_object
from .status import ApiError
from .store import Store

JSON = dict[str, Any]
RBAC_GROUP = "rbac.authorization.k8s.io"
SA_PREFIX = "system:serviceaccount:"
SELF_SUBJECT_ACCESS_REVIEWS = ("authorization.k8s.io", "selfsubjectaccessreviews")
_SPECIAL_VERBS = ("proxy", "watch")
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_METHOD_VERBS = {
    "POST": "create",
    "GET": "get",
    "HEAD": "get",
    "PUT": "update",
    "PATCH": "patch",
    "DELETE": "delete",
}


# ---- identities ----


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request is from. `rbac` says whether RBAC decides what it may do."""

    username: str
    groups: tuple[str, ...]
    uid: str = ""
    rbac: bool = False

    def user_info(self) -> JSON:
        """The admission `userInfo` (and SelfSubjectAccessReview) form."""
        info: JSON = {"username": self.username}
        if self.uid:
            info["uid"] = self.uid
        info["groups"] = list(self.groups)
        return info


ADMIN = Identity("kubernetes-admin", ("system:masters", "system:authenticated"))
ANONYMOUS = Identity("system:anonymous", ("system:unauthenticated",), rbac=True)


def service_account_identity(namespace: str, name: str, uid: str = "") -> Identity:
    return Identity(
        f"{SA_PREFIX}{namespace}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
        uid,
        rbac=True,
    )


def _status(code: int, message: str, reason: str, details: JSON | None = None) -> JSON:
    """A Failure Status in kube-apiserver's field order (its JSON is compact, in this order)."""
    body: JSON = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason}  # fmt: skip
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


class Unauthorized(ApiError):
    """401 as kube-apiserver answers a bearer token it cannot authenticate."""

    def __init__(self) -> None:
        super().__init__(401, "Unauthorized", reason="Unauthorized")

    def body(self) -> JSON:
        return _status(401, "Unauthorized", "Unauthorized")


class Authenticator:
    """Bearer token -> Identity.

    A ServiceAccount token (from `service_account_tokens` or `issue_token`) is valid while
    its ServiceAccount exists, as kube-apiserver's token authenticator checks: deleting the
    ServiceAccount revokes it (401). A token in `users` keeps its unrestricted identity.
    Any other token, or none, is the admin; with `strict` another token is 401 and no token
    is `system:anonymous` (kube-apiserver's default `--anonymous-auth=true`), under RBAC.
    """

    def __init__(
        self,
        store: Store,
        *,
        users: Mapping[str, str] | None = None,
        service_account_tokens: Mapping[str, tuple[str, str]] | None = None,
        strict: bool = False,
    ) -> None:
        self._store = store
        self._users = dict(users or {})
        self._sa_tokens = dict(service_account_tokens or {})
        self.strict = strict

    def issue_token(self, namespace: str, name: str) -> str:
        """A new bearer token for ServiceAccount `namespace/name` (which must exist when used)."""
        token = secrets.token_urlsafe(32)
        self._sa_tokens[token] = (namespace, name)
        return token

    def authenticate(self, authorization: str) -> Identity:
        scheme, _, token = authorization.partition(" ")
        token = token if scheme.lower() == "bearer" else ""
        if token in self._sa_tokens:
            namespace, name = self._sa_tokens[token]
            sa_type = self._store.resources.lookup("", "v1", "serviceaccounts")
            sa = self._store.read(sa_type, namespace, name) if sa_type else None
            if sa is None:
                raise Unauthorized()
            return service_account_identity(namespace, name, str(sa["metadata"].get("uid", "")))
        username = self._users.get(token) if token else None
        if username is not None:
            groups = ["system:authenticated"]
            if username.startswith(SA_PREFIX):
                ns = username.split(":")[2]
                groups += ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
            return Identity(username, tuple(groups))
        if not self.strict:
            return ADMIN
        if not token:  # no bearer token at all: the anonymous authenticator answers
            return ANONYMOUS
        raise Unauthorized()


# ---- request attributes ----


@dataclass(frozen=True, slots=True)
class Attributes:
    """kube-apiserver's authorizer.Attributes for one request (or one access review)."""

    verb: str
    path: str = ""
    resource_request: bool = False
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""

    @property
    def combined_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def _split_term(term: str) -> tuple[str, str, str] | None:
    """fields.splitTerm: the first operator (`!=`, `==`, `=`) found scanning left to right."""
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def _exact_name(field_selector: str) -> str:
    """The name a `fieldSelector` pins with `metadata.name=` / `==`, or "" (also when the
    selector does not parse, as kube falls back to an unnamed list then)."""
    terms = [_split_term(t) for t in field_selector.split(",")] if field_selector else []
    if any(t is None for t in terms):
        return ""
    for field, op, value in (t for t in terms if t is not None):
        if field == "metadata.name" and op != "!=":
            valid = value not in (".", "..") and "/" not in value and "%" not in value
            return value if valid else ""
    return ""


def request_attributes(method: str, path: str, query: Mapping[str, str]) -> Attributes:
    """RequestInfoFactory.NewRequestInfo: verb, group, version, namespace, resource,
    subresource and name of a request; paths outside /api and /apis are non-resource."""
    non_resource = Attributes(verb=method.lower(), path=path)
    trimmed = path.strip("/")
    parts = trimmed.split("/") if trimmed else []
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return non_resource
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix == "apis":
        if len(parts) < 3:
            return non_resource
        group, parts = parts[0], parts[1:]
    version, parts = parts[0], parts[1:]
    if parts[0] in _SPECIAL_VERBS:
        if len(parts) < 2:
            raise ApiError(500, f"failed to create RequestInfo: unable to determine kind and "
                                f"namespace from url, {path}")  # fmt: skip
        verb, parts = parts[0], parts[1:]
    else:
        verb = _METHOD_VERBS.get(method.upper(), "")
    namespace = ""
    if parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        if len(parts) > 2 and parts[2] not in _NAMESPACE_SUBRESOURCES:
            parts = parts[2:]
    resource = parts[0]
    name = parts[1] if len(parts) >= 2 else ""
    sub = parts[2] if len(parts) >= 3 and verb != "proxy" else ""
    if not name and verb == "get":
        watch = query.get("watch")
        verb = "watch" if watch is not None and watch.lower() not in ("false", "0") else "list"
        name = _exact_name(query.get("fieldSelector", ""))
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(verb, path, True, group, version, namespace, resource, sub, name)


# ---- rules ----


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def rule_allows(a: Attributes, rule: JSON) -> bool:
    """RuleAllows: verbs, then apiGroups/resources/resourceNames or nonResourceURLs."""
    verbs = _strings(rule.get("verbs"))
    if "*" not in verbs and a.verb not in verbs:
        return False
    if not a.resource_request:
        for url in _strings(rule.get("nonResourceURLs")):
            if url in ("*", a.path):
                return True
            if url.endswith("*") and a.path.startswith(url.rstrip("*")):
                return True
        return False
    groups = _strings(rule.get("apiGroups"))
    if "*" not in groups and a.group not in groups:
        return False
    resource_ok = False
    for res in _strings(rule.get("resources")):
        if res in ("*", a.combined_resource) or (a.subresource and res == f"*/{a.subresource}"):
            resource_ok = True
            break
    if not resource_ok:
        return False
    names = _strings(rule.get("resourceNames"))
    return not names or a.name in names


def _not_found(kind: str, name: str) -> str:
    # the informer listers' NotFound, which names the singular resource
    return f'{kind}.{RBAC_GROUP} "{name}" not found'


def _aggregate(errors: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message, or "[a, b]" de-duplicated."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _describe_subject(subject: JSON, binding_namespace: str) -> str:
    kind, name = str(subject.get("kind", "")), str(subject.get("name", ""))
    if kind == "ServiceAccount":
        return f'{kind} "{name}/{subject.get("namespace") or binding_namespace}"'
    return f'{kind} "{name}"'


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""


@dataclass(slots=True)
class Authorizer:
    """The RBAC authorizer reading the live store: nothing is cached, so a rule removed or a
    binding deleted takes effect on the next request (a watch already open keeps going)."""

    store: Store
    resources: Resources

    def _items(self, plural: str, namespace: str | None = None) -> list[JSON]:
        rt = self.resources.lookup(RBAC_GROUP, "v1", plural)
        return self.store.items(rt, namespace) if rt else []

    def _read(self, plural: str, namespace: str, name: str) -> JSON | None:
        rt = self.resources.lookup(RBAC_GROUP, "v1", plural)
        return self.store.read(rt, namespace, name) if rt else None

    def cluster_role_rules(self, name: str, _seen: frozenset[str] = frozenset()) -> list[JSON]:
        """A ClusterRole's rules; an aggregated one's are those of the ClusterRoles its
        `aggregationRule.clusterRoleSelectors` select, as the aggregation controller writes
        them (by name, duplicates dropped, itself excluded)."""
        role = self._read("clusterroles", "", name)
        if role is None:
            return []
        aggregation = role.get("aggregationRule")
        if not isinstance(aggregation, dict):
            return [r for r in role.get("rules") or [] if isinstance(r, dict)]
        rules: list[JSON] = []
        everyone = sorted(self._items("clusterroles"), key=lambda r: str(r["metadata"]["name"]))
        for raw in aggregation.get("clusterRoleSelectors") or []:
            try:
                selector = label_selector_from_object(raw, f"clusterroles/{name}")
            except SelectorError:
                continue
            for other in everyone:
                other_name = str(other["metadata"]["name"])
                if other_name == name or other_name in _seen:
                    continue
                if not selector.matches(other["metadata"].get("labels") or {}):
                    continue
                for rule in self.cluster_role_rules(other_name, _seen | {name}):
                    if rule not in rules:
                        rules.append(rule)
        return rules

    def _role_ref_rules(self, ref: object, namespace: str) -> tuple[list[JSON], str]:
        """GetRoleReferenceRules: the bound role's rules, or the error resolving it."""
        ref = ref if isinstance(ref, dict) else {}
        kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
        if kind == "Role":
            role = self._read("roles", namespace, name) if namespace else None
            if role is None:
                return [], _not_found("role", name)
            return [r for r in role.get("rules") or [] if isinstance(r, dict)], ""
        if kind == "ClusterRole":
            if self._read("clusterroles", "", name) is None:
                return [], _not_found("clusterrole", name)
            return self.cluster_role_rules(name), ""
        return [], f'unsupported role reference kind: "{kind}"'

    def authorize(self, who: Identity, a: Attributes) -> Decision:
        """RBACAuthorizer.Authorize: ClusterRoleBindings, then the request namespace's
        RoleBindings; allowed by the first matching rule, otherwise no opinion (denied)
        with the role-resolution errors met on the way as the reason."""
        errors: list[str] = []
        sources: list[tuple[str, str, Iterable[JSON]]] = [
            ("ClusterRoleBinding", "", self._items("clusterrolebindings"))
        ]
        if a.namespace:
            sources.append(("RoleBinding", a.namespace, self._items("rolebindings", a.namespace)))
        for kind, namespace, bindings in sources:
            for binding in bindings:
                subject = _applies(who, binding.get("subjects"), namespace)
                if subject is None:
                    continue
                rules, error = self._role_ref_rules(binding.get("roleRef"), namespace)
                if error:
                    errors.append(error)
                    continue
                if any(rule_allows(a, rule) for rule in rules):
                    ref = binding.get("roleRef") or {}
                    meta = binding["metadata"]
                    label = meta["name"] + (f"/{namespace}" if namespace else "")
                    return Decision(
                        True,
                        f'RBAC: allowed by {kind} "{label}" of {ref.get("kind")} '
                        f'"{ref.get("name")}" to {_describe_subject(subject, namespace)}',
                    )
        return Decision(False, f"RBAC: {_aggregate(errors)}" if errors else "")


def _applies(who: Identity, subjects: object, namespace: str) -> JSON | None:
    """appliesTo: the first subject naming this user, one of its groups, or its
    ServiceAccount (a RoleBinding's subject without a namespace means the binding's)."""
    for subject in subjects if isinstance(subjects, list) else []:
        if not isinstance(subject, dict):
            continue
        kind, name = subject.get("kind"), subject.get("name")
        if kind == "User" and name == who.username:
            return subject
        if kind == "Group" and name in who.groups:
            return subject
        if kind == "ServiceAccount":
            sa_namespace = subject.get("namespace") or namespace
            if sa_namespace and who.username == f"{SA_PREFIX}{sa_namespace}:{name}":
                return subject
    return None


# ---- answers ----


class Forbidden(ApiError):
    """403 worded like kube-apiserver's responsewriters.Forbidden + apierrors.NewForbidden."""

    def __init__(self, who: Identity, a: Attributes, reason: str) -> None:
        if not a.resource_request:
            detail = f'User "{who.username}" cannot {a.verb} path "{a.path}"'
        else:
            scope = f'in the namespace "{a.namespace}"' if a.namespace else "at the cluster scope"
            detail = (
                f'User "{who.username}" cannot {a.verb} resource "{a.combined_resource}" '
                f'in API group "{a.group}" {scope}'
            )
        if reason:
            detail = f"{detail}: {reason}"
        qualified = f"{a.resource}.{a.group}" if a.group else a.resource
        if not qualified:
            message = f"forbidden: {detail}"
        elif a.name:
            message = f'{qualified} "{a.name}" is forbidden: {detail}'
        else:
            message = f"{qualified} is forbidden: {detail}"
        details: JSON = {}
        for key, value in (("name", a.name), ("group", a.group), ("kind", a.resource)):
            if value:
                details[key] = value
        super().__init__(403, message, reason="Forbidden", details=details)

    def body(self) -> JSON:
        # `details` is there even when empty (a non-resource path), as kube-apiserver sends it
        return _status(403, self.message, "Forbidden", self.details or {})


_RESOURCE_FIELDS = ("namespace", "verb", "group", "version", "resource", "subresource", "name")


def review_attributes(spec: JSON) -> Attributes:
    """SelfSubjectAccessReview spec -> Attributes; exactly one kind of attributes."""
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if bool(resource) == bool(non_resource):
        raise ApiError(
            422,
            'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes:'
            ' Invalid value: "null": exactly one of nonResourceAttributes or '
            "resourceAttributes must be specified",
            reason="Invalid",
        )
    if isinstance(non_resource, dict):
        return Attributes(str(non_resource.get("verb", "")), str(non_resource.get("path", "")))
    r = resource if isinstance(resource, dict) else {}
    values = {k: str(r.get(k) or "") for k in _RESOURCE_FIELDS}
    return Attributes(resource_request=True, **values)


def access_review(body: object, who: Identity, authorizer: Authorizer) -> JSON:
    """The SelfSubjectAccessReview answer: the request's spec with the decision RBAC (or,
    for an unrestricted identity, the emulator's allow-all) makes for `who`."""
    if not isinstance(body, dict):
        raise ApiError(400, "a SelfSubjectAccessReview must be a JSON object")
    spec = body.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    attributes = review_attributes(spec)
    decision = authorizer.authorize(who, attributes) if who.rbac else Decision(True)
    status: JSON = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": copy.deepcopy(spec),
        "status": status,
    }


# ---- the policy a cluster bootstraps with ----

_BOOTSTRAP_META: JSON = {
    "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
    "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
}
_PUBLIC_URLS = ["/livez", "/readyz", "/healthz", "/version", "/version/"]
_DISCOVERY_URLS = ["/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*"]


def _cluster_role(name: str, *rules: JSON) -> JSON:
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, **copy.deepcopy(_BOOTSTRAP_META)},
        "rules": list(rules),
    }


def _cluster_binding(name: str, *groups: str) -> JSON:
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, **copy.deepcopy(_BOOTSTRAP_META)},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": g} for g in groups],
    }


# kube-apiserver's bootstrappolicy for what every identity may do: discovery, health and
# version, and asking about itself. Stored objects, so a test may change or delete them.
BOOTSTRAP_POLICY: tuple[JSON, ...] = (
    _cluster_role(
        "cluster-admin",
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ),
    _cluster_role(
        "system:discovery",
        {"nonResourceURLs": [*_PUBLIC_URLS, *_DISCOVERY_URLS], "verbs": ["get"]},
    ),
    _cluster_role(
        "system:basic-user",
        {
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
            "verbs": ["create"],
        },
        {
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["selfsubjectreviews"],
            "verbs": ["create"],
        },
    ),
    _cluster_role("system:public-info-viewer", {"nonResourceURLs": _PUBLIC_URLS, "verbs": ["get"]}),
    _cluster_binding("cluster-admin", "system:masters"),
    _cluster_binding("system:discovery", "system:authenticated"),
    _cluster_binding("system:basic-user", "system:authenticated"),
    _cluster_binding("system:public-info-viewer", "system:authenticated", "system:unauthenticated"),
)

"""A Kubernetes API emulator that kubectl and kubernetes_asyncio accept, and that calls
admission webhooks the way kube-apiserver does.

It stands in for a cluster in tests and in the demo. It is faithful where Image Updater
depends on Kubernetes semantics (optimistic concurrency, selectors, watches, admission) and
deliberately small everywhere else. It serves plain HTTP on 127.0.0.1 only.

Using it
--------
In a test, through pytest-aiohttp, on the test's event loop::

    api = KubeAPI()                               # built-ins + devcluster/crds/*.yaml
    server = await aiohttp_server(api.app())      # str(server.make_url("")) is the host
    api.store.put({...})                          # seed without admission
    api.store.get("argoproj.io", None, "applications", "argocd", "app")   # assert
    api.requests.count(verb="patch", resource="applications")
    api.faults.inject(verb="patch", resource="applications", status=409, times=1)

For kubectl or synchronous callers, ``with run_in_thread(api) as running:`` serves it from a
thread (``running.url``), and ``write_kubeconfig(path, running.url)`` points kubectl at it
(use ``kubectl apply --validate=false`` and a fresh ``KUBECACHEDIR``). Standalone:
``python -m devcluster kubeapi --port N --crds DIR [--kubeconfig PATH]
[--service NS/NAME=HOST:PORT]``.

What it implements
------------------
- Discovery: ``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/{g}``, ``/apis/{g}/{v}``
  for the built-ins (Namespace, Secret, ConfigMap, Service, core and events.k8s.io Event,
  Lease, Mutating-/ValidatingWebhookConfiguration, CustomResourceDefinition, ServiceAccount,
  Role, ClusterRole, RoleBinding, ClusterRoleBinding, SelfSubjectAccessReview) and every CRD;
  a CRD created at runtime (``kubectl apply -f crd.yaml``) is served at once and reports
  ``Established``. ``/healthz``, ``/readyz``, ``/livez`` answer ``ok``.
- Verbs: create (201; uid, resourceVersion, generation, creationTimestamp, generateName;
  409 AlreadyExists), get (404 with a Status), list (``<Kind>List`` at the current
  resourceVersion; ``labelSelector`` ``= == != in notin exists !exists``; ``fieldSelector``
  on ``metadata.name``/``metadata.namespace``; ``limit``/``continue``; one namespace or all),
  replace (409 on a stale resourceVersion; 422 without one for custom resources), patch by
  Content-Type (merge patch; JSON patch, 422 when a ``test`` fails; apply patch, which needs
  ``fieldManager`` and creates a missing object; strategic merge for built-ins only; 415 for
  the rest), delete (returns the object), and ``/status`` where declared. A stale
  ``metadata.resourceVersion`` in a patch is 409. ``dryRun=All`` runs everything, admission
  included, and stores nothing.
- Request bodies in JSON, YAML, or Kubernetes protobuf (``application/vnd.kubernetes.protobuf``,
  what kubectl's typed commands send: ``create namespace|secret generic|secret
  docker-registry|secret tls|configmap|serviceaccount|role|rolebinding|clusterrole|
  clusterrolebinding|service|deployment|job|poddisruptionbudget``, ``auth can-i``) for every
  built-in kind but CustomResourceDefinition. A protobuf body is decoded to the JSON object
  kubectl would have sent as JSON (Go's encoding/json rules: ``omitempty``, ``null`` for a nil
  slice without it, base64 ``[]byte``, ``creationTimestamp: null``, which create then sets)
  from the 1.32 schema in ``protobuf_schema.py``; a kind or field outside it (a custom
  resource, a field only a newer kubectl knows) is 415 naming it. client-go never retries a
  refused protobuf body as JSON, so decoding it is the only way these commands work. Answers
  are always JSON, which kubectl accepts (it sends ``Accept:
  application/vnd.kubernetes.protobuf,application/json``).
- Generation follows kube-apiserver, not a simplification: it bumps when anything outside
  ``metadata`` changes, and outside ``metadata``/``status`` when the type has a status
  subresource. So writing ``.status`` of an Application (its CRD has no status
  subresource) bumps it, while an ImageUpdater's ``/status`` does not. A no-op write keeps
  the resourceVersion and emits no event. With a status subresource, writes to the main
  resource keep the stored ``.status`` and ``/status`` writes change only ``.status``.
- Server-side printing (``tables.py``): a get or list of a custom resource asked for with
  ``Accept: application/json;as=Table;...;g=meta.k8s.io`` (what ``kubectl get`` sends) is a
  ``meta.k8s.io`` Table of the CRD's ``additionalPrinterColumns`` (``Name`` first; ``Age``
  when none are declared), cells typed as apiextensions-apiserver types them and dates shown
  as ages, so ``kubectl get imageupdaters`` prints APPS, IMAGES, LAST CHECKED and READY.
- Watch (``watch=true|True|1``): ADDED for current objects without a resourceVersion (or
  ``"0"``), replay from history after one, one ERROR event with a 410 Expired Status below
  the history floor (``store.compact()`` forces that), ``timeoutSeconds``, selectors (an
  object leaving the selection is DELETED, one entering it ADDED), and
  ``allowWatchBookmarks`` (a BOOKMARK every ``bookmark_interval`` seconds). Watchers end on
  server shutdown.
- Admission on create and update (including ``/status``, as ``subResource: status``): the
  stored webhook configurations are checked when written (422 naming the field) and called
  like kube-apiserver does: ``rules`` (groups, versions, resources incl. ``x/*`` and
  ``*/*``, operations, scope), ``namespaceSelector`` (on the namespace's labels; namespaces
  are auto-created with ``kubernetes.io/metadata.name``), ``objectSelector`` (old or new
  object), ``matchConditions`` (below), mutating webhooks first (configurations by name,
  webhooks in order, each seeing the previous patch), then validating ones. AdmissionReview
  v1 over HTTPS verified against ``caBundle``; ``url`` as is, or ``service`` mapped by
  ``service_addresses={(ns, name): "127.0.0.1:port"}`` with TLS verified for
  ``<name>.<ns>.svc``; ``?timeout=<n>s`` appended; ``timeoutSeconds``; ``failurePolicy``;
  ``sideEffects`` for dry runs; JSONPatch responses applied; ``warnings`` returned as
  ``Warning: 299 - "<text>"`` headers; denials as ``admission webhook "<name>" denied the
  request: <message>`` with the webhook's code (at least 400); call failures under
  ``Fail`` as 500 ``Internal error occurred: failed calling webhook "<name>": ...``.
  ``userInfo`` is the request's identity (below).
- Authentication and RBAC, for ServiceAccount tokens (below).
- Test hooks: ``store`` (``put``, ``get``, ``list``, ``delete``, ``compact``), ``requests``
  (``count(verb=, resource=, namespace=, name=, status=)``) and ``faults``
  (``inject(verb=, resource=, name=, status=409|410|429|500, delay=, times=)``; a 410 on a
  watch arrives as an ERROR event, a 429 carries ``Retry-After: 1``).

ServiceAccount tokens and RBAC
------------------------------
``token = api.issue_token("argocd", "image-updater")`` (or
``KubeAPI(service_account_tokens={token: ("argocd", "image-updater")})``) is a bearer token
for that ServiceAccount: ``system:serviceaccount:argocd:image-updater`` in the groups
``system:serviceaccounts``, ``system:serviceaccounts:argocd`` and ``system:authenticated``,
with the ServiceAccount's uid. Like kube-apiserver it is valid only while the ServiceAccount
object exists (seed it, or ``kubectl apply`` the install first); otherwise it is 401
``Unauthorized``. Requests with it are authorized by kube's RBAC rules, read from the store
at request time (a changed Role counts from the next request; an open watch keeps going):
ClusterRoleBindings, and RoleBindings in the request's namespace (to a Role there or to a
ClusterRole); subjects ``ServiceAccount`` (a RoleBinding's without a namespace means its
own), ``Group``, ``User``; ``apiGroups``/``resources``/``verbs`` with ``*``, subresources as
``pods/status`` or ``*/status``; ``resourceNames`` only for requests naming one object (get,
update, patch, delete, and list/watch with ``fieldSelector=metadata.name=<n>``, never
create); ``nonResourceURLs`` exact or ``prefix*``; aggregated ClusterRoles get the rules of
the ClusterRoles their ``aggregationRule`` selects. Verbs and attributes are
kube-apiserver's RequestInfo (GET collection = list, ``watch=`` or ``/watch/`` = watch,
DELETE collection = deletecollection, ``/api/v1/namespaces/<ns>`` is in namespace ``<ns>``;
the emulator itself serves neither ``/watch/`` paths nor deletecollection, so those are
404/405 once allowed). A denial is 403 with kube's Status, word for word (``configmaps "x"
is forbidden: User "..." cannot get resource "configmaps" in API group "" in the namespace
"argocd"``, ``at the cluster scope``, ``cannot get path "/metrics"``, and ``: RBAC:
role.rbac.authorization.k8s.io "r" not found`` for a binding to a missing role).
Authorization precedes everything else, so a denied request never learns whether its object
exists. The default policy is stored at start, as kube bootstraps it, and can be changed:
ClusterRoles ``cluster-admin``, ``system:discovery`` (discovery, ``/openapi/*``, health,
version), ``system:basic-user`` (SelfSubjectAccessReview) and ``system:public-info-viewer``,
bound to ``system:masters``, ``system:authenticated`` and ``system:unauthenticated``. ``POST
/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`` (JSON or kubectl's protobuf)
answers with the same decision and kube's reason (``RBAC: allowed by RoleBinding "rb/ns" of
Role "r" to ServiceAccount "sa/ns"``), so ``kubectl auth can-i`` works. kubectl sends a
bearer token only over https: serve the app with TLS (as
``tests/kubeapi/test_rbac_kubectl.py`` does) with ``certificate-authority-data`` in the
kubeconfig; ``run_in_thread``/``write_kubeconfig`` are plain http.

Every other identity is unrestricted: a token in ``KubeAPI(users={token: username})`` sets
that ``userInfo``, anything else (or no token) is ``kubernetes-admin``. With
``strict_tokens=True`` only known tokens are accepted: any other bearer token is 401, and a
request without one is ``system:anonymous`` (group ``system:unauthenticated``) under RBAC,
kube-apiserver's default ``--anonymous-auth``.

What it does not implement
--------------------------
Authorization beyond RBAC for ServiceAccount tokens (other identities may do anything),
impersonation, RBAC escalation checks on writing roles and bindings (``escalate``/``bind``),
the TokenRequest API and token ``extra`` (e.g. ``credential-id``), SubjectAccessReview,
LocalSubjectAccessReview and SelfSubjectRulesReview (so ``kubectl auth can-i --list`` and
``kubectl auth whoami`` fail), OpenAPI (so kubectl needs ``--validate=false``), Table output
for built-in types and for watches (kubectl falls back to NAME/AGE), protobuf responses
(answers are JSON) and protobuf bodies for custom resources and CRDs (415, as kube-apiserver
refuses them for custom resources), server-side defaulting (a Secret created without
``--type`` has no ``type``), field ownership and managedFields (server-side apply is a merge
of the applied document: fields absent from it are kept), finalizers and
``deletionTimestamp`` (delete is immediate; deleting a Namespace removes its contents),
``deletecollection``, admission on DELETE and CONNECT, ``reinvocationPolicy``, conversion
between versions (every served version of a type shares one storage), CRD schema validation
and defaulting, and generateName collisions (names are generated before admission, so
mutating webhooks see them). Core and events.k8s.io Events are stored separately.

The matchConditions CEL subset
------------------------------
Variables ``object``, ``oldObject`` (null on CREATE) and ``request`` (the AdmissionRequest
without its objects); string, integer, ``true``/``false``/``null`` and list literals; field
selection ``a.b`` and indexing ``a['k']``/``a[0]``; ``has(a.b)``; ``size(x)``/``x.size()``;
``startsWith``, ``endsWith``, ``contains``, ``matches`` (RE2); ``!``, ``==``, ``!=``, ``<``,
``<=``, ``>``, ``>=``, ``in`` (map keys, list elements), ``&&``, ``||`` and parentheses, with
CEL's error absorption (``false && <error>`` is false); the macros ``exists(x, p)`` and
``all(x, p)`` over a list's items or a map's keys (``devcluster/kubeapi/cel.py`` has the
exact rules). Anything else (``authorizer``, ``params``, ``variables``, other macros such
as ``map``/``filter``, arithmetic, the ternary operator) is rejected when the
configuration is written, with a 422 naming the webhook, the expression and this subset.
Every condition is evaluated: one that is false skips the webhook even when another
raised a run-time error (e.g. a missing key); otherwise an error rejects the request under
``failurePolicy: Fail`` and skips the webhook under ``Ignore``.
"""

from __future__ import annotations

from .discovery import InvalidCRD, ResourceType
from .faults import Faults, RequestLog, RequestRecord
from .kubeconfig import write_kubeconfig
from .running import RunningKubeAPI, run_in_thread, serve_app
from .server import KUBEAPI, KubeAPI
from .store import Store, StoreEvent

__all__ = [
    "KUBEAPI",
    "Faults",
    "InvalidCRD",
    "KubeAPI",
    "RequestLog",
    "RequestRecord",
    "ResourceType",
    "RunningKubeAPI",
    "Store",
    "StoreEvent",
    "run_in_thread",
    "serve_app",
    "write_kubeconfig",
]

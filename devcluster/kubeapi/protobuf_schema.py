"""The protobuf schema of the built-in kinds the emulator decodes: for each message, its fields'
numbers and what Go's encoding/json does with them, so a protobuf body becomes the JSON object
kubectl would have sent as JSON (see `protobuf.py`).

Taken from the struct tags in k8s.io/api and k8s.io/apimachinery v0.32.9 ``types.go``
(Kubernetes 1.32, the version the emulator reports): the ``protobuf:"..."`` number, the
``json:"..."`` name and ``omitempty``, and whether the Go field is a pointer or a slice; then
checked field by field against the same packages' ``generated.proto`` (numbers, names,
scalar/message types, repeated). Field numbers never change once released and later releases
only add fields, so kubectl 1.32 and older send a subset of this; a field only a newer
kubectl knows is a 415 naming it.

Grammar: a line that does not start with a space begins a message, ``<package>.<Type>``; the
fields follow, on that line and the indented lines after it, as ``<json>=<number>[:<kind>]
[flags]``, in the Go struct's order (the order encoding/json writes). The kind is a string when
absent; otherwise ``int`` (int32/int64), ``bool``, ``bytes`` (base64 in JSON), ``map``
(string to string), ``map-bytes``, ``map-quantity``, ``map-time``, ``time`` (metav1.Time),
``microtime``, ``intstr`` (IntOrString), ``quantity``, ``fields`` (FieldsV1: embedded JSON), or
a message name. Flags: ``+`` repeated (a Go slice), ``*`` a Go pointer (emitted whenever it is
set, even to a zero value), ``!`` no ``omitempty`` (emitted even when empty, ``null`` when
nil). A field with no JSON name (``=2:core.VolumeSource``) is embedded
``json:",inline"``: its fields are written into the parent's object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

API_VERSIONS = {
    "core": "v1",
    "meta": "meta.k8s.io/v1",
    "rbac": "rbac.authorization.k8s.io/v1",
    "coordination": "coordination.k8s.io/v1",
    "events": "events.k8s.io/v1",
    "apps": "apps/v1",
    "batch": "batch/v1",
    "policy": "policy/v1",
    "networking": "networking.k8s.io/v1",
    "admissionregistration": "admissionregistration.k8s.io/v1",
    "authorization": "authorization.k8s.io/v1",
}

# the top-level kinds: what a runtime.Unknown envelope may carry
KINDS = (
    "core.Namespace", "core.Secret", "core.ConfigMap", "core.ServiceAccount", "core.Service",
    "core.Event", "events.Event", "coordination.Lease", "rbac.Role", "rbac.RoleBinding",
    "rbac.ClusterRole", "rbac.ClusterRoleBinding",
    "admissionregistration.MutatingWebhookConfiguration",
    "admissionregistration.ValidatingWebhookConfiguration",
    "authorization.SelfSubjectAccessReview", "apps.Deployment", "batch.Job",
    "policy.PodDisruptionBudget", "networking.NetworkPolicy",
)  # fmt: skip

SCALARS = frozenset({"string", "int", "bool", "bytes", "time", "microtime", "intstr",
                     "quantity", "fields"})  # fmt: skip
MAPS = frozenset({"map", "map-bytes", "map-quantity", "map-time"})
_TOKEN = re.compile(r"(\w*)=(\d+)(?::([\w.-]+))?([+*!]*)")


@dataclass(frozen=True, slots=True)
class Field:
    number: int
    name: str  # the JSON name; "" for an inline (embedded) message
    kind: str  # one of SCALARS or MAPS, or a message name
    repeated: bool = False
    pointer: bool = False
    omitempty: bool = True

    @property
    def message(self) -> bool:
        return self.kind not in SCALARS and self.kind not in MAPS


def _field(token: str) -> Field:
    """``<json>=<number>[:<kind>][flags]`` -> Field."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise ValueError(f"bad schema token {token!r}")
    name, number, kind, flags = match.groups()
    return Field(int(number), name, kind or "string", "+" in flags, "*" in flags, "!" not in flags)


def _parse(text: str) -> dict[str, tuple[Field, ...]]:
    messages: dict[str, list[Field]] = {}
    current: list[Field] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        tokens = line.split()
        if not line[0].isspace():
            current = messages.setdefault(tokens.pop(0), [])
        current.extend(_field(t) for t in tokens)
    return {name: tuple(fields) for name, fields in messages.items()}


SCHEMA = """
core.Namespace metadata=1:meta.ObjectMeta spec=2:core.NamespaceSpec
    status=3:core.NamespaceStatus
core.Secret metadata=1:meta.ObjectMeta immutable=5:bool* data=2:map-bytes stringData=4:map
    type=3
core.ConfigMap metadata=1:meta.ObjectMeta immutable=4:bool* data=2:map binaryData=3:map-bytes
core.ServiceAccount metadata=1:meta.ObjectMeta secrets=2:core.ObjectReference+
    imagePullSecrets=3:core.LocalObjectReference+ automountServiceAccountToken=4:bool*
core.Service metadata=1:meta.ObjectMeta spec=2:core.ServiceSpec status=3:core.ServiceStatus
core.Event metadata=1:meta.ObjectMeta! involvedObject=2:core.ObjectReference! reason=3 message=4
    source=5:core.EventSource firstTimestamp=6:time lastTimestamp=7:time count=8:int type=9
    eventTime=10:microtime series=11:core.EventSeries* action=12
    related=13:core.ObjectReference* reportingComponent=14! reportingInstance=15!
events.Event metadata=1:meta.ObjectMeta! eventTime=2:microtime! series=3:events.EventSeries*
    reportingController=4 reportingInstance=5 action=6 reason=7
    regarding=8:core.ObjectReference related=9:core.ObjectReference* note=10 type=11
    deprecatedSource=12:core.EventSource deprecatedFirstTimestamp=13:time
    deprecatedLastTimestamp=14:time deprecatedCount=15:int
coordination.Lease metadata=1:meta.ObjectMeta spec=2:coordination.LeaseSpec
rbac.Role metadata=1:meta.ObjectMeta rules=2:rbac.PolicyRule+!
rbac.RoleBinding metadata=1:meta.ObjectMeta subjects=2:rbac.Subject+ roleRef=3:rbac.RoleRef!
rbac.ClusterRole metadata=1:meta.ObjectMeta rules=2:rbac.PolicyRule+!
    aggregationRule=3:rbac.AggregationRule*
rbac.ClusterRoleBinding metadata=1:meta.ObjectMeta subjects=2:rbac.Subject+
    roleRef=3:rbac.RoleRef!
admissionregistration.MutatingWebhookConfiguration metadata=1:meta.ObjectMeta
    webhooks=2:admissionregistration.MutatingWebhook+
admissionregistration.ValidatingWebhookConfiguration metadata=1:meta.ObjectMeta
    webhooks=2:admissionregistration.ValidatingWebhook+
authorization.SelfSubjectAccessReview metadata=1:meta.ObjectMeta
    spec=2:authorization.SelfSubjectAccessReviewSpec!
    status=3:authorization.SubjectAccessReviewStatus
apps.Deployment metadata=1:meta.ObjectMeta spec=2:apps.DeploymentSpec
    status=3:apps.DeploymentStatus
batch.Job metadata=1:meta.ObjectMeta spec=2:batch.JobSpec status=3:batch.JobStatus
policy.PodDisruptionBudget metadata=1:meta.ObjectMeta spec=2:policy.PodDisruptionBudgetSpec
    status=3:policy.PodDisruptionBudgetStatus
networking.NetworkPolicy metadata=1:meta.ObjectMeta spec=2:networking.NetworkPolicySpec
meta.ObjectMeta name=1 generateName=2 namespace=3 selfLink=4 uid=5 resourceVersion=6
    generation=7:int creationTimestamp=8:time deletionTimestamp=9:time*
    deletionGracePeriodSeconds=10:int* labels=11:map annotations=12:map
    ownerReferences=13:meta.OwnerReference+ finalizers=14+
    managedFields=17:meta.ManagedFieldsEntry+
core.NamespaceSpec finalizers=1+
core.NamespaceStatus phase=1 conditions=2:core.NamespaceCondition+
core.ObjectReference kind=1 namespace=2 name=3 uid=4 apiVersion=5 resourceVersion=6 fieldPath=7
core.LocalObjectReference name=1
core.ServiceSpec ports=1:core.ServicePort+ selector=2:map clusterIP=3 clusterIPs=18+ type=4
    externalIPs=5+ sessionAffinity=7 loadBalancerIP=8 loadBalancerSourceRanges=9+
    externalName=10 externalTrafficPolicy=11 healthCheckNodePort=12:int
    publishNotReadyAddresses=13:bool sessionAffinityConfig=14:core.SessionAffinityConfig*
    ipFamilies=19+ ipFamilyPolicy=17* allocateLoadBalancerNodePorts=20:bool*
    loadBalancerClass=21* internalTrafficPolicy=22* trafficDistribution=23*
core.ServiceStatus loadBalancer=1:core.LoadBalancerStatus conditions=2:meta.Condition+
core.EventSource component=1 host=2
core.EventSeries count=1:int lastObservedTime=2:microtime
events.EventSeries count=1:int! lastObservedTime=2:microtime!
coordination.LeaseSpec holderIdentity=1* leaseDurationSeconds=2:int* acquireTime=3:microtime*
    renewTime=4:microtime* leaseTransitions=5:int* strategy=6* preferredHolder=7*
rbac.PolicyRule verbs=1+! apiGroups=2+ resources=3+ resourceNames=4+ nonResourceURLs=5+
rbac.Subject kind=1! apiGroup=2 name=3! namespace=4
rbac.RoleRef apiGroup=1! kind=2! name=3!
rbac.AggregationRule clusterRoleSelectors=1:meta.LabelSelector+
admissionregistration.MutatingWebhook
    name=1! clientConfig=2:admissionregistration.WebhookClientConfig!
    rules=3:admissionregistration.RuleWithOperations+ failurePolicy=4* matchPolicy=9*
    namespaceSelector=5:meta.LabelSelector* objectSelector=11:meta.LabelSelector*
    sideEffects=6*! timeoutSeconds=7:int* admissionReviewVersions=8+! reinvocationPolicy=10*
    matchConditions=12:admissionregistration.MatchCondition+
admissionregistration.ValidatingWebhook
    name=1! clientConfig=2:admissionregistration.WebhookClientConfig!
    rules=3:admissionregistration.RuleWithOperations+ failurePolicy=4* matchPolicy=9*
    namespaceSelector=5:meta.LabelSelector* objectSelector=10:meta.LabelSelector*
    sideEffects=6*! timeoutSeconds=7:int* admissionReviewVersions=8+!
    matchConditions=11:admissionregistration.MatchCondition+
authorization.SelfSubjectAccessReviewSpec resourceAttributes=1:authorization.ResourceAttributes*
    nonResourceAttributes=2:authorization.NonResourceAttributes*
authorization.SubjectAccessReviewStatus allowed=1:bool! denied=4:bool reason=2 evaluationError=3
apps.DeploymentSpec replicas=1:int* selector=2:meta.LabelSelector*!
    template=3:core.PodTemplateSpec! strategy=4:apps.DeploymentStrategy minReadySeconds=5:int
    revisionHistoryLimit=6:int* paused=7:bool progressDeadlineSeconds=9:int*
apps.DeploymentStatus observedGeneration=1:int replicas=2:int updatedReplicas=3:int
    readyReplicas=7:int availableReplicas=4:int unavailableReplicas=5:int
    conditions=6:apps.DeploymentCondition+ collisionCount=8:int*
batch.JobSpec parallelism=1:int* completions=2:int* activeDeadlineSeconds=3:int*
    podFailurePolicy=11:batch.PodFailurePolicy* successPolicy=16:batch.SuccessPolicy*
    backoffLimit=7:int* backoffLimitPerIndex=12:int* maxFailedIndexes=13:int*
    selector=4:meta.LabelSelector* manualSelector=5:bool* template=6:core.PodTemplateSpec!
    ttlSecondsAfterFinished=8:int* completionMode=9* suspend=10:bool* podReplacementPolicy=14*
    managedBy=15*
batch.JobStatus conditions=1:batch.JobCondition+ startTime=2:time* completionTime=3:time*
    active=4:int succeeded=5:int failed=6:int terminating=11:int* completedIndexes=7
    failedIndexes=10* uncountedTerminatedPods=8:batch.UncountedTerminatedPods* ready=9:int*
policy.PodDisruptionBudgetSpec minAvailable=1:intstr* selector=2:meta.LabelSelector*
    maxUnavailable=3:intstr* unhealthyPodEvictionPolicy=4*
policy.PodDisruptionBudgetStatus observedGeneration=1:int disruptedPods=2:map-time
    disruptionsAllowed=3:int! currentHealthy=4:int! desiredHealthy=5:int! expectedPods=6:int!
    conditions=7:meta.Condition+
networking.NetworkPolicySpec podSelector=1:meta.LabelSelector!
    ingress=2:networking.NetworkPolicyIngressRule+ egress=3:networking.NetworkPolicyEgressRule+
    policyTypes=4+
meta.OwnerReference apiVersion=5! kind=1! name=3! uid=4! controller=6:bool*
    blockOwnerDeletion=7:bool*
meta.ManagedFieldsEntry manager=1 operation=2 apiVersion=3 time=4:time* fieldsType=6
    fieldsV1=7:fields* subresource=8
core.NamespaceCondition type=1! status=2! lastTransitionTime=4:time reason=5 message=6
core.ServicePort name=1 protocol=2 appProtocol=6* port=3:int! targetPort=4:intstr nodePort=5:int
core.SessionAffinityConfig clientIP=1:core.ClientIPConfig*
core.LoadBalancerStatus ingress=1:core.LoadBalancerIngress+
meta.Condition type=1! status=2! observedGeneration=3:int lastTransitionTime=4:time! reason=5!
    message=6!
meta.LabelSelector matchLabels=1:map matchExpressions=2:meta.LabelSelectorRequirement+
admissionregistration.WebhookClientConfig
    url=3* service=1:admissionregistration.ServiceReference* caBundle=2:bytes
admissionregistration.RuleWithOperations operations=1+ =2:admissionregistration.Rule
admissionregistration.MatchCondition name=1! expression=2!
authorization.ResourceAttributes namespace=1 verb=2 group=3 version=4 resource=5 subresource=6
    name=7 fieldSelector=8:authorization.FieldSelectorAttributes*
    labelSelector=9:authorization.LabelSelectorAttributes*
authorization.NonResourceAttributes path=1 verb=2
core.PodTemplateSpec metadata=1:meta.ObjectMeta spec=2:core.PodSpec
apps.DeploymentStrategy type=1 rollingUpdate=2:apps.RollingUpdateDeployment*
apps.DeploymentCondition type=1! status=2! lastUpdateTime=6:time lastTransitionTime=7:time
    reason=4 message=5
batch.PodFailurePolicy rules=1:batch.PodFailurePolicyRule+!
batch.SuccessPolicy rules=1:batch.SuccessPolicyRule+!
batch.JobCondition type=1! status=2! lastProbeTime=3:time lastTransitionTime=4:time reason=5
    message=6
batch.UncountedTerminatedPods succeeded=1+ failed=2+
networking.NetworkPolicyIngressRule ports=1:networking.NetworkPolicyPort+
    from=2:networking.NetworkPolicyPeer+
networking.NetworkPolicyEgressRule ports=1:networking.NetworkPolicyPort+
    to=2:networking.NetworkPolicyPeer+
core.ClientIPConfig timeoutSeconds=1:int*
core.LoadBalancerIngress ip=1 hostname=2 ipMode=3* ports=4:core.PortStatus+
meta.LabelSelectorRequirement key=1! operator=2! values=3+
admissionregistration.ServiceReference namespace=1! name=2! path=3* port=4:int*
admissionregistration.Rule apiGroups=1+ apiVersions=2+ resources=3+ scope=4*
authorization.FieldSelectorAttributes
    rawSelector=1 requirements=2:meta.FieldSelectorRequirement+
authorization.LabelSelectorAttributes
    rawSelector=1 requirements=2:meta.LabelSelectorRequirement+
core.PodSpec volumes=1:core.Volume+ initContainers=20:core.Container+
    containers=2:core.Container+! ephemeralContainers=34:core.EphemeralContainer+
    restartPolicy=3 terminationGracePeriodSeconds=4:int* activeDeadlineSeconds=5:int*
    dnsPolicy=6 nodeSelector=7:map serviceAccountName=8 serviceAccount=9
    automountServiceAccountToken=21:bool* nodeName=10 hostNetwork=11:bool hostPID=12:bool
    hostIPC=13:bool shareProcessNamespace=27:bool* securityContext=14:core.PodSecurityContext*
    imagePullSecrets=15:core.LocalObjectReference+ hostname=16 subdomain=17
    affinity=18:core.Affinity* schedulerName=19 tolerations=22:core.Toleration+
    hostAliases=23:core.HostAlias+ priorityClassName=24 priority=25:int*
    dnsConfig=26:core.PodDNSConfig* readinessGates=28:core.PodReadinessGate+
    runtimeClassName=29* enableServiceLinks=30:bool* preemptionPolicy=31*
    overhead=32:map-quantity topologySpreadConstraints=33:core.TopologySpreadConstraint+
    setHostnameAsFQDN=35:bool* os=36:core.PodOS* hostUsers=37:bool*
    schedulingGates=38:core.PodSchedulingGate+ resourceClaims=39:core.PodResourceClaim+
    resources=40:core.ResourceRequirements*
apps.RollingUpdateDeployment maxUnavailable=1:intstr* maxSurge=2:intstr*
batch.PodFailurePolicyRule action=1! onExitCodes=2:batch.PodFailurePolicyOnExitCodesRequirement*
    onPodConditions=3:batch.PodFailurePolicyOnPodConditionsPattern+
batch.SuccessPolicyRule succeededIndexes=1* succeededCount=2:int*
networking.NetworkPolicyPort protocol=1* port=2:intstr* endPort=3:int*
networking.NetworkPolicyPeer podSelector=1:meta.LabelSelector*
    namespaceSelector=2:meta.LabelSelector* ipBlock=3:networking.IPBlock*
core.PortStatus port=1:int! protocol=2! error=3*
meta.FieldSelectorRequirement key=1! operator=2! values=3+
core.Volume name=1! =2:core.VolumeSource
core.Container name=1! image=2 command=3+ args=4+ workingDir=5 ports=6:core.ContainerPort+
    envFrom=19:core.EnvFromSource+ env=7:core.EnvVar+ resources=8:core.ResourceRequirements
    resizePolicy=23:core.ContainerResizePolicy+ restartPolicy=24*
    volumeMounts=9:core.VolumeMount+ volumeDevices=21:core.VolumeDevice+
    livenessProbe=10:core.Probe* readinessProbe=11:core.Probe* startupProbe=22:core.Probe*
    lifecycle=12:core.Lifecycle* terminationMessagePath=13 terminationMessagePolicy=20
    imagePullPolicy=14 securityContext=15:core.SecurityContext* stdin=16:bool stdinOnce=17:bool
    tty=18:bool
core.EphemeralContainer =1:core.EphemeralContainerCommon targetContainerName=2
core.PodSecurityContext seLinuxOptions=1:core.SELinuxOptions*
    windowsOptions=8:core.WindowsSecurityContextOptions* runAsUser=2:int* runAsGroup=6:int*
    runAsNonRoot=3:bool* supplementalGroups=4:int+ supplementalGroupsPolicy=12* fsGroup=5:int*
    sysctls=7:core.Sysctl+ fsGroupChangePolicy=9* seccompProfile=10:core.SeccompProfile*
    appArmorProfile=11:core.AppArmorProfile* seLinuxChangePolicy=13*
core.Affinity nodeAffinity=1:core.NodeAffinity* podAffinity=2:core.PodAffinity*
    podAntiAffinity=3:core.PodAntiAffinity*
core.Toleration key=1 operator=2 value=3 effect=4 tolerationSeconds=5:int*
core.HostAlias ip=1! hostnames=2+
core.PodDNSConfig nameservers=1+ searches=2+ options=3:core.PodDNSConfigOption+
core.PodReadinessGate conditionType=1!
core.TopologySpreadConstraint maxSkew=1:int! topologyKey=2! whenUnsatisfiable=3!
    labelSelector=4:meta.LabelSelector* minDomains=5:int* nodeAffinityPolicy=6*
    nodeTaintsPolicy=7* matchLabelKeys=8+
core.PodOS name=1!
core.PodSchedulingGate name=1!
core.PodResourceClaim name=1! resourceClaimName=3* resourceClaimTemplateName=4*
core.ResourceRequirements limits=1:map-quantity requests=2:map-quantity
    claims=3:core.ResourceClaim+
batch.PodFailurePolicyOnExitCodesRequirement containerName=1* operator=2! values=3:int+!
batch.PodFailurePolicyOnPodConditionsPattern type=1! status=2!
networking.IPBlock cidr=1! except=2+
core.VolumeSource hostPath=1:core.HostPathVolumeSource* emptyDir=2:core.EmptyDirVolumeSource*
    gcePersistentDisk=3:core.GCEPersistentDiskVolumeSource*
    awsElasticBlockStore=4:core.AWSElasticBlockStoreVolumeSource*
    gitRepo=5:core.GitRepoVolumeSource* secret=6:core.SecretVolumeSource*
    nfs=7:core.NFSVolumeSource* iscsi=8:core.ISCSIVolumeSource*
    glusterfs=9:core.GlusterfsVolumeSource*
    persistentVolumeClaim=10:core.PersistentVolumeClaimVolumeSource*
    rbd=11:core.RBDVolumeSource* flexVolume=12:core.FlexVolumeSource*
    cinder=13:core.CinderVolumeSource* cephfs=14:core.CephFSVolumeSource*
    flocker=15:core.FlockerVolumeSource* downwardAPI=16:core.DownwardAPIVolumeSource*
    fc=17:core.FCVolumeSource* azureFile=18:core.AzureFileVolumeSource*
    configMap=19:core.ConfigMapVolumeSource*
    vsphereVolume=20:core.VsphereVirtualDiskVolumeSource* quobyte=21:core.QuobyteVolumeSource*
    azureDisk=22:core.AzureDiskVolumeSource*
    photonPersistentDisk=23:core.PhotonPersistentDiskVolumeSource*
    projected=26:core.ProjectedVolumeSource* portworxVolume=24:core.PortworxVolumeSource*
    scaleIO=25:core.ScaleIOVolumeSource* storageos=27:core.StorageOSVolumeSource*
    csi=28:core.CSIVolumeSource* ephemeral=29:core.EphemeralVolumeSource*
    image=30:core.ImageVolumeSource*
core.ContainerPort name=1 hostPort=2:int containerPort=3:int! protocol=4 hostIP=5
core.EnvFromSource prefix=1 configMapRef=2:core.ConfigMapEnvSource*
    secretRef=3:core.SecretEnvSource*
core.EnvVar name=1! value=2 valueFrom=3:core.EnvVarSource*
core.ContainerResizePolicy resourceName=1! restartPolicy=2!
core.VolumeMount name=1! readOnly=2:bool recursiveReadOnly=7* mountPath=3! subPath=4
    mountPropagation=5* subPathExpr=6
core.VolumeDevice name=1! devicePath=2!
core.Probe =1:core.ProbeHandler initialDelaySeconds=2:int timeoutSeconds=3:int
    periodSeconds=4:int successThreshold=5:int failureThreshold=6:int
    terminationGracePeriodSeconds=7:int*
core.Lifecycle postStart=1:core.LifecycleHandler* preStop=2:core.LifecycleHandler*
core.SecurityContext capabilities=1:core.Capabilities* privileged=2:bool*
    seLinuxOptions=3:core.SELinuxOptions* windowsOptions=10:core.WindowsSecurityContextOptions*
    runAsUser=4:int* runAsGroup=8:int* runAsNonRoot=5:bool* readOnlyRootFilesystem=6:bool*
    allowPrivilegeEscalation=7:bool* procMount=9* seccompProfile=11:core.SeccompProfile*
    appArmorProfile=12:core.AppArmorProfile*
core.EphemeralContainerCommon name=1! image=2 command=3+ args=4+ workingDir=5
    ports=6:core.ContainerPort+ envFrom=19:core.EnvFromSource+ env=7:core.EnvVar+
    resources=8:core.ResourceRequirements resizePolicy=23:core.ContainerResizePolicy+
    restartPolicy=24* volumeMounts=9:core.VolumeMount+ volumeDevices=21:core.VolumeDevice+
    livenessProbe=10:core.Probe* readinessProbe=11:core.Probe* startupProbe=22:core.Probe*
    lifecycle=12:core.Lifecycle* terminationMessagePath=13 terminationMessagePolicy=20
    imagePullPolicy=14 securityContext=15:core.SecurityContext* stdin=16:bool stdinOnce=17:bool
    tty=18:bool
core.SELinuxOptions user=1 role=2 type=3 level=4
core.WindowsSecurityContextOptions gmsaCredentialSpecName=1* gmsaCredentialSpec=2*
    runAsUserName=3* hostProcess=4:bool*
core.Sysctl name=1! value=2!
core.SeccompProfile type=1! localhostProfile=2*
core.AppArmorProfile type=1! localhostProfile=2*
core.NodeAffinity requiredDuringSchedulingIgnoredDuringExecution=1:core.NodeSelector*
    preferredDuringSchedulingIgnoredDuringExecution=2:core.PreferredSchedulingTerm+
core.PodAffinity requiredDuringSchedulingIgnoredDuringExecution=1:core.PodAffinityTerm+
    preferredDuringSchedulingIgnoredDuringExecution=2:core.WeightedPodAffinityTerm+
core.PodAntiAffinity requiredDuringSchedulingIgnoredDuringExecution=1:core.PodAffinityTerm+
    preferredDuringSchedulingIgnoredDuringExecution=2:core.WeightedPodAffinityTerm+
core.PodDNSConfigOption name=1 value=2*
core.ResourceClaim name=1! request=2
core.HostPathVolumeSource path=1! type=2*
core.EmptyDirVolumeSource medium=1 sizeLimit=2:quantity*
core.GCEPersistentDiskVolumeSource pdName=1! fsType=2 partition=3:int readOnly=4:bool
core.AWSElasticBlockStoreVolumeSource volumeID=1! fsType=2 partition=3:int readOnly=4:bool
core.GitRepoVolumeSource repository=1! revision=2 directory=3
core.SecretVolumeSource secretName=1 items=2:core.KeyToPath+ defaultMode=3:int* optional=4:bool*
core.NFSVolumeSource server=1! path=2! readOnly=3:bool
core.ISCSIVolumeSource targetPortal=1! iqn=2! lun=3:int! iscsiInterface=4 fsType=5
    readOnly=6:bool portals=7+ chapAuthDiscovery=8:bool chapAuthSession=11:bool
    secretRef=10:core.LocalObjectReference* initiatorName=12*
core.GlusterfsVolumeSource endpoints=1! path=2! readOnly=3:bool
core.PersistentVolumeClaimVolumeSource claimName=1! readOnly=2:bool
core.RBDVolumeSource monitors=1+! image=2! fsType=3 pool=4 user=5 keyring=6
    secretRef=7:core.LocalObjectReference* readOnly=8:bool
core.FlexVolumeSource driver=1! fsType=2 secretRef=3:core.LocalObjectReference* readOnly=4:bool
    options=5:map
core.CinderVolumeSource volumeID=1! fsType=2 readOnly=3:bool
    secretRef=4:core.LocalObjectReference*
core.CephFSVolumeSource monitors=1+! path=2 user=3 secretFile=4
    secretRef=5:core.LocalObjectReference* readOnly=6:bool
core.FlockerVolumeSource datasetName=1 datasetUUID=2
core.DownwardAPIVolumeSource items=1:core.DownwardAPIVolumeFile+ defaultMode=2:int*
core.FCVolumeSource targetWWNs=1+ lun=2:int* fsType=3 readOnly=4:bool wwids=5+
core.AzureFileVolumeSource secretName=1! shareName=2! readOnly=3:bool
core.ConfigMapVolumeSource =1:core.LocalObjectReference items=2:core.KeyToPath+
    defaultMode=3:int* optional=4:bool*
core.VsphereVirtualDiskVolumeSource volumePath=1! fsType=2 storagePolicyName=3 storagePolicyID=4
core.QuobyteVolumeSource registry=1! volume=2! readOnly=3:bool user=4 group=5 tenant=6
core.AzureDiskVolumeSource diskName=1! diskURI=2! cachingMode=3* fsType=4* readOnly=5:bool*
    kind=6*
core.PhotonPersistentDiskVolumeSource pdID=1! fsType=2
core.ProjectedVolumeSource sources=1:core.VolumeProjection+! defaultMode=2:int*
core.PortworxVolumeSource volumeID=1! fsType=2 readOnly=3:bool
core.ScaleIOVolumeSource gateway=1! system=2! secretRef=3:core.LocalObjectReference*!
    sslEnabled=4:bool protectionDomain=5 storagePool=6 storageMode=7 volumeName=8 fsType=9
    readOnly=10:bool
core.StorageOSVolumeSource volumeName=1 volumeNamespace=2 fsType=3 readOnly=4:bool
    secretRef=5:core.LocalObjectReference*
core.CSIVolumeSource driver=1! readOnly=2:bool* fsType=3* volumeAttributes=4:map
    nodePublishSecretRef=5:core.LocalObjectReference*
core.EphemeralVolumeSource volumeClaimTemplate=1:core.PersistentVolumeClaimTemplate*
core.ImageVolumeSource reference=1 pullPolicy=2
core.ConfigMapEnvSource =1:core.LocalObjectReference optional=2:bool*
core.SecretEnvSource =1:core.LocalObjectReference optional=2:bool*
core.EnvVarSource fieldRef=1:core.ObjectFieldSelector*
    resourceFieldRef=2:core.ResourceFieldSelector* configMapKeyRef=3:core.ConfigMapKeySelector*
    secretKeyRef=4:core.SecretKeySelector*
core.ProbeHandler exec=1:core.ExecAction* httpGet=2:core.HTTPGetAction*
    tcpSocket=3:core.TCPSocketAction* grpc=4:core.GRPCAction*
core.LifecycleHandler exec=1:core.ExecAction* httpGet=2:core.HTTPGetAction*
    tcpSocket=3:core.TCPSocketAction* sleep=4:core.SleepAction*
core.Capabilities add=1+ drop=2+
core.NodeSelector nodeSelectorTerms=1:core.NodeSelectorTerm+!
core.PreferredSchedulingTerm weight=1:int! preference=2:core.NodeSelectorTerm!
core.PodAffinityTerm labelSelector=1:meta.LabelSelector* namespaces=2+ topologyKey=3!
    namespaceSelector=4:meta.LabelSelector* matchLabelKeys=5+ mismatchLabelKeys=6+
core.WeightedPodAffinityTerm weight=1:int! podAffinityTerm=2:core.PodAffinityTerm!
core.KeyToPath key=1! path=2! mode=3:int*
core.DownwardAPIVolumeFile path=1! fieldRef=2:core.ObjectFieldSelector*
    resourceFieldRef=3:core.ResourceFieldSelector* mode=4:int*
core.VolumeProjection secret=1:core.SecretProjection* downwardAPI=2:core.DownwardAPIProjection*
    configMap=3:core.ConfigMapProjection*
    serviceAccountToken=4:core.ServiceAccountTokenProjection*
    clusterTrustBundle=5:core.ClusterTrustBundleProjection*
core.PersistentVolumeClaimTemplate metadata=1:meta.ObjectMeta
    spec=2:core.PersistentVolumeClaimSpec!
core.ObjectFieldSelector apiVersion=1 fieldPath=2!
core.ResourceFieldSelector containerName=1 resource=2! divisor=3:quantity
core.ConfigMapKeySelector =1:core.LocalObjectReference key=2! optional=3:bool*
core.SecretKeySelector =1:core.LocalObjectReference key=2! optional=3:bool*
core.ExecAction command=1+
core.HTTPGetAction path=1 port=2:intstr! host=3 scheme=4 httpHeaders=5:core.HTTPHeader+
core.TCPSocketAction port=1:intstr! host=2
core.GRPCAction port=1:int! service=2*!
core.SleepAction seconds=1:int!
core.NodeSelectorTerm matchExpressions=1:core.NodeSelectorRequirement+
    matchFields=2:core.NodeSelectorRequirement+
core.SecretProjection =1:core.LocalObjectReference items=2:core.KeyToPath+ optional=4:bool*
core.DownwardAPIProjection items=1:core.DownwardAPIVolumeFile+
core.ConfigMapProjection =1:core.LocalObjectReference items=2:core.KeyToPath+ optional=4:bool*
core.ServiceAccountTokenProjection audience=1 expirationSeconds=2:int* path=3!
core.ClusterTrustBundleProjection name=1* signerName=2* labelSelector=3:meta.LabelSelector*
    optional=5:bool* path=4!
core.PersistentVolumeClaimSpec accessModes=1+ selector=4:meta.LabelSelector*
    resources=2:core.VolumeResourceRequirements volumeName=3 storageClassName=5* volumeMode=6*
    dataSource=7:core.TypedLocalObjectReference* dataSourceRef=8:core.TypedObjectReference*
    volumeAttributesClassName=9*
core.HTTPHeader name=1! value=2!
core.NodeSelectorRequirement key=1! operator=2! values=3+
core.VolumeResourceRequirements limits=1:map-quantity requests=2:map-quantity
core.TypedLocalObjectReference apiGroup=1*! kind=2! name=3!
core.TypedObjectReference apiGroup=1*! kind=2! name=3! namespace=4*
"""

MESSAGES = _parse(SCHEMA)

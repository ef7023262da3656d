"""Protobuf field table: core/v1 Pod: PodSpec, PodStatus and scheduling types (k8s.io/api/core/v1/generated.proto).

Containers are in ``container``, volumes in ``volume``.

Notation: see :mod:`kubegate.api.protobuf_schema`.
"""

MESSAGES = """
message core.v1.Pod
    1  metadata  meta.v1.ObjectMeta
    2  spec      core.v1.PodSpec
    3  status    core.v1.PodStatus

message core.v1.PodSpec
    1  volumes                        []core.v1.Volume
   20  initContainers                 []core.v1.Container
    2  containers                     []core.v1.Container                 always
   34  ephemeralContainers            []core.v1.EphemeralContainer
    3  restartPolicy                  string
    4  terminationGracePeriodSeconds  int64                               ptr
    5  activeDeadlineSeconds          int64                               ptr
    6  dnsPolicy                      string
    7  nodeSelector                   map[string]
    8  serviceAccountName             string
    9  serviceAccount                 string
   21  automountServiceAccountToken   bool                                ptr
   10  nodeName                       string
   11  hostNetwork                    bool
   12  hostPID                        bool
   13  hostIPC                        bool
   27  shareProcessNamespace          bool                                ptr
   14  securityContext                core.v1.PodSecurityContext          ptr
   15  imagePullSecrets               []core.v1.LocalObjectReference
   16  hostname                       string
   17  subdomain                      string
   18  affinity                       core.v1.Affinity                    ptr
   19  schedulerName                  string
   22  tolerations                    []core.v1.Toleration
   23  hostAliases                    []core.v1.HostAlias
   24  priorityClassName              string
   25  priority                       int32                               ptr
   26  dnsConfig                      core.v1.PodDNSConfig                ptr
   28  readinessGates                 []core.v1.PodReadinessGate
   29  runtimeClassName               string                              ptr
   30  enableServiceLinks             bool                                ptr
   31  preemptionPolicy               string                              ptr
   32  overhead                       map[quantity]
   33  topologySpreadConstraints      []core.v1.TopologySpreadConstraint
   35  setHostnameAsFQDN              bool                                ptr
   36  os                             core.v1.PodOS                       ptr
   37  hostUsers                      bool                                ptr
   38  schedulingGates                []core.v1.PodSchedulingGate
   39  resourceClaims                 []core.v1.PodResourceClaim
   40  resources                      core.v1.ResourceRequirements        ptr
   41  hostnameOverride               string                              ptr
   43  schedulingGroup                core.v1.PodSchedulingGroup          ptr
   44  evictionResponders             []core.v1.EvictionResponder

message core.v1.PodStatus
   17  observedGeneration                    int64
    1  phase                                 string
    2  conditions                            []core.v1.PodCondition
    3  message                               string
    4  reason                                string
   11  nominatedNodeName                     string
    5  hostIP                                string
   16  hostIPs                               []core.v1.HostIP
    6  podIP                                 string
   12  podIPs                                []core.v1.PodIP
    7  startTime                             time                                          ptr
   10  initContainerStatuses                 []core.v1.ContainerStatus
    8  containerStatuses                     []core.v1.ContainerStatus
    9  qosClass                              string
   13  ephemeralContainerStatuses            []core.v1.ContainerStatus
   14  resize                                string
   15  resourceClaimStatuses                 []core.v1.PodResourceClaimStatus
   18  extendedResourceClaimStatus           core.v1.PodExtendedResourceClaimStatus        ptr
   19  allocatedResources                    map[quantity]
   20  resources                             core.v1.ResourceRequirements                  ptr
   21  nodeAllocatableResourceClaimStatuses  []core.v1.NodeAllocatableResourceClaimStatus
   22  volumeHealth                          []core.v1.PodVolumeHealth

message core.v1.PodSecurityContext
    1  seLinuxOptions            core.v1.SELinuxOptions                 ptr
    8  windowsOptions            core.v1.WindowsSecurityContextOptions  ptr
    2  runAsUser                 int64                                  ptr
    6  runAsGroup                int64                                  ptr
    3  runAsNonRoot              bool                                   ptr
    4  supplementalGroups        []int64
   12  supplementalGroupsPolicy  string                                 ptr
    5  fsGroup                   int64                                  ptr
    7  sysctls                   []core.v1.Sysctl
    9  fsGroupChangePolicy       string                                 ptr
   10  seccompProfile            core.v1.SeccompProfile                 ptr
   11  appArmorProfile           core.v1.AppArmorProfile                ptr
   13  seLinuxChangePolicy       string                                 ptr

message core.v1.Affinity
    1  nodeAffinity     core.v1.NodeAffinity     ptr
    2  podAffinity      core.v1.PodAffinity      ptr
    3  podAntiAffinity  core.v1.PodAntiAffinity  ptr

message core.v1.Toleration
    1  key                string
    2  operator           string
    3  value              string
    4  effect             string
    5  tolerationSeconds  int64   ptr

message core.v1.HostAlias
    1  ip         string    always
    2  hostnames  []string

message core.v1.PodDNSConfig
    1  nameservers  []string
    2  searches     []string
    3  options      []core.v1.PodDNSConfigOption

message core.v1.PodReadinessGate
    1  conditionType  string  always

message core.v1.TopologySpreadConstraint
    1  maxSkew             int32                  always
    2  topologyKey         string                 always
    3  whenUnsatisfiable   string                 always
    4  labelSelector       meta.v1.LabelSelector  ptr
    5  minDomains          int32                  ptr
    6  nodeAffinityPolicy  string                 ptr
    7  nodeTaintsPolicy    string                 ptr
    8  matchLabelKeys      []string

message core.v1.PodOS
    1  name  string  always

message core.v1.PodSchedulingGate
    1  name  string  always

message core.v1.PodResourceClaim
    1  name                       string  always
    3  resourceClaimName          string  ptr
    4  resourceClaimTemplateName  string  ptr

message core.v1.PodSchedulingGroup
    1  podGroupName  string  ptr

message core.v1.EvictionResponder
    1  name      string  always
    2  priority  int32   ptr

message core.v1.PodCondition
    1  type                string  always
    7  observedGeneration  int64
    2  status              string  always
    3  lastProbeTime       time
    4  lastTransitionTime  time
    5  reason              string
    6  message             string

message core.v1.HostIP
    1  ip  string  always

message core.v1.PodIP
    1  ip  string  always

message core.v1.ContainerStatus
    1  name                      string                        always
    2  state                     core.v1.ContainerState
    3  lastState                 core.v1.ContainerState
    4  ready                     bool                          always
    5  restartCount              int32                         always
    6  image                     string                        always
    7  imageID                   string                        always
    8  containerID               string
    9  started                   bool                          ptr
   10  allocatedResources        map[quantity]
   11  resources                 core.v1.ResourceRequirements  ptr
   12  volumeMounts              []core.v1.VolumeMountStatus
   13  user                      core.v1.ContainerUser         ptr
   14  allocatedResourcesStatus  []core.v1.ResourceStatus
   15  stopSignal                string                        ptr

message core.v1.PodResourceClaimStatus
    1  name               string  always
    2  resourceClaimName  string  ptr

message core.v1.PodExtendedResourceClaimStatus
    1  requestMappings    []core.v1.ContainerExtendedResourceRequest  always
    2  resourceClaimName  string                                      always

message core.v1.NodeAllocatableResourceClaimStatus
    1  resourceClaimName  string                                      always
    2  containers         []string
    4  mapping            []core.v1.NodeAllocatableMappedResources
    5  overhead           []core.v1.NodeAllocatableOverheadResources

message core.v1.PodVolumeHealth
    1  name                string                           always
    2  healthConditions    []core.v1.VolumeHealthCondition
    3  lastTransitionTime  time

message core.v1.Sysctl
    1  name   string  always
    2  value  string  always

message core.v1.NodeAffinity
    1  requiredDuringSchedulingIgnoredDuringExecution   core.v1.NodeSelector               ptr
    2  preferredDuringSchedulingIgnoredDuringExecution  []core.v1.PreferredSchedulingTerm

message core.v1.PodAffinity
    1  requiredDuringSchedulingIgnoredDuringExecution   []core.v1.PodAffinityTerm
    2  preferredDuringSchedulingIgnoredDuringExecution  []core.v1.WeightedPodAffinityTerm

message core.v1.PodAntiAffinity
    1  requiredDuringSchedulingIgnoredDuringExecution   []core.v1.PodAffinityTerm
    2  preferredDuringSchedulingIgnoredDuringExecution  []core.v1.WeightedPodAffinityTerm

message core.v1.PodDNSConfigOption
    1  name   string
    2  value  string  ptr

message core.v1.ContainerState
    1  waiting     core.v1.ContainerStateWaiting     ptr
    2  running     core.v1.ContainerStateRunning     ptr
    3  terminated  core.v1.ContainerStateTerminated  ptr

message core.v1.VolumeMountStatus
    1  name               string                always
    2  mountPath          string                always
    3  readOnly           bool
    4  recursiveReadOnly  string                ptr
    5  volumeStatus       core.v1.VolumeStatus  ptr

message core.v1.ContainerUser
    1  linux  core.v1.LinuxContainerUser  ptr

message core.v1.ResourceStatus
    1  name       string                    always
    2  resources  []core.v1.ResourceHealth

message core.v1.ContainerExtendedResourceRequest
    1  containerName  string  always
    2  resourceName   string  always
    3  requestName    string  always

message core.v1.NodeAllocatableMappedResources
    1  name      string    always
    2  quantity  quantity  ptr

message core.v1.NodeAllocatableOverheadResources
    1  name          string    always
    2  perPod        quantity  ptr
    3  perContainer  quantity  ptr

message core.v1.VolumeHealthCondition
    1  status   string  always
    2  reason   string  always
    3  message  string

message core.v1.NodeSelector
    1  nodeSelectorTerms  []core.v1.NodeSelectorTerm  always

message core.v1.PreferredSchedulingTerm
    1  weight      int32                     always
    2  preference  core.v1.NodeSelectorTerm  always

message core.v1.PodAffinityTerm
    1  labelSelector      meta.v1.LabelSelector  ptr
    2  namespaces         []string
    3  topologyKey        string                 always
    4  namespaceSelector  meta.v1.LabelSelector  ptr
    5  matchLabelKeys     []string
    6  mismatchLabelKeys  []string

message core.v1.WeightedPodAffinityTerm
    1  weight           int32                    always
    2  podAffinityTerm  core.v1.PodAffinityTerm  always

message core.v1.ContainerStateWaiting
    1  reason   string
    2  message  string

message core.v1.ContainerStateRunning
    1  startedAt  time

message core.v1.ContainerStateTerminated
    1  exitCode     int32   always
    2  signal       int32
    3  reason       string
    4  message      string
    5  startedAt    time
    6  finishedAt   time
    7  containerID  string

message core.v1.VolumeStatus
    1  image  core.v1.ImageVolumeStatus  ptr

message core.v1.LinuxContainerUser
    1  uid                 int64    always
    2  gid                 int64    always
    3  supplementalGroups  []int64

message core.v1.ResourceHealth
    1  resourceID  string  always
    2  health      string
    6  message     string  ptr

message core.v1.NodeSelectorTerm
    1  matchExpressions  []core.v1.NodeSelectorRequirement
    2  matchFields       []core.v1.NodeSelectorRequirement

message core.v1.ImageVolumeStatus
    1  imageRef  string

message core.v1.NodeSelectorRequirement
    1  key       string    always
    2  operator  string    always
    3  values    []string
"""

"""Protobuf field table: core/v1 Node: NodeSpec, NodeStatus (k8s.io/api/core/v1/generated.proto).

Notation: see :mod:`kubegate.api.protobuf_schema`.
"""

MESSAGES = """
message core.v1.Node
    1  metadata  meta.v1.ObjectMeta
    2  spec      core.v1.NodeSpec
    3  status    core.v1.NodeStatus

message core.v1.NodeSpec
    1  podCIDR              string
    7  podCIDRs             []string
    3  providerID           string
    4  unschedulable        bool
    5  taints               []core.v1.Taint
    6  configSource         core.v1.NodeConfigSource         ptr
    2  externalID           string
    8  podPreemptionPolicy  core.v1.NodePodPreemptionPolicy  ptr

message core.v1.NodeStatus
    1  capacity          map[quantity]
    2  allocatable       map[quantity]
    3  phase             string
    4  conditions        []core.v1.NodeCondition
    5  addresses         []core.v1.NodeAddress
    6  daemonEndpoints   core.v1.NodeDaemonEndpoints
    7  nodeInfo          core.v1.NodeSystemInfo
    8  images            []core.v1.ContainerImage
    9  volumesInUse      []string
   10  volumesAttached   []core.v1.AttachedVolume
   11  config            core.v1.NodeConfigStatus      ptr
   12  runtimeHandlers   []core.v1.NodeRuntimeHandler
   13  features          core.v1.NodeFeatures          ptr
   14  declaredFeatures  []string

message core.v1.Taint
    1  key        string  always
    2  value      string
    3  effect     string  always
    4  timeAdded  time    ptr

message core.v1.NodeConfigSource
    2  configMap  core.v1.ConfigMapNodeConfigSource  ptr

message core.v1.NodePodPreemptionPolicy
    1  disableResizePreemption  []string

message core.v1.NodeCondition
    1  type                string  always
    2  status              string  always
    3  lastHeartbeatTime   time
    4  lastTransitionTime  time
    5  reason              string
    6  message             string

message core.v1.NodeAddress
    1  type     string  always
    2  address  string  always

message core.v1.NodeDaemonEndpoints
    1  kubeletEndpoint  core.v1.DaemonEndpoint

message core.v1.NodeSystemInfo
    1  machineID                string                  always
    2  systemUUID               string                  always
    3  bootID                   string                  always
    4  kernelVersion            string                  always
    5  osImage                  string                  always
    6  containerRuntimeVersion  string                  always
    7  kubeletVersion           string                  always
    8  kubeProxyVersion         string                  always
    9  operatingSystem          string                  always
   10  architecture             string                  always
   11  swap                     core.v1.NodeSwapStatus  ptr
   12  runningInUserNamespace   bool                    ptr

message core.v1.ContainerImage
    1  names      []string  always
    2  sizeBytes  int64

message core.v1.AttachedVolume
    1  name        string  always
    2  devicePath  string  always

message core.v1.NodeConfigStatus
    1  assigned       core.v1.NodeConfigSource  ptr
    2  active         core.v1.NodeConfigSource  ptr
    3  lastKnownGood  core.v1.NodeConfigSource  ptr
    4  error          string

message core.v1.NodeRuntimeHandler
    1  name      string                              always
    2  features  core.v1.NodeRuntimeHandlerFeatures  ptr

message core.v1.NodeFeatures
    1  supplementalGroupsPolicy  bool  ptr

message core.v1.ConfigMapNodeConfigSource
    1  namespace         string  always
    2  name              string  always
    3  uid               string
    4  resourceVersion   string
    5  kubeletConfigKey  string  always

message core.v1.DaemonEndpoint
    1  Port  int32  always

message core.v1.NodeSwapStatus
    1  capacity  int64  ptr

message core.v1.NodeRuntimeHandlerFeatures
    1  recursiveReadOnlyMounts  bool  ptr
    2  userNamespaces           bool  ptr
"""

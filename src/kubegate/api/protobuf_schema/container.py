"""Protobuf field table: core/v1 containers: Container, EphemeralContainer, probes, env, resources, security
contexts (k8s.io/api/core/v1/generated.proto).

Notation: see :mod:`kubegate.api.protobuf_schema`.
"""

MESSAGES = """
message core.v1.Container
    1  name                      string                           always
    2  image                     string
    3  command                   []string
    4  args                      []string
    5  workingDir                string
    6  ports                     []core.v1.ContainerPort
   19  envFrom                   []core.v1.EnvFromSource
    7  env                       []core.v1.EnvVar
    8  resources                 core.v1.ResourceRequirements
   23  resizePolicy              []core.v1.ContainerResizePolicy
   24  restartPolicy             string                           ptr
   25  restartPolicyRules        []core.v1.ContainerRestartRule
    9  volumeMounts              []core.v1.VolumeMount
   21  volumeDevices             []core.v1.VolumeDevice
   10  livenessProbe             core.v1.Probe                    ptr
   11  readinessProbe            core.v1.Probe                    ptr
   22  startupProbe              core.v1.Probe                    ptr
   12  lifecycle                 core.v1.Lifecycle                ptr
   13  terminationMessagePath    string
   20  terminationMessagePolicy  string
   14  imagePullPolicy           string
   15  securityContext           core.v1.SecurityContext          ptr
   16  stdin                     bool
   17  stdinOnce                 bool
   18  tty                       bool

message core.v1.ContainerPort
    1  name           string
    2  hostPort       int32
    3  containerPort  int32   always
    4  protocol       string
    5  hostIP         string

message core.v1.EnvFromSource
    1  prefix        string
    2  configMapRef  core.v1.ConfigMapEnvSource  ptr
    3  secretRef     core.v1.SecretEnvSource     ptr

message core.v1.EnvVar
    1  name       string                always
    2  value      string
    3  valueFrom  core.v1.EnvVarSource  ptr

message core.v1.ResourceRequirements
    1  limits    map[quantity]
    2  requests  map[quantity]
    3  claims    []core.v1.ResourceClaim

message core.v1.ContainerResizePolicy
    1  resourceName   string  always
    2  restartPolicy  string  always

message core.v1.ContainerRestartRule
    1  action     string
    2  exitCodes  core.v1.ContainerRestartRuleOnExitCodes  ptr

message core.v1.VolumeMount
    1  name               string    always
    2  readOnly           bool
    7  recursiveReadOnly  string    ptr
    3  mountPath          string    always
    4  subPath            string
    5  mountPropagation   string    ptr
    6  subPathExpr        string
    8  bindMountOptions   []string

message core.v1.VolumeDevice
    1  name        string  always
    2  devicePath  string  always

message core.v1.Probe
    1  inline                         core.v1.ProbeHandler
    2  initialDelaySeconds            int32
    3  timeoutSeconds                 int32
    4  periodSeconds                  int32
    5  successThreshold               int32
    6  failureThreshold               int32
    7  terminationGracePeriodSeconds  int64                 ptr

message core.v1.Lifecycle
    1  postStart   core.v1.LifecycleHandler  ptr
    2  preStop     core.v1.LifecycleHandler  ptr
    3  stopSignal  string                    ptr

message core.v1.SecurityContext
    1  capabilities              core.v1.Capabilities                   ptr
    2  privileged                bool                                   ptr
    3  seLinuxOptions            core.v1.SELinuxOptions                 ptr
   10  windowsOptions            core.v1.WindowsSecurityContextOptions  ptr
    4  runAsUser                 int64                                  ptr
    8  runAsGroup                int64                                  ptr
    5  runAsNonRoot              bool                                   ptr
    6  readOnlyRootFilesystem    bool                                   ptr
    7  allowPrivilegeEscalation  bool                                   ptr
    9  procMount                 string                                 ptr
   11  seccompProfile            core.v1.SeccompProfile                 ptr
   12  appArmorProfile           core.v1.AppArmorProfile                ptr

message core.v1.ConfigMapEnvSource
    1  inline    core.v1.LocalObjectReference
    2  optional  bool                          ptr

message core.v1.SecretEnvSource
    1  inline    core.v1.LocalObjectReference
    2  optional  bool                          ptr

message core.v1.EnvVarSource
    1  fieldRef          core.v1.ObjectFieldSelector    ptr
    2  resourceFieldRef  core.v1.ResourceFieldSelector  ptr
    3  configMapKeyRef   core.v1.ConfigMapKeySelector   ptr
    4  secretKeyRef      core.v1.SecretKeySelector      ptr
    5  fileKeyRef        core.v1.FileKeySelector        ptr

message core.v1.ResourceClaim
    1  name     string  always
    2  request  string

message core.v1.ContainerRestartRuleOnExitCodes
    1  operator  string
    2  values    []int32

message core.v1.ProbeHandler
    1  exec       core.v1.ExecAction       ptr
    2  httpGet    core.v1.HTTPGetAction    ptr
    3  tcpSocket  core.v1.TCPSocketAction  ptr
    4  grpc       core.v1.GRPCAction       ptr

message core.v1.LifecycleHandler
    1  exec       core.v1.ExecAction       ptr
    2  httpGet    core.v1.HTTPGetAction    ptr
    3  tcpSocket  core.v1.TCPSocketAction  ptr
    4  sleep      core.v1.SleepAction      ptr

message core.v1.Capabilities
    1  add   []string
    2  drop  []string

message core.v1.SELinuxOptions
    1  user   string
    2  role   string
    3  type   string
    4  level  string

message core.v1.WindowsSecurityContextOptions
    1  gmsaCredentialSpecName  string  ptr
    2  gmsaCredentialSpec      string  ptr
    3  runAsUserName           string  ptr
    4  hostProcess             bool    ptr

message core.v1.SeccompProfile
    1  type              string  always
    2  localhostProfile  string  ptr

message core.v1.AppArmorProfile
    1  type              string  always
    2  localhostProfile  string  ptr

message core.v1.ObjectFieldSelector
    1  apiVersion  string
    2  fieldPath   string  always

message core.v1.ResourceFieldSelector
    1  containerName  string
    2  resource       string    always
    3  divisor        quantity

message core.v1.ConfigMapKeySelector
    1  inline    core.v1.LocalObjectReference
    2  key       string                        always
    3  optional  bool                          ptr

message core.v1.SecretKeySelector
    1  inline    core.v1.LocalObjectReference
    2  key       string                        always
    3  optional  bool                          ptr

message core.v1.FileKeySelector
    1  volumeName  string  always
    2  path        string  always
    3  key         string  always
    4  optional    bool    ptr

message core.v1.ExecAction
    1  command  []string

message core.v1.HTTPGetAction
    1  path         string
    2  port         intstr                always
    3  host         string
    4  scheme       string
    5  httpHeaders  []core.v1.HTTPHeader
    6  protocol     string                ptr

message core.v1.TCPSocketAction
    1  port  intstr  always
    2  host  string

message core.v1.GRPCAction
    1  port     int32   always
    2  service  string  ptr
    3  mode     string  ptr

message core.v1.SleepAction
    1  seconds  int64  always

message core.v1.HTTPHeader
    1  name   string  always
    2  value  string  always

message core.v1.EphemeralContainer
    1  inline               core.v1.EphemeralContainerCommon
    2  targetContainerName  string

message core.v1.EphemeralContainerCommon
    1  name                      string                           always
    2  image                     string
    3  command                   []string
    4  args                      []string
    5  workingDir                string
    6  ports                     []core.v1.ContainerPort
   19  envFrom                   []core.v1.EnvFromSource
    7  env                       []core.v1.EnvVar
    8  resources                 core.v1.ResourceRequirements
   23  resizePolicy              []core.v1.ContainerResizePolicy
   24  restartPolicy             string                           ptr
   25  restartPolicyRules        []core.v1.ContainerRestartRule
    9  volumeMounts              []core.v1.VolumeMount
   21  volumeDevices             []core.v1.VolumeDevice
   10  livenessProbe             core.v1.Probe                    ptr
   11  readinessProbe            core.v1.Probe                    ptr
   22  startupProbe              core.v1.Probe                    ptr
   12  lifecycle                 core.v1.Lifecycle                ptr
   13  terminationMessagePath    string
   20  terminationMessagePolicy  string
   14  imagePullPolicy           string
   15  securityContext           core.v1.SecurityContext          ptr
   16  stdin                     bool
   17  stdinOnce                 bool
   18  tty                       bool
"""

"""Protobuf field table: core/v1 objects other than Pod and Node: Namespace, ConfigMap, Secret, ServiceAccount,
Service, Endpoints, Event (k8s.io/api/core/v1/generated.proto).

Notation: see :mod:`kubegate.api.protobuf_schema`.
"""

MESSAGES = """
message core.v1.Namespace
    1  metadata  meta.v1.ObjectMeta
    2  spec      core.v1.NamespaceSpec
    3  status    core.v1.NamespaceStatus

message core.v1.ConfigMap
    1  metadata    meta.v1.ObjectMeta
    4  immutable   bool                ptr
    2  data        map[string]
    3  binaryData  map[bytes]

message core.v1.Secret
    1  metadata    meta.v1.ObjectMeta
    5  immutable   bool                ptr
    2  data        map[bytes]
    4  stringData  map[string]
    3  type        string

message core.v1.ServiceAccount
    1  metadata                      meta.v1.ObjectMeta
    2  secrets                       []core.v1.ObjectReference
    3  imagePullSecrets              []core.v1.LocalObjectReference
    4  automountServiceAccountToken  bool                            ptr

message core.v1.Service
    1  metadata  meta.v1.ObjectMeta
    2  spec      core.v1.ServiceSpec
    3  status    core.v1.ServiceStatus

message core.v1.Endpoints
    1  metadata  meta.v1.ObjectMeta
    2  subsets   []core.v1.EndpointSubset

message core.v1.Event
    1  metadata            meta.v1.ObjectMeta       always
    2  involvedObject      core.v1.ObjectReference  always
    3  reason              string
    4  message             string
    5  source              core.v1.EventSource
    6  firstTimestamp      time
    7  lastTimestamp       time
    8  count               int32
    9  type                string
   10  eventTime           microtime
   11  series              core.v1.EventSeries      ptr
   12  action              string
   13  related             core.v1.ObjectReference  ptr
   14  reportingComponent  string                   always
   15  reportingInstance   string                   always

message core.v1.NamespaceSpec
    1  finalizers  []string

message core.v1.NamespaceStatus
    1  phase       string
    2  conditions  []core.v1.NamespaceCondition

message core.v1.ObjectReference
    1  kind             string
    2  namespace        string
    3  name             string
    4  uid              string
    5  apiVersion       string
    6  resourceVersion  string
    7  fieldPath        string

message core.v1.LocalObjectReference
    1  name  string

message core.v1.ServiceSpec
    1  ports                          []core.v1.ServicePort
    2  selector                       map[string]
    3  clusterIP                      string
   18  clusterIPs                     []string
    4  type                           string
    5  externalIPs                    []string
    7  sessionAffinity                string
    8  loadBalancerIP                 string
    9  loadBalancerSourceRanges       []string
   10  externalName                   string
   11  externalTrafficPolicy          string
   12  healthCheckNodePort            int32
   13  publishNotReadyAddresses       bool
   14  sessionAffinityConfig          core.v1.SessionAffinityConfig  ptr
   19  ipFamilies                     []string
   17  ipFamilyPolicy                 string                         ptr
   20  allocateLoadBalancerNodePorts  bool                           ptr
   21  loadBalancerClass              string                         ptr
   22  internalTrafficPolicy          string                         ptr
   23  trafficDistribution            string                         ptr

message core.v1.ServiceStatus
    1  loadBalancer  core.v1.LoadBalancerStatus
    2  conditions    []meta.v1.Condition

message core.v1.EndpointSubset
    1  addresses          []core.v1.EndpointAddress
    2  notReadyAddresses  []core.v1.EndpointAddress
    3  ports              []core.v1.EndpointPort

message core.v1.EventSource
    1  component  string
    2  host       string

message core.v1.EventSeries
    1  count             int32
    2  lastObservedTime  microtime

message core.v1.NamespaceCondition
    1  type                string  always
    2  status              string  always
    4  lastTransitionTime  time
    5  reason              string
    6  message             string

message core.v1.ServicePort
    1  name         string
    2  protocol     string
    6  appProtocol  string  ptr
    3  port         int32   always
    4  targetPort   intstr
    5  nodePort     int32

message core.v1.SessionAffinityConfig
    1  clientIP  core.v1.ClientIPConfig  ptr

message core.v1.LoadBalancerStatus
    1  ingress  []core.v1.LoadBalancerIngress

message core.v1.EndpointAddress
    1  ip         string                   always
    3  hostname   string
    4  nodeName   string                   ptr
    2  targetRef  core.v1.ObjectReference  ptr

message core.v1.EndpointPort
    1  name         string
    2  port         int32   always
    3  protocol     string
    4  appProtocol  string  ptr

message core.v1.ClientIPConfig
    1  timeoutSeconds  int32  ptr

message core.v1.LoadBalancerIngress
    1  ip        string
    2  hostname  string
    3  ipMode    string                ptr
    4  ports     []core.v1.PortStatus

message core.v1.PortStatus
    1  port      int32   always
    2  protocol  string  always
    3  error     string  ptr
"""

"""Protobuf field table: core/v1 pod volumes (k8s.io/api/core/v1/generated.proto).

The deprecated in-tree cloud and storage plugins are left out: their VolumeSource fields
(3-5, 8, 9, 11-15, 17, 18, 20-25, 27) decode as unknown fields and are reported.

Notation: see :mod:`kubegate.api.protobuf_schema`.
"""

MESSAGES = """
message core.v1.Volume
    1  name    string                always
    2  inline  core.v1.VolumeSource

message core.v1.VolumeSource
  # 3-5, 8, 9, 11-15, 17, 18, 20-25, 27: deprecated in-tree plugins, not decoded
    1  hostPath               core.v1.HostPathVolumeSource               ptr
    2  emptyDir               core.v1.EmptyDirVolumeSource               ptr
    6  secret                 core.v1.SecretVolumeSource                 ptr
    7  nfs                    core.v1.NFSVolumeSource                    ptr
   10  persistentVolumeClaim  core.v1.PersistentVolumeClaimVolumeSource  ptr
   16  downwardAPI            core.v1.DownwardAPIVolumeSource            ptr
   19  configMap              core.v1.ConfigMapVolumeSource              ptr
   26  projected              core.v1.ProjectedVolumeSource              ptr
   28  csi                    core.v1.CSIVolumeSource                    ptr
   29  ephemeral              core.v1.EphemeralVolumeSource              ptr
   30  image                  core.v1.ImageVolumeSource                  ptr

message core.v1.HostPathVolumeSource
    1  path  string  always
    2  type  string  ptr

message core.v1.EmptyDirVolumeSource
    1  medium     string
    2  sizeLimit  quantity  ptr
    3  mode       int32     ptr

message core.v1.SecretVolumeSource
    1  secretName   string
    2  items        []core.v1.KeyToPath
    3  defaultMode  int32                ptr
    4  optional     bool                 ptr
    5  defaultUser  int64                ptr

message core.v1.NFSVolumeSource
    1  server    string  always
    2  path      string  always
    3  readOnly  bool

message core.v1.PersistentVolumeClaimVolumeSource
    1  claimName  string  always
    2  readOnly   bool

message core.v1.DownwardAPIVolumeSource
    1  items        []core.v1.DownwardAPIVolumeFile
    2  defaultMode  int32                            ptr
    3  defaultUser  int64                            ptr

message core.v1.ConfigMapVolumeSource
    1  inline       core.v1.LocalObjectReference
    2  items        []core.v1.KeyToPath
    3  defaultMode  int32                         ptr
    4  optional     bool                          ptr
    5  defaultUser  int64                         ptr

message core.v1.ProjectedVolumeSource
    1  sources      []core.v1.VolumeProjection  always
    2  defaultMode  int32                       ptr
    3  defaultUser  int64                       ptr

message core.v1.CSIVolumeSource
    1  driver                string                        always
    2  readOnly              bool                          ptr
    3  fsType                string                        ptr
    4  volumeAttributes      map[string]
    5  nodePublishSecretRef  core.v1.LocalObjectReference  ptr

message core.v1.EphemeralVolumeSource
    1  volumeClaimTemplate  core.v1.PersistentVolumeClaimTemplate  ptr

message core.v1.ImageVolumeSource
    1  reference   string
    2  pullPolicy  string

message core.v1.KeyToPath
    1  key   string  always
    2  path  string  always
    3  mode  int32   ptr
    4  user  int64   ptr

message core.v1.DownwardAPIVolumeFile
    1  path              string                         always
    2  fieldRef          core.v1.ObjectFieldSelector    ptr
    3  resourceFieldRef  core.v1.ResourceFieldSelector  ptr
    4  mode              int32                          ptr
    5  user              int64                          ptr

message core.v1.VolumeProjection
    1  secret               core.v1.SecretProjection               ptr
    2  downwardAPI          core.v1.DownwardAPIProjection          ptr
    3  configMap            core.v1.ConfigMapProjection            ptr
    4  serviceAccountToken  core.v1.ServiceAccountTokenProjection  ptr
    5  clusterTrustBundle   core.v1.ClusterTrustBundleProjection   ptr
    6  podCertificate       core.v1.PodCertificateProjection       ptr

message core.v1.PersistentVolumeClaimTemplate
    1  metadata  meta.v1.ObjectMeta
    2  spec      core.v1.PersistentVolumeClaimSpec  always

message core.v1.SecretProjection
    1  inline    core.v1.LocalObjectReference
    2  items     []core.v1.KeyToPath
    4  optional  bool                          ptr

message core.v1.DownwardAPIProjection
    1  items  []core.v1.DownwardAPIVolumeFile

message core.v1.ConfigMapProjection
    1  inline    core.v1.LocalObjectReference
    2  items     []core.v1.KeyToPath
    4  optional  bool                          ptr

message core.v1.ServiceAccountTokenProjection
    1  audience           string
    2  expirationSeconds  int64   ptr
    3  path               string  always
    4  user               int64   ptr

message core.v1.ClusterTrustBundleProjection
    1  name           string                 ptr
    2  signerName     string                 ptr
    3  labelSelector  meta.v1.LabelSelector  ptr
    5  optional       bool                   ptr
    4  path           string                 always
    6  user           int64                  ptr

message core.v1.PodCertificateProjection
    1  signerName            string
    2  keyType               string
    3  maxExpirationSeconds  int32        ptr
    4  credentialBundlePath  string
    5  keyPath               string
    6  certificateChainPath  string
    7  userAnnotations       map[string]
    8  user                  int64        ptr

message core.v1.PersistentVolumeClaimSpec
    1  accessModes                []string
    4  selector                   meta.v1.LabelSelector               ptr
    2  resources                  core.v1.VolumeResourceRequirements
    3  volumeName                 string
    5  storageClassName           string                              ptr
    6  volumeMode                 string                              ptr
    7  dataSource                 core.v1.TypedLocalObjectReference   ptr
    8  dataSourceRef              core.v1.TypedObjectReference        ptr
    9  volumeAttributesClassName  string                              ptr

message core.v1.VolumeResourceRequirements
    1  limits    map[quantity]
    2  requests  map[quantity]

message core.v1.TypedLocalObjectReference
    1  apiGroup  string  ptr
    2  kind      string  always
    3  name      string  always

message core.v1.TypedObjectReference
    1  apiGroup   string  ptr
    2  kind       string  always
    3  name       string  always
    4  namespace  string  ptr
"""

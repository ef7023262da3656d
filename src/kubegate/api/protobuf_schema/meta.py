"""Protobuf field table: meta/v1 types shared by every group (k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto).

Notation: see :mod:`kubegate.api.protobuf_schema`.
"""

MESSAGES = """
message meta.v1.DeleteOptions
    1  gracePeriodSeconds                                int64                  ptr
    2  preconditions                                     meta.v1.Preconditions  ptr
    3  orphanDependents                                  bool                   ptr
    4  propagationPolicy                                 string                 ptr
    5  dryRun                                            []string
    6  ignoreStoreReadErrorWithClusterBreakingPotential  bool                   ptr

message meta.v1.LabelSelector
    1  matchLabels       map[string]
    2  matchExpressions  []meta.v1.LabelSelectorRequirement

message meta.v1.ObjectMeta
    1  name                        string
    2  generateName                string
    3  namespace                   string
    4  selfLink                    string
    5  uid                         string
    6  resourceVersion             string
    7  generation                  int64
    8  creationTimestamp           time                          omitzero
    9  deletionTimestamp           time                          ptr
   10  deletionGracePeriodSeconds  int64                         ptr
   11  labels                      map[string]
   12  annotations                 map[string]
   13  ownerReferences             []meta.v1.OwnerReference
   14  finalizers                  []string
   17  managedFields               []meta.v1.ManagedFieldsEntry

message meta.v1.Preconditions
    1  uid              string  ptr
    2  resourceVersion  string  ptr

message meta.v1.LabelSelectorRequirement
    1  key       string    always
    2  operator  string    always
    3  values    []string

message meta.v1.OwnerReference
    5  apiVersion          string  always
    1  kind                string  always
    3  name                string  always
    4  uid                 string  always
    6  controller          bool    ptr
    7  blockOwnerDeletion  bool    ptr

message meta.v1.ManagedFieldsEntry
    1  manager      string
    2  operation    string
    3  apiVersion   string
    4  time         time      ptr
    6  fieldsType   string
    7  fieldsV1     fieldsv1  ptr
    8  subresource  string

message meta.v1.Condition
    1  type                string  always
    2  status              string  always
    3  observedGeneration  int64
    4  lastTransitionTime  time    always
    5  reason              string  always
    6  message             string  always

message meta.v1.FieldSelectorRequirement
    1  key       string    always
    2  operator  string    always
    3  values    []string
"""

"""Protobuf field table: discovery/v1, rbac/v1, authentication/v1, authorization/v1 and policy/v1 (the
``generated.proto`` of each package in k8s.io/api).

Notation: see :mod:`kubegate.api.protobuf_schema`.
"""

MESSAGES = """
message discovery.v1.EndpointSlice
    1  metadata     meta.v1.ObjectMeta
    4  addressType  string                       always
    2  endpoints    []discovery.v1.Endpoint      always
    3  ports        []discovery.v1.EndpointPort  always

message rbac.v1.Role
    1  metadata  meta.v1.ObjectMeta
    2  rules     []rbac.v1.PolicyRule  always

message rbac.v1.ClusterRole
    1  metadata         meta.v1.ObjectMeta
    2  rules            []rbac.v1.PolicyRule     always
    3  aggregationRule  rbac.v1.AggregationRule  ptr

message rbac.v1.RoleBinding
    1  metadata  meta.v1.ObjectMeta
    2  subjects  []rbac.v1.Subject
    3  roleRef   rbac.v1.RoleRef     always

message rbac.v1.ClusterRoleBinding
    1  metadata  meta.v1.ObjectMeta
    2  subjects  []rbac.v1.Subject
    3  roleRef   rbac.v1.RoleRef     always

message authentication.v1.TokenRequest
    1  metadata  meta.v1.ObjectMeta
    2  spec      authentication.v1.TokenRequestSpec    always
    3  status    authentication.v1.TokenRequestStatus

message authentication.v1.TokenReview
    1  metadata  meta.v1.ObjectMeta
    2  spec      authentication.v1.TokenReviewSpec    always
    3  status    authentication.v1.TokenReviewStatus

message authentication.v1.SelfSubjectReview
    1  metadata  meta.v1.ObjectMeta
    2  status    authentication.v1.SelfSubjectReviewStatus

message authorization.v1.SelfSubjectAccessReview
    1  metadata  meta.v1.ObjectMeta
    2  spec      authorization.v1.SelfSubjectAccessReviewSpec  always
    3  status    authorization.v1.SubjectAccessReviewStatus

message authorization.v1.SubjectAccessReview
    1  metadata  meta.v1.ObjectMeta
    2  spec      authorization.v1.SubjectAccessReviewSpec    always
    3  status    authorization.v1.SubjectAccessReviewStatus

message authorization.v1.LocalSubjectAccessReview
    1  metadata  meta.v1.ObjectMeta
    2  spec      authorization.v1.SubjectAccessReviewSpec    always
    3  status    authorization.v1.SubjectAccessReviewStatus

message authorization.v1.SelfSubjectRulesReview
    1  metadata  meta.v1.ObjectMeta
    2  spec      authorization.v1.SelfSubjectRulesReviewSpec  always
    3  status    authorization.v1.SubjectRulesReviewStatus

message policy.v1.Eviction
    1  metadata       meta.v1.ObjectMeta
    2  deleteOptions  meta.v1.DeleteOptions  ptr

message discovery.v1.Endpoint
    1  addresses           []string                         always
    2  conditions          discovery.v1.EndpointConditions
    3  hostname            string                           ptr
    4  targetRef           core.v1.ObjectReference          ptr
    5  deprecatedTopology  map[string]
    6  nodeName            string                           ptr
    7  zone                string                           ptr
    8  hints               discovery.v1.EndpointHints       ptr

message discovery.v1.EndpointPort
    1  name         string  ptr
    2  protocol     string  ptr
    3  port         int32   ptr
    4  appProtocol  string  ptr

message rbac.v1.PolicyRule
    1  verbs            []string  always
    2  apiGroups        []string
    3  resources        []string
    4  resourceNames    []string
    5  nonResourceURLs  []string

message rbac.v1.AggregationRule
    1  clusterRoleSelectors  []meta.v1.LabelSelector

message rbac.v1.Subject
    1  kind       string  always
    2  apiGroup   string
    3  name       string  always
    4  namespace  string

message rbac.v1.RoleRef
    1  apiGroup  string  always
    2  kind      string  always
    3  name      string  always

message authentication.v1.TokenRequestSpec
    1  audiences          []string                                always
    4  expirationSeconds  int64                                   ptr
    3  boundObjectRef     authentication.v1.BoundObjectReference  ptr
    # AttestationValue is a named []string, wrapped like ExtraValue (not checked on the wire)
    5  attestations       map[stringlist]

message authentication.v1.TokenRequestStatus
    1  token                string  always
    2  expirationTimestamp  time    always

message authentication.v1.TokenReviewSpec
    1  token      string
    2  audiences  []string

message authentication.v1.TokenReviewStatus
    1  authenticated  bool
    2  user           authentication.v1.UserInfo
    4  audiences      []string
    3  error          string

message authentication.v1.SelfSubjectReviewStatus
    1  userInfo  authentication.v1.UserInfo

message authorization.v1.SelfSubjectAccessReviewSpec
    1  resourceAttributes     authorization.v1.ResourceAttributes     ptr
    2  nonResourceAttributes  authorization.v1.NonResourceAttributes  ptr

message authorization.v1.SubjectAccessReviewStatus
    1  allowed          bool    always
    4  denied           bool
    2  reason           string
    3  evaluationError  string

message authorization.v1.SubjectAccessReviewSpec
    1  resourceAttributes     authorization.v1.ResourceAttributes     ptr
    2  nonResourceAttributes  authorization.v1.NonResourceAttributes  ptr
    3  user                   string
    4  groups                 []string
    5  extra                  map[stringlist]
    6  uid                    string

message authorization.v1.SelfSubjectRulesReviewSpec
    1  namespace  string

message authorization.v1.SubjectRulesReviewStatus
    1  resourceRules     []authorization.v1.ResourceRule     always
    2  nonResourceRules  []authorization.v1.NonResourceRule  always
    3  incomplete        bool                                always
    4  evaluationError   string

message discovery.v1.EndpointConditions
    1  ready        bool  ptr
    2  serving      bool  ptr
    3  terminating  bool  ptr

message discovery.v1.EndpointHints
    1  forZones  []discovery.v1.ForZone
    2  forNodes  []discovery.v1.ForNode

message authentication.v1.BoundObjectReference
    1  kind        string
    2  apiVersion  string
    3  name        string
    4  uid         string

message authentication.v1.UserInfo
    1  username  string
    2  uid       string
    3  groups    []string
    4  extra     map[stringlist]

message authorization.v1.ResourceAttributes
    1  namespace      string
    2  verb           string
    3  group          string
    4  version        string
    5  resource       string
    6  subresource    string
    7  name           string
    8  fieldSelector  authorization.v1.FieldSelectorAttributes  ptr
    9  labelSelector  authorization.v1.LabelSelectorAttributes  ptr

message authorization.v1.NonResourceAttributes
    1  path  string
    2  verb  string

message authorization.v1.ResourceRule
    1  verbs          []string  always
    2  apiGroups      []string
    3  resources      []string
    4  resourceNames  []string

message authorization.v1.NonResourceRule
    1  verbs            []string  always
    2  nonResourceURLs  []string

message discovery.v1.ForZone
    1  name  string  always

message discovery.v1.ForNode
    1  name  string  always

message authorization.v1.FieldSelectorAttributes
    1  rawSelector   string
    2  requirements  []meta.v1.FieldSelectorRequirement

message authorization.v1.LabelSelectorAttributes
    1  rawSelector   string
    2  requirements  []meta.v1.LabelSelectorRequirement
"""

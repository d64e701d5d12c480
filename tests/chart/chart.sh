#!/usr/bin/env bash
# The Helm chart, checked without a cluster:
#  - helm lint --strict, and helm template, for the default values and for
#    every file in helm/artifact-watch/ci/ (with the ServiceMonitor and KEDA
#    APIs announced, so those objects render too);
#  - every rendered object validated by kubectl-validate against the
#    Kubernetes 1.30 schemas, the ServiceMonitor and ScaledObject against the
#    CRDs of the projects that define them;
#  - every container's arguments and the chart's config file taken by the
#    artifact-watch binary itself (--print-config), and the retention rules
#    of the ConfigMap passing `policy check`;
#  - the restricted pod security settings on every pod, probes on /healthz
#    and /readyz for long-running ones, and bad values refused at install
#    time with a message (values.schema.json and the templates' checks).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
AW_BIN=${AW_BIN:?AW_BIN must point at the artifact-watch binary (ctest sets it)}
chart=$REPO/helm/artifact-watch
gobin=$(go env GOPATH)/bin
HELM=$gobin/helm
KV=$gobin/kubectl-validate
KEDA_VERSION=v2.21.0
PROMOP_VERSION=v0.85.0
checks=0
fail() { echo "chart.sh: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); }
[[ -x $HELM ]] || fail "helm is not installed (scripts/bootstrap installs it into $gobin)"
[[ -x $KV ]] || fail "kubectl-validate is not installed (scripts/bootstrap installs it into $gobin)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

moddir() { (cd /tmp && GOFLAGS=-mod=mod go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'); }
mkdir -p "$work/crds"
cp "$(moddir "github.com/kedacore/keda/v2@$KEDA_VERSION")/config/crd/bases/keda.sh_scaledobjects.yaml" "$work/crds/"
cp "$(moddir "github.com/prometheus-operator/prometheus-operator@$PROMOP_VERSION")/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" "$work/crds/"

apis=(--api-versions monitoring.coreos.com/v1 --api-versions keda.sh/v1alpha1)
n=0
for values in "" "$chart"/ci/*.yaml; do
    name=${values:+$(basename "$values" .yaml)}
    name=${name:-defaults}
    vf=(${values:+-f "$values"})
    "$HELM" lint --strict "$chart" "${vf[@]}" >"$work/lint.log" 2>&1 || { cat "$work/lint.log"; fail "helm lint --strict ($name)"; }
    ok
    out=$work/$name
    mkdir -p "$out"
    "$HELM" template aw "$chart" "${vf[@]}" "${apis[@]}" --namespace aw --output-dir "$out" >/dev/null ||
        fail "helm template ($name)"
    ok
    "$KV" --version 1.30 --local-crds "$work/crds" "$out" >"$work/kv.log" 2>&1 ||
        { cat "$work/kv.log"; fail "kubectl-validate ($name)"; }
    ok
    # what the binary and the pod settings make of each rendered object
    "$HELM" template aw "$chart" "${vf[@]}" "${apis[@]}" --namespace aw >"$out.yaml"
    python3 - "$out.yaml" "$work/$name-" <<'PY' || fail "pod settings ($name)"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
prefix = sys.argv[2]
pods = 0
for d in docs:
    kind, name = d["kind"], d["metadata"]["name"]
    if kind == "ConfigMap":
        for k, v in d["data"].items():
            open(prefix + k, "w").write(v)
    spec = None
    if kind == "Deployment" or kind == "Job":
        spec = d["spec"]["template"]["spec"]
    elif kind == "CronJob":
        spec = d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if spec is None:
        continue
    pods += 1
    psc = spec["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["seccompProfile"]["type"] == "RuntimeDefault", name
    for c in spec["containers"]:
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True, name
        assert sc["allowPrivilegeEscalation"] is False, name
        assert sc["capabilities"]["drop"] == ["ALL"], name
        assert "limits" in c["resources"] and "requests" in c["resources"], name
        if kind == "Deployment":
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", name
            assert spec["terminationGracePeriodSeconds"] > 20, name
        open(prefix + "args-" + name, "w").write("\n".join(c["args"]) + "\n")
assert pods > 0
PY
    ok
    for a in "$work/$name-args-"*; do
        mapfile -t args <"$a"
        AW_CONFIG=$work/$name-artifact-watch.conf "$AW_BIN" "${args[@]}" --print-config >/dev/null 2>"$work/pc.log" ||
            { cat "$work/pc.log"; fail "artifact-watch refuses the chart's arguments for $(basename "$a") ($name): ${args[*]}"; }
        ok
    done
    if [[ -f $work/$name-rules.yaml ]]; then
        "$AW_BIN" policy check --rules "$work/$name-rules.yaml" >/dev/null ||
            fail "the chart's retention rules do not pass policy check ($name)"
        ok
    fi
    n=$((n + 1))
done

# bad values are refused at install time, with a message
refuse() { # expected-message helm-args...
    local want=$1
    shift
    if "$HELM" template aw "$chart" "$@" >"$work/bad.log" 2>&1; then
        fail "helm template accepted: $*"
    fi
    grep -qF -- "$want" "$work/bad.log" || { cat "$work/bad.log"; fail "no message [$want] for: $*"; }
    ok
}
refuse "minReplicaCount" --set ingest.keda.enabled=true --set ingest.keda.minReplicaCount=0
refuse "retention.rules is required" --set retention.enabled=true
refuse "alerts.alertmanagerUrl or alerts.topic is required" --set alerts.enabled=true
refuse "backfill.targets" --set backfill.enabled=true
refuse "pullPolicy" --set image.pullPolicy=Sometimes
refuse "scheudle" --set backfill.scheudle=daily
refuse "schedule" --set backfill.enabled=true --set backfill.schedule=tomorrow --set backfill.allBuckets=true
refuse "targets" --set backfill.enabled=true --set 'backfill.targets[0]=bucket-without-scheme'
refuse "postgresql.uri or postgresql.existingSecret is required" --set postgresql.uri=
refuse "interval" --set scrub.interval=weekly
refuse "terminationGracePeriodSeconds" --set ingest.terminationGracePeriodSeconds=5
refuse "console.postgresql.existingSecret is required" --set console.enabled=true --set console.token.existingSecret=t
refuse "console.token.existingSecret is required" --set console.enabled=true --set console.postgresql.existingSecret=r
# the ServiceMonitor only where its API is served
"$HELM" template aw "$chart" >"$work/plain.yaml"
! grep -q "kind: ServiceMonitor" "$work/plain.yaml" || fail "a ServiceMonitor without the monitoring.coreos.com/v1 API"
ok
echo "chart.sh: $checks checks passed ($n value sets)"

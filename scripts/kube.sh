#!/usr/bin/env bash
# Builds a real Kubernetes API server and etcd from their Go modules, once,
# into a cache outside the repository, for the server-side dry-run test in
# deploy/kubernetes (TestAPIServerDryRun). There is no kube-apiserver package
# to install and no download of release binaries here, so the binaries are
# compiled: kube-apiserver from k8s.io/kubernetes through a wrapper module that
# replaces its staging modules (k8s.io/api, k8s.io/apiserver, ...) with their
# published versions, etcd from go.etcd.io/etcd/server/v3.
#
#   scripts/kube.sh build     # build what is missing (prints the directory)
#   scripts/kube.sh dir       # print the directory, build nothing
#   scripts/kube.sh status    # "ready DIR" or "missing DIR"; exit 1 if missing
#
# The directory holds kube-apiserver, etcd and crd/ (KEDA's ScaledObject,
# the Prometheus Operator's ServiceMonitor and PrometheusRule): point envtest's
# BinaryAssetsDirectory (or VELTRIX_TEST_KUBE_ASSETS) at it. The first build takes
# about 13 minutes for kube-apiserver on two busy cores and under a minute for
# etcd; a second call finds both and returns at once. VELTRIX_KUBE_BUILD_P sets
# `go build -p` (default 2). Concurrent calls wait for each other (flock), so
# scripts/test.sh can start a build in the background and the test's own call
# waits for it instead of building twice.
set -euo pipefail
cd "$(dirname "$0")/.."

KUBE_VERSION=v1.37.2
STAGING_VERSION=v0.37.2
ETCD_VERSION=v3.6.16
# The CRDs the manifests use, taken from these modules' zips.
KEDA_VERSION=v2.21.0
PROMETHEUS_OPERATOR_VERSION=v0.85.0
dir="${VELTRIX_CACHE:-$HOME/.cache/veltrix}/kube-$KUBE_VERSION-etcd-$ETCD_VERSION"

ready() { [[ -x "$dir/kube-apiserver" && -x "$dir/etcd" && -s "$dir/crd/keda.sh_scaledobjects.yaml" ]]; }

# moddir prints the directory of module@version in the module cache,
# downloading its zip if needed.
moddir() { (cd "$dir" && go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)",/\1/p'); }

fetch_crds() {
  local keda po
  keda=$(moddir "github.com/kedacore/keda/v2@$KEDA_VERSION")
  po=$(moddir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")
  mkdir -p "$dir/crd"
  install -m 0644 "$po/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
    "$po/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" "$dir/crd/"
  # Last: ready() looks for it.
  install -m 0644 "$keda/config/crd/bases/keda.sh_scaledobjects.yaml" "$dir/crd/"
}

build_etcd() {
  local src="$dir/src/etcd"
  mkdir -p "$src"
  cat >"$src/go.mod" <<EOF
module veltrix.local/etcdbuild

go 1.26

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
  # The module's main package is its root; the blank import keeps it in the
  # module graph for `go mod tidy`.
  cat >"$src/tools.go" <<'EOF'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
EOF
  (cd "$src" && go mod tidy -e >/dev/null 2>&1 || true
   cd "$src" && GOFLAGS=-mod=mod go build -trimpath -p "${VELTRIX_KUBE_BUILD_P:-2}" -o "$dir/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$dir/etcd.tmp" "$dir/etcd"
}

build_apiserver() {
  local src="$dir/src/kubernetes"
  mkdir -p "$src"
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them
  # with ./staging/src/...; replace directives of a dependency do not apply,
  # so the wrapper repeats them with the published versions.
  {
    printf 'module veltrix.local/kubebuild\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n\n' "$KUBE_VERSION"
    sed -n 's#.*=> \./staging/src/\(k8s\.io/[^ ]*\).*#replace \1 => \1 '"$STAGING_VERSION"'#p' "$gomod"
  } >"$src/go.mod"
  cat >"$src/tools.go" <<'EOF'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
EOF
  local ldflags="-s -w"
  local major=${KUBE_VERSION#v}; major=${major%%.*}
  local minor=${KUBE_VERSION#v*.}; minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$src" && GOFLAGS=-mod=mod go mod tidy >/dev/null
   cd "$src" && GOFLAGS=-mod=mod go build -trimpath -p "${VELTRIX_KUBE_BUILD_P:-2}" -ldflags "$ldflags" \
     -o "$dir/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
  mv "$dir/kube-apiserver.tmp" "$dir/kube-apiserver"
}

case "${1:-build}" in
  dir) echo "$dir" ;;
  status)
    if ready; then echo "ready $dir"; else echo "missing $dir"; exit 1; fi ;;
  build)
    mkdir -p "$dir"
    exec 9>"$dir/.lock"
    flock 9
    if ! ready; then
      start=$SECONDS
      if [[ ! -x "$dir/etcd" ]]; then
        echo "kube.sh: building etcd $ETCD_VERSION into $dir (once)" >&2
        build_etcd
        echo "kube.sh: etcd built in $((SECONDS - start)) s" >&2
      fi
      if [[ ! -x "$dir/kube-apiserver" ]]; then
        t=$SECONDS
        echo "kube.sh: building kube-apiserver $KUBE_VERSION into $dir (once, about 13 minutes)" >&2
        build_apiserver
        echo "kube.sh: kube-apiserver built in $((SECONDS - t)) s" >&2
      fi
      fetch_crds
    fi
    echo "$dir" ;;
  *) echo "usage: scripts/kube.sh [build|dir|status]" >&2; exit 2 ;;
esac

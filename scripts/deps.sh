#!/usr/bin/env bash
# Installs what veltrix's build and tests need on a fresh Debian machine:
# Go modules, Java 17 and Maven for the real Kafka broker (the jars are
# fetched by scripts/kafka.sh), Prometheus, Alertmanager, docker-compose and
# Chromium for the observability tests, and golangci-lint. Safe to run again: it
# only installs what is missing.
#
#   scripts/deps.sh                  # install what is missing
#   scripts/deps.sh golangci-lint    # only the linter; prints its path
set -euo pipefail
cd "$(dirname "$0")/.."

# golangci-lint, pinned: built once with `go install` into the cache beside
# the Kafka jars (outside the repository), so a later run finds it in a few
# milliseconds. Built from source because a prebuilt release cannot be
# downloaded here; the first build takes one to two minutes.
GOLANGCI_LINT_VERSION=v2.15.0
lint_dir="${VELTRIX_CACHE:-$HOME/.cache/veltrix}/golangci-lint-$GOLANGCI_LINT_VERSION"
golangci_lint() {
  if [[ ! -x "$lint_dir/golangci-lint" ]]; then
    echo "deps.sh: building golangci-lint $GOLANGCI_LINT_VERSION into $lint_dir (once)" >&2
    mkdir -p "$lint_dir"
    GOBIN="$lint_dir" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION" >&2
  fi
}
if [[ ${1:-} == golangci-lint ]]; then
  golangci_lint
  echo "$lint_dir/golangci-lint"
  exit 0
fi

need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
# The secure broker's client key goes from keytool's PKCS12 to PEM.
command -v openssl >/dev/null || need+=(openssl)
# Observability tests: promtool and a real Prometheus, amtool, the compose
# file check, and headless Chromium for the status page screenshot.
command -v promtool >/dev/null || need+=(prometheus)
command -v amtool >/dev/null || need+=(prometheus-alertmanager)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v chromium >/dev/null || need+=(chromium)
if ((${#need[@]})); then
  echo "deps.sh: installing ${need[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "deps.sh: Go 1.26 or newer is required" >&2; exit 1; }
go mod download
golangci_lint
scripts/kafka.sh fetch >/dev/null

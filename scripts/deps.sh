#!/usr/bin/env bash
# Installs what veltrix's build and tests need on a fresh Debian machine:
# Go modules, Java 17 and Maven for the real Kafka broker (the jars are
# fetched by scripts/kafka.sh), Prometheus, Alertmanager, docker-compose and
# Chromium for the observability tests. Safe to run again: it only installs what is
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."

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
scripts/kafka.sh fetch >/dev/null

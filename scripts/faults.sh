#!/usr/bin/env bash
# Runs every fault scenario at full scale — 1M-event baseline, five SIGKILLs,
# rolling restart, scaling, a 30 s broker outage, poison records under each
# failure policy, 60 s of 10x overload, handlers slower than the drain
# timeout, a hung handler, a broker wiped of its data, a zombie member, a
# forward catch-up past the delivery timeout — against the embedded cluster
# and a real Apache Kafka broker, then the broker failures on a three-node
# cluster (scripts/kafka.sh start-cluster: the busiest leader SIGKILLed, hung
# by SIGSTOP past its controller session, a rolling restart of the brokers),
# and writes the results table to docs/RELIABILITY.md. Takes about 30
# minutes on 2 cores.
#
#   scripts/faults.sh                  # everything
#   scripts/faults.sh -faults.only poison   # replaces only those rows
#   scripts/faults.sh -faults.only cluster- # only the three-broker scenarios
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
addr=$(scripts/kafka.sh start)
# The three-broker cluster for the cluster-* scenarios; stopped at the end
# only when this script started it.
if ! scripts/kafka.sh status-cluster >/dev/null 2>&1; then
  trap 'scripts/kafka.sh stop-cluster >/dev/null 2>&1 || true' EXIT
fi
cluster=$(scripts/kafka.sh start-cluster)
export VELTRIX_TEST_CLUSTER="$cluster"
log=${FAULTS_LOG:-/tmp/veltrix-faults.log}
echo "full output in $log"
VELTRIX_TEST_BROKERS="$addr" go test -count=1 -timeout 90m -v ./internal/faults \
  -run TestFaults -faults.full -faults.report "$PWD/docs/RELIABILITY.md" "$@" 2>&1 \
  | tee "$log" | grep --line-buffered -E '^\s*(---|FAIL|ok|PASS)|faults_test'
echo "wrote docs/RELIABILITY.md"

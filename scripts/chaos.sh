#!/usr/bin/env bash
# scripts/chaos.sh — random faults on the three-node cluster while a steady
# stream of events flows through veltrix, then the same accounting as the
# fault scenarios (produced, acknowledged, delivered, lost, duplicated, out
# of order, recovery, peak RSS).
#
#   scripts/chaos.sh              # 10 minutes at 10,000 events/s
#   scripts/chaos.sh 3m           # a shorter run
#   CHAOS_RATE=5000 CHAOS_SEED=42 scripts/chaos.sh 5m
#
# One fault at a time, picked at random (the seed is printed; CHAOS_SEED
# replays the same choices): SIGKILL the busiest input leader, SIGSTOP a
# broker that is not the group coordinator for 12-25 s, restart a broker,
# SIGKILL the active KRaft controller, SIGKILL a member (replaced), freeze a
# member past its session, scale up by one member and back. Each fault is
# undone and every replica back in sync before a 5-15 s pause and the next.
# Topics at replication factor 3, min.insync.replicas 2, acks=all idempotent
# producers; 3 veltrix process members forwarding to an output topic.
#
# Starts the cluster (scripts/kafka.sh start-cluster) when it is not
# running, and stops it at the end only then. Full log in
# $CHAOS_LOG (/tmp/veltrix-chaos.log). Exits non-zero when an acknowledged
# event was lost or reordered.
set -euo pipefail
case "${1:-}" in
  -h|--help|help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
cd "$(dirname "$0")/.."
duration=${1:-10m}
scripts/deps.sh
if ! scripts/kafka.sh status-cluster >/dev/null 2>&1; then
  trap 'scripts/kafka.sh stop-cluster >/dev/null 2>&1 || true' EXIT
fi
export VELTRIX_TEST_CLUSTER="$(scripts/kafka.sh start-cluster)"
log=${CHAOS_LOG:-/tmp/veltrix-chaos.log}
echo "chaos for $duration; full output in $log"
go test -count=1 -timeout 0 -v ./internal/faults -run '^TestChaos$' \
  -faults.chaos "$duration" -faults.chaos_rate "${CHAOS_RATE:-10000}" -faults.chaos_seed "${CHAOS_SEED:-0}" 2>&1 \
  | tee "$log" | grep --line-buffered -E 'chaos.go|chaos_test.go|^\s*\|| ---|^(ok|FAIL|PASS)'

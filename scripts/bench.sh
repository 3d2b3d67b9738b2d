#!/usr/bin/env bash
# Runs veltrix's benchmarks side by side with a plain franz-go loop and
# Kafka's own perf tools on the real broker (and the embedded cluster),
# writes bench/results/<timestamp>.json and latest.json, and regenerates the
# tables in BENCHMARKS.md. About 16 minutes at full scale on 2 cores.
#
#   scripts/bench.sh                 # full scale, 3 runs of everything
#   scripts/bench.sh --quick         # smoke scale, about 3 minutes
#   scripts/bench.sh --skip sustain,memory --runs 5
#
# It never stops the broker (others may share it).
set -euo pipefail
cd "$(dirname "$0")/.."
addr=$(scripts/kafka.sh start)
bin=$(mktemp -d)/veltrix
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/veltrix
go run ./bench/cmd/vbench --brokers "$addr" --veltrix "$bin" --root "$PWD" "$@"

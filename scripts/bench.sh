#!/usr/bin/env bash
# Runs veltrix's benchmarks side by side with a plain franz-go loop and
# Kafka's own perf tools on the real broker (and the embedded cluster),
# writes bench/results/<timestamp>.json and latest.json, and regenerates the
# tables in BENCHMARKS.md. About 30 minutes at full scale on 2 cores.
#
#   scripts/bench.sh                 # full scale, 3 runs of everything
#   scripts/bench.sh --quick         # smoke scale, about 5 minutes
#   scripts/bench.sh --skip sustain,memory --runs 5
#   scripts/bench.sh --skip calibration,consume,produce,latency,sustain,memory,hotpaths,ordering \
#       --drain 100x1000000,100x1000000c     # only the binaries, moderate backlogs
#   scripts/bench.sh ... --baseline /tmp/veltrix-before   # an earlier build too, interleaved
#   scripts/bench.sh --skip calibration,consume,produce,latency,sustain,memory,drain,produce-binary,hotpaths,ordering \
#       --steady 10000 --runs 9          # only the steady-rate runs, at 10k events/s
#   scripts/bench.sh --ordering      # only partition vs key ordering (issue 15), about 10 minutes;
#                                    # rewrites only its section of BENCHMARKS.md
#
# It never stops the broker (others may share it).
set -euo pipefail
cd "$(dirname "$0")/.."
addr=$(scripts/kafka.sh start)
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/veltrix" ./cmd/veltrix
go build -o "$bin/plainconsume" ./bench/cmd/plainconsume
go build -o "$bin/plainproduce" ./bench/cmd/plainproduce
go run ./bench/cmd/vbench --brokers "$addr" --veltrix "$bin/veltrix" \
  --plainconsume "$bin/plainconsume" --plainproduce "$bin/plainproduce" --root "$PWD" "$@"

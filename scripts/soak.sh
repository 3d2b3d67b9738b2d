#!/usr/bin/env bash
# Soaks the engine's model-based test (TestModel in pkg/processor): many
# more and longer random cases than CI runs (VELTRIX_SOAK=1: 200 cases of
# about 400 steps, roughly 15 minutes), under the race detector, on the
# embedded cluster only. It prints the seed first, so that any failure,
# even a crash that kills the test binary before rapid can print its own
# seed, replays with the same sequence of steps.
#
#   scripts/soak.sh                  # 200 cases from a random seed
#   scripts/soak.sh 1000             # 1000 cases
#   SEED=12345 scripts/soak.sh       # replay a run
#   VELTRIX_MODEL_EXCLUDE=typednil scripts/soak.sh   # see TestModel's doc
set -euo pipefail
cd "$(dirname "$0")/.."
checks=${1:-200}
seed=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
log=${SOAK_LOG:-/tmp/veltrix-soak-$seed.log}
echo "== soak: TestModel, $checks cases, seed $seed, -race; full output in $log"
echo "   replay: SEED=$seed scripts/soak.sh $checks"
status=0
VELTRIX_SOAK=1 go test -race -count=1 -timeout 0 -v -run '^TestModel$' ./pkg/processor \
  -args -rapid.checks="$checks" -rapid.seed="$seed" >"$log" 2>&1 || status=$?
grep -v '\[rapid\] draw' "$log" | grep -E '^\s*(---|FAIL|ok|PASS|panic|WARNING: DATA RACE)|INVARIANT|\[rapid\]|model:' | head -40
exit $status

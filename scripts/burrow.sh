#!/usr/bin/env bash
# scripts/burrow.sh — build and run LinkedIn's Burrow (the lag evaluator
# veltrix lag is compared with, docs/lag.md) against the local broker.
#
# Burrow is built from its public source (a git directory: BURROW_GIT, by
# default the mirror the search tool's fetch leaves under /work/.mirror),
# its Go dependencies through the Go module proxy; it keeps its state in a
# ZooKeeper, whose jars are resolved with Maven (scripts/burrow/pom.xml).
# Both are cached outside the repository ($VELTRIX_CACHE). Nothing here is
# part of the default test run.
#
# Usage: scripts/burrow.sh {fetch|start|stop|status|compare}
#   fetch    build Burrow and fetch ZooKeeper (once; cached)
#   start    start ZooKeeper and Burrow (HTTP API on BURROW_PORT); prints its URL
#   stop     stop both
#   status   print the URL if Burrow answers, else exit 1
#   compare  start, run the side-by-side measurement (go test -tags burrow
#            ./pkg/lag -run TestCompareBurrow), stop
#
# Environment (all optional):
#   BURROW_VERSION     git tag to build                  (v1.9.5)
#   BURROW_GIT         Burrow git directory              (/work/.mirror/linkedin+Burrow/repo)
#   ZOOKEEPER_VERSION  ZooKeeper version                 (3.9.3)
#   VELTRIX_CACHE      cache root                        ($HOME/.cache/veltrix)
#   BURROW_RUN_DIR     config, data, logs, pid files     (/tmp/veltrix-burrow)
#   KAFKA_BROKERS      broker Burrow reads               (127.0.0.1:19092)
#   BURROW_PORT        Burrow's HTTP port                (18000)
#   ZOOKEEPER_PORT     ZooKeeper's client port           (12181)
#   BURROW_INTERVALS   offsets per evaluation window     (10, like lag.window)
#
# Messages go to stderr; stdout carries only the URL (start, status).

set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
BURROW_VERSION="${BURROW_VERSION:-v1.9.5}"
BURROW_GIT="${BURROW_GIT:-/work/.mirror/linkedin+Burrow/repo}"
ZOOKEEPER_VERSION="${ZOOKEEPER_VERSION:-3.9.3}"
CACHE_ROOT="${VELTRIX_CACHE:-$HOME/.cache/veltrix}"
BCACHE="$CACHE_ROOT/burrow-$BURROW_VERSION"
ZCACHE="$CACHE_ROOT/zookeeper-$ZOOKEEPER_VERSION"
RUN="${BURROW_RUN_DIR:-/tmp/veltrix-burrow}"
BROKERS="${KAFKA_BROKERS:-127.0.0.1:19092}"
BPORT="${BURROW_PORT:-18000}"
ZPORT="${ZOOKEEPER_PORT:-12181}"
INTERVALS="${BURROW_INTERVALS:-10}"

log() { echo "burrow.sh: $*" >&2; }
die() { log "$*"; exit 1; }

build_burrow() {
  [[ -x "$BCACHE/burrow" ]] && return 0
  [[ -d "$BURROW_GIT" ]] || die "no Burrow source at $BURROW_GIT (set BURROW_GIT to a git directory of github.com/linkedin/Burrow)"
  mkdir -p "$BCACHE"
  local src="$BCACHE/src"
  rm -rf "$src" && mkdir -p "$src"
  log "building Burrow $BURROW_VERSION from $BURROW_GIT (first run only)"
  git --git-dir="$BURROW_GIT" archive "$BURROW_VERSION" | tar -x -C "$src"
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -o "$BCACHE/burrow.tmp" .) \
    || die "building Burrow failed (see above)"
  mv "$BCACHE/burrow.tmp" "$BCACHE/burrow"
  log "built $BCACHE/burrow"
}

# The cache is valid for the pom it was resolved from.
zk_stamp() { printf '%s %s\n' "$ZOOKEEPER_VERSION" "$(sha256sum "$SCRIPT_DIR/burrow/pom.xml" | cut -d' ' -f1)"; }

fetch_zookeeper() {
  [[ -f "$ZCACHE/.fetched" && "$(cat "$ZCACHE/.fetched")" == "$(zk_stamp)" ]] && return 0
  mkdir -p "$ZCACHE"
  log "fetching ZooKeeper $ZOOKEEPER_VERSION jars into $ZCACHE/lib (first run only)"
  rm -rf "$ZCACHE/lib.tmp"
  if ! mvn -B -q -Dstyle.color=never -f "$SCRIPT_DIR/burrow/pom.xml" \
      -Dzookeeper.version="$ZOOKEEPER_VERSION" dependency:copy-dependencies \
      -DoutputDirectory="$ZCACHE/lib.tmp" -DincludeScope=runtime >"$ZCACHE/mvn.log" 2>&1; then
    tail -n 40 "$ZCACHE/mvn.log" >&2
    die "mvn could not fetch ZooKeeper $ZOOKEEPER_VERSION (full output: $ZCACHE/mvn.log)"
  fi
  rm -rf "$ZCACHE/lib" && mv "$ZCACHE/lib.tmp" "$ZCACHE/lib"
  zk_stamp >"$ZCACHE/.fetched"
}

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_port() { # host:port timeout-seconds pidfile
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null && return 0
    alive "$3" || return 1
    sleep 0.1
  done
  return 1
}

start() {
  build_burrow
  fetch_zookeeper
  mkdir -p "$RUN/zk" "$RUN/logs"
  if ! alive "$RUN/zk.pid"; then
    cat >"$RUN/zoo.cfg" <<EOF
tickTime=500
dataDir=$RUN/zk
clientPort=$ZPORT
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok
EOF
    java -Xmx256m -cp "$ZCACHE/lib/*" org.apache.zookeeper.server.quorum.QuorumPeerMain "$RUN/zoo.cfg" \
      >"$RUN/zk.log" 2>&1 &
    echo $! >"$RUN/zk.pid"
    wait_port "127.0.0.1:$ZPORT" 60 "$RUN/zk.pid" || { tail -n 30 "$RUN/zk.log" >&2; die "ZooKeeper did not listen on $ZPORT"; }
  fi
  if ! alive "$RUN/burrow.pid"; then
    # Burrow's defaults except: its window (intervals) equals lag.window,
    # every commit is kept (min-distance 0 would drop none; Burrow's 1 s
    # keeps at most one a second), and offsets are refreshed every 2 s.
    cat >"$RUN/burrow.toml" <<EOF
[general]
pidfile="$RUN/burrow.app.pid"

[logging]
level="info"

[zookeeper]
servers=["127.0.0.1:$ZPORT"]
timeout=6
root-path="/burrow"

[client-profile.local]
client-id="burrow-veltrix-compare"
kafka-version="3.7.0"

[cluster.local]
class-name="kafka"
servers=["$BROKERS"]
client-profile="local"
topic-refresh=10
offset-refresh=2

[consumer.local]
class-name="kafka"
cluster="local"
servers=["$BROKERS"]
client-profile="local"
offsets-topic="__consumer_offsets"
start-latest=true

[httpserver.default]
address="127.0.0.1:$BPORT"

[storage.default]
class-name="inmemory"
workers=4
intervals=$INTERVALS
expire-group=604800
min-distance=1

[evaluator.default]
class-name="caching"
expire-cache=1
EOF
    (cd "$RUN" && exec "$BCACHE/burrow" --config-dir "$RUN") >"$RUN/burrow.log" 2>&1 &
    echo $! >"$RUN/burrow.pid"
    local i
    for ((i = 0; i < 300; i++)); do
      status >/dev/null 2>&1 && break
      alive "$RUN/burrow.pid" || { tail -n 30 "$RUN/burrow.log" >&2; die "Burrow exited"; }
      sleep 0.1
    done
    status >/dev/null || { tail -n 30 "$RUN/burrow.log" >&2; die "Burrow did not answer on $BPORT"; }
  fi
  echo "http://127.0.0.1:$BPORT"
}

stop() {
  local f
  for f in burrow zk; do
    if alive "$RUN/$f.pid"; then
      kill "$(cat "$RUN/$f.pid")" 2>/dev/null || true
      for _ in $(seq 50); do alive "$RUN/$f.pid" || break; sleep 0.1; done
    fi
    rm -f "$RUN/$f.pid"
  done
}

status() {
  curl -fsS "http://127.0.0.1:$BPORT/burrow/admin" >/dev/null && echo "http://127.0.0.1:$BPORT"
}

compare() {
  local url
  url="$(start)"
  trap stop EXIT
  (cd "$ROOT" && VELTRIX_TEST_BROKERS="$BROKERS" VELTRIX_BURROW_URL="$url" \
    go test -count=1 -tags burrow -timeout 20m -v ./pkg/lag -run TestCompareBurrow)
}

case "${1:-help}" in
  fetch) build_burrow; fetch_zookeeper ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  compare) compare ;;
  *) sed -n '2,30p' "$0" >&2; exit 2 ;;
esac

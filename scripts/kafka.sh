#!/usr/bin/env bash
# scripts/kafka.sh — run a real single-node Apache Kafka broker on loopback.
#
# The broker is a KRaft "combined" node (broker + controller in one JVM),
# built from the official jars resolved with Maven (scripts/kafka/pom.xml)
# and run with the machine's Java 17. No Docker, no tarball, no kcat.
#
# Usage: scripts/kafka.sh {start|stop|restart|status|fetch|classpath|tool} [...]
#   (run with no arguments or `help` for details)
#
# Environment (all optional):
#   KAFKA_VERSION          Kafka version to fetch/run            (4.4.0)
#   VELTRIX_CACHE          jar cache root                         ($HOME/.cache/veltrix)
#   KAFKA_RUN_DIR          config, data, log and pid file         (/tmp/veltrix-kafka)
#   KAFKA_HOST             listener address                       (127.0.0.1)
#   KAFKA_PORT             client (PLAINTEXT) port                (19092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port                  (19093)
#   KAFKA_START_TIMEOUT    seconds to wait for the broker         (90)
#   KAFKA_HEAP_OPTS        broker heap                            (-Xmx1G -Xms256m)
#   KAFKA_TOOL_HEAP_OPTS   heap of `tool` JVMs                    (-Xmx512m)
#   KAFKA_KEEP_DATA        1: stop keeps the data and start reuses it (0)
#   JAVA_HOME              Java to use (else `java` on PATH)
#
# Messages go to stderr; stdout carries only machine-readable results
# (the bootstrap address for start/status, the classpath for classpath).

set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ASSETS="$SCRIPT_DIR/kafka"            # pom.xml and log4j2 configs

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
CACHE="${VELTRIX_CACHE:-$HOME/.cache/veltrix}/kafka-$KAFKA_VERSION"
LIB="$CACHE/lib"
MARKER="$CACHE/.fetched"              # written only after a complete copy

RUN="${KAFKA_RUN_DIR:-/tmp/veltrix-kafka}"
DATA="$RUN/data"
CONF="$RUN/server.properties"
LOG="$RUN/broker.log"
PIDFILE="$RUN/kafka.pid"
LOCKFILE="$RUN/.lock"

HOST="${KAFKA_HOST:-127.0.0.1}"
PORT="${KAFKA_PORT:-19092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
BOOTSTRAP="$HOST:$PORT"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
# Heap options are split on whitespace into arrays.
read -ra HEAP_OPTS <<<"${KAFKA_HEAP_OPTS:--Xmx1G -Xms256m}"
read -ra TOOL_HEAP_OPTS <<<"${KAFKA_TOOL_HEAP_OPTS:--Xmx512m}"

JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  cat >&2 <<EOF
Usage: scripts/kafka.sh COMMAND [ARGS...]

Commands:
  start              fetch jars if needed, format fresh storage and start the
                     broker in the background; waits until it answers.
                     Prints the bootstrap address ($BOOTSTRAP) on stdout.
                     A no-op if the broker already answers.
  stop               stop the broker (SIGTERM, SIGKILL after 30 s) and delete
                     its data. A no-op if it is not running.
  restart            stop, then start.
  status             exit 0 and print the address if the broker answers,
                     exit 1 otherwise.
  fetch              only fetch the jars into the cache ($CACHE).
  classpath          print the classpath glob for Kafka's Java tools
                     (fetching the jars first if needed).
  tool CLASS ARGS... run a Kafka Java class with that classpath, e.g.
                     scripts/kafka.sh tool org.apache.kafka.tools.TopicCommand \\
                       --bootstrap-server $BOOTSTRAP --list
  help               show this message.

Files: run dir $RUN (server.properties, data/, broker.log, kafka.pid)
EOF
}

# ---------------------------------------------------------------------------
# Prerequisites and jar cache
# ---------------------------------------------------------------------------

# Install a Debian package (we run as root on the dev/CI machines).
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "$1 is missing and apt-get is not available"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  log "installing $* with apt-get"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2
}

# Kafka 4.x brokers need Java 17 or newer.
need_java() {
  if ! command -v "$JAVA" >/dev/null 2>&1; then
    [[ -z "${JAVA_HOME:-}" ]] || die "JAVA_HOME=$JAVA_HOME has no bin/java"
    apt_install openjdk-17-jre-headless
  fi
  local major
  major="$("$JAVA" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java\.specification\.version = //p')"
  major="${major%%.*}"
  if ! [[ "$major" =~ ^[0-9]+$ ]] || ((major < 17)); then
    die "Kafka $KAFKA_VERSION needs Java 17+, but $JAVA is version '${major:-unknown}' (set JAVA_HOME)"
  fi
}

need_mvn() {
  command -v mvn >/dev/null 2>&1 || apt_install maven
}

# Fingerprint of what the cache was built from: a changed pom (e.g. a log4j
# bump) or version invalidates it.
fetch_stamp() {
  printf '%s %s\n' "$KAFKA_VERSION" "$(sha256sum "$ASSETS/pom.xml" | cut -d' ' -f1)"
}

fetched() {
  [[ -f "$MARKER" && -d "$LIB" && "$(cat "$MARKER")" == "$(fetch_stamp)" ]]
}

# Copy Kafka and its runtime dependencies into $LIB unless a complete copy
# for the same pom/version is already there. The copy goes to a temporary
# directory that is renamed into place, then the marker is written, so an
# interrupted fetch is simply redone next time. A lock (fd 8) makes
# concurrent callers (e.g. parallel test packages) wait for one fetch.
fetch() {
  fetched && return 0
  mkdir -p "$CACHE"
  exec 8>"$CACHE/.lock"
  flock -w 900 8 || die "timed out waiting for the lock $CACHE/.lock"
  if fetched; then exec 8>&-; return 0; fi   # another caller just did it

  need_java
  need_mvn
  local tmp="$CACHE/lib.tmp"
  rm -rf "$tmp" "$MARKER"
  log "fetching Apache Kafka $KAFKA_VERSION jars into $LIB (first run only)"
  # Maven's output goes to a file and is shown only on failure (Debian's
  # mvn also prints stray ANSI escapes even with -B -q).
  local mvnlog="$CACHE/mvn.log"
  if ! mvn -B -q -Dstyle.color=never \
      -f "$ASSETS/pom.xml" \
      -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies \
      -DoutputDirectory="$tmp" -DincludeScope=runtime >"$mvnlog" 2>&1; then
    tail -n 60 "$mvnlog" >&2
    die "mvn could not fetch Kafka $KAFKA_VERSION (full output: $mvnlog)"
  fi
  [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] \
    || die "the fetched jars lack kafka_2.13-$KAFKA_VERSION.jar"
  rm -rf "$LIB"
  mv "$tmp" "$LIB"
  fetch_stamp >"$MARKER"
  log "fetched $(find "$LIB" -name '*.jar' | wc -l) jars"
  exec 8>&-
}

# Run a Kafka class with the cached classpath (logging: warnings on stderr).
run_java() {
  "$JAVA" "${TOOL_HEAP_OPTS[@]}" -cp "$LIB/*" \
    -Dlog4j2.configurationFile="$ASSETS/tools-log4j2.properties" \
    -Djava.awt.headless=true "$@"
}

# ---------------------------------------------------------------------------
# Broker process helpers
# ---------------------------------------------------------------------------

# Serialise start/stop: parallel `go test` packages may call us at once.
take_lock() {
  mkdir -p "$RUN"
  exec 9>"$LOCKFILE"
  flock -w 300 9 || die "timed out waiting for the lock $LOCKFILE"
}

# Is PID a live (not zombie) process?
alive() {
  [[ -r "/proc/$1/status" ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# Is PID a live broker JVM started with our server.properties?
is_our_broker() {
  local pid="$1"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  local cmd
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmd" == *kafka.Kafka*"$CONF"* ]]
}

# Print the broker's pid if it is running (pid file first, then a scan of
# /proc for a JVM using our server.properties in case the pid file is lost).
broker_pid() {
  local pid=""
  [[ -f "$PIDFILE" ]] && pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  if is_our_broker "$pid"; then
    echo "$pid"; return 0
  fi
  local p
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    if is_our_broker "$p"; then echo "$p"; return 0; fi
  done
  return 1
}

# Is something listening on the client port? (cheap, no JVM)
port_open() {
  (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
}

# Does the broker answer a real metadata request? Lists topics with the
# Admin client; bounded (admin.properties timeouts, plus `timeout` as a
# backstop) so a hung or foreign listener cannot stall the caller.
answers() {
  port_open || return 1
  [[ -f "$MARKER" ]] || return 1
  timeout 20 "$JAVA" -Xmx256m -cp "$LIB/*" \
    -Dlog4j2.configurationFile="$ASSETS/tools-log4j2.properties" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --list \
    --command-config "$ASSETS/admin.properties" >/dev/null 2>&1
}

write_config() {
  cat >"$CONF" <<EOF
# Generated by scripts/kafka.sh — single-node KRaft broker+controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA

# One node: every internal topic must live with replication factor 1.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
default.replication.factor=1

# Test-friendly defaults.
num.partitions=6
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
delete.topic.enable=true

# Modest resource use on a 2-core machine.
num.network.threads=2
num.io.threads=4
log.retention.hours=24
log.segment.bytes=268435456
EOF
}

# Show why a start failed: the first errors (the root cause is usually
# followed by pages of shutdown noise) and the tail of the broker log.
show_log() {
  log "first errors in $LOG:"
  grep -m 8 -E '^\[[^]]*\] (ERROR|FATAL) |^Caused by:' "$LOG" >&2 || echo "(none)" >&2
  log "last lines of $LOG:"
  tail -n 30 "$LOG" >&2 || true
}

# Wait until the broker answers, it dies, or the timeout passes.
wait_until_up() {
  local pid="$1" deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! alive "$pid"; then
      log "error: the broker (pid $pid) exited during startup"
      show_log
      rm -f "$PIDFILE"
      exit 1
    fi
    # Cheap port probe first; only then pay for a JVM-based metadata check.
    if port_open && answers; then
      return 0
    fi
    sleep 0.5
  done
  log "error: the broker (pid $pid) did not answer on $BOOTSTRAP within ${START_TIMEOUT}s"
  show_log
  log "it is left running for inspection; run 'scripts/kafka.sh stop' to clean up"
  exit 1
}

report_up() {
  local pid="$1" how="$2"
  log "$how: broker pid $pid at $BOOTSTRAP; log: $LOG"
  echo "$BOOTSTRAP"
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

cmd_start() {
  need_java
  fetch
  take_lock

  local pid
  if pid="$(broker_pid)"; then
    # Ours is running: already up, or still starting (e.g. a parallel caller).
    if answers; then report_up "$pid" "already running"; return 0; fi
    log "broker pid $pid is running but not answering yet; waiting"
    wait_until_up "$pid"
    report_up "$pid" "running"
    return 0
  fi
  if port_open; then
    if answers; then
      log "a Kafka broker not started by this script already answers on $BOOTSTRAP; using it"
      echo "$BOOTSTRAP"
      return 0
    fi
    die "port $PORT on $HOST is in use by something that is not a Kafka broker"
  fi

  # Fresh, ephemeral storage on every start, unless KAFKA_KEEP_DATA=1 and a
  # formatted log dir is there (the broker-outage fault scenario restarts the
  # same broker with its data).
  local started=$SECONDS cluster_id
  rm -f "$PIDFILE"
  write_config
  if [[ "${KAFKA_KEEP_DATA:-}" == 1 && -f "$DATA/meta.properties" ]]; then
    log "reusing the data in $DATA (KAFKA_KEEP_DATA=1)"
  else
    rm -rf "$DATA"
    mkdir -p "$DATA"
    cluster_id="$(run_java kafka.tools.StorageTool random-uuid)"
    run_java kafka.tools.StorageTool format \
      --cluster-id "$cluster_id" --config "$CONF" >"$RUN/format.log" 2>&1 \
      || { cat "$RUN/format.log" >&2; die "formatting $DATA failed"; }
  fi

  # Start detached (own session, stdin closed) so the broker outlives the
  # calling shell or test process. Fds 8 and 9 (our locks) are closed so the
  # broker does not hold a lock for its whole life. The inner shell records
  # its own pid and then execs java, so the pid file holds the JVM's pid.
  : >"$LOG"
  # shellcheck disable=SC2016  # $$ is expanded by the inner shell
  setsid nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDFILE" \
    "$JAVA" "${HEAP_OPTS[@]}" \
    -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$ASSETS/log4j2.properties" \
    -Dkafka.logs.dir="$RUN" \
    -cp "$LIB/*" kafka.Kafka "$CONF" \
    </dev/null >>"$LOG" 2>&1 8>&- 9>&- &

  # Wait (briefly) for the pid file written by the inner shell.
  local _
  for _ in $(seq 1 50); do
    [[ -s "$PIDFILE" ]] && break
    sleep 0.1
  done
  [[ -s "$PIDFILE" ]] || die "broker process did not start (no pid file $PIDFILE)"
  pid="$(cat "$PIDFILE")"

  wait_until_up "$pid"
  report_up "$pid" "started in $((SECONDS - started))s"
}

cmd_stop() {
  take_lock
  local pid
  if pid="$(broker_pid)"; then
    log "stopping broker pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while alive "$pid" && ((SECONDS < deadline)); do
      sleep 0.2
    done
    if alive "$pid"; then
      log "broker did not exit within 30s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 10))
      while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
      if alive "$pid"; then die "broker pid $pid survived SIGKILL"; fi
    fi
    log "stopped"
  else
    log "not running"
  fi
  rm -f "$PIDFILE"
  [[ "${KAFKA_KEEP_DATA:-}" == 1 ]] || rm -rf "$DATA"
}

cmd_status() {
  if answers; then
    local pid
    if pid="$(broker_pid)"; then
      log "running: broker pid $pid at $BOOTSTRAP; log: $LOG"
    else
      log "a broker not started by this script answers on $BOOTSTRAP"
    fi
    echo "$BOOTSTRAP"
    return 0
  fi
  if broker_pid >/dev/null; then
    log "broker process is running but does not answer on $BOOTSTRAP"
  else
    log "not running"
  fi
  return 1
}

main() {
  local cmd="${1:-help}"
  if [[ $# -gt 0 ]]; then shift; fi
  case "$cmd" in
    start)     cmd_start ;;
    stop)      cmd_stop ;;
    restart)   cmd_stop; cmd_start ;;
    status)    cmd_status ;;
    fetch)     fetch; log "jars ready in $LIB" ;;
    classpath) fetch; echo "$LIB/*" ;;
    tool)
      [[ $# -ge 1 ]] || { usage; exit 2; }
      fetch
      # exec: the tool's exit code and signals go straight to the caller.
      exec "$JAVA" "${TOOL_HEAP_OPTS[@]}" -cp "$LIB/*" \
        -Dlog4j2.configurationFile="$ASSETS/tools-log4j2.properties" \
        -Djava.awt.headless=true "$@"
      ;;
    help|-h|--help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"

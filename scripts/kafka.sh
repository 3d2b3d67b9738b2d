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
# Cluster mode (start-cluster, stop-cluster, restart-cluster, status-cluster,
# node N ACTION) runs three more KRaft nodes, each a combined broker and
# controller, on 127.0.0.1:19292-19294 (controllers 19295-19297), for the
# broker-failure scenarios: internal topics at replication factor 3,
# min.insync.replicas 2, and per-node kill/stop/cont/restart to aim a fault
# at one broker. See `help` for the measured start time and memory.
#
# Secure mode (KAFKA_SECURE=1, or the commands start-secure, stop-secure,
# restart-secure, status-secure) runs a second, separate broker for the
# security tests: SASL_SSL (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER with the
# unsecured JWT validator) and mutual TLS, with a CA and certificates made
# by keytool at every start. It has its own run dir and ports, so it runs
# beside the plaintext broker. Test-only: fixed, published passwords.
#
# Environment (all optional):
#   KAFKA_VERSION          Kafka version to fetch/run            (4.4.0)
#   VELTRIX_CACHE          jar cache root                         ($HOME/.cache/veltrix)
#   KAFKA_RUN_DIR          config, data, log and pid file         (/tmp/veltrix-kafka)
#   KAFKA_HOST             listener address                       (127.0.0.1)
#   KAFKA_PORT             client (PLAINTEXT) port                (19092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port                  (19093)
#   KAFKA_START_TIMEOUT    seconds to wait for the broker         (90)
#   KAFKA_HEAP_OPTS        broker heap        (-Xmx1G -Xms256m -XX:G1HeapRegionSize=16M)
#   KAFKA_TOOL_HEAP_OPTS   heap of `tool` JVMs                    (-Xmx512m)
#   KAFKA_KEEP_DATA        1: stop keeps the data and start reuses it (0)
#   JAVA_HOME              Java to use (else `java` on PATH)
#
# Secure mode only (the plaintext ones above do not apply to it):
#   KAFKA_SECURE                  1: act on the secure broker          (0)
#   KAFKA_SECURE_RUN_DIR          its run dir; certificates in certs/  (/tmp/veltrix-kafka-secure)
#   KAFKA_SECURE_PORT             SASL_SSL port                        (19192)
#   KAFKA_SECURE_CONTROLLER_PORT  its KRaft controller port            (19193)
#   KAFKA_MTLS_PORT               SSL port requiring a client cert     (19194)
#   KAFKA_SASL_USER               the PLAIN and SCRAM user             (veltrix)
#   KAFKA_SASL_PASSWORD           its password (test-only secret)      (veltrix-test-secret)
#
# Cluster mode only:
#   KAFKA_CLUSTER_RUN_DIR         node N in <dir>/nodeN                (/tmp/veltrix-kafka-cluster)
#   KAFKA_CLUSTER_PORT            node 1's client port; node N's is this+N-1,
#                                 its controller port this+N+2         (19292)
#   KAFKA_CLUSTER_HEAP_OPTS       each node's heap                     (-Xmx640m -Xms256m)
#   KAFKA_CLUSTER_START_TIMEOUT   seconds to wait for nodes            (180)
#   (KAFKA_KEEP_DATA applies to start-cluster and stop-cluster too)
#
# Messages go to stderr; stdout carries only machine-readable results
# (the bootstrap address for start/status — in secure mode one line of
# key=value facts, see `help` —, the classpath for classpath).

set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ASSETS="$SCRIPT_DIR/kafka"            # pom.xml and log4j2 configs

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
CACHE="${VELTRIX_CACHE:-$HOME/.cache/veltrix}/kafka-$KAFKA_VERSION"
LIB="$CACHE/lib"
MARKER="$CACHE/.fetched"              # written only after a complete copy

# `start-secure` and friends are `start` etc. with KAFKA_SECURE=1.
if [[ "${1:-}" == *-secure ]]; then
  KAFKA_SECURE=1
  set -- "${1%-secure}" "${@:2}"
fi
SECURE="${KAFKA_SECURE:-0}"
[[ "$SECURE" == 0 || "$SECURE" == 1 ]] || { echo "kafka.sh: KAFKA_SECURE must be 0 or 1, not '$SECURE'" >&2; exit 2; }

if [[ "$SECURE" == 1 ]]; then
  RUN="${KAFKA_SECURE_RUN_DIR:-/tmp/veltrix-kafka-secure}"
else
  RUN="${KAFKA_RUN_DIR:-/tmp/veltrix-kafka}"
fi
DATA="$RUN/data"
CONF="$RUN/server.properties"
LOG="$RUN/broker.log"
PIDFILE="$RUN/kafka.pid"
LOCKFILE="$RUN/.lock"

HOST="${KAFKA_HOST:-127.0.0.1}"
if [[ "$SECURE" == 1 ]]; then
  PORT="${KAFKA_SECURE_PORT:-19192}"
  CONTROLLER_PORT="${KAFKA_SECURE_CONTROLLER_PORT:-19193}"
else
  PORT="${KAFKA_PORT:-19092}"
  CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
fi
BOOTSTRAP="$HOST:$PORT"
# Secure mode: the mutual-TLS listener, the certificates, the test users.
MTLS_PORT="${KAFKA_MTLS_PORT:-19194}"
MTLS_BOOTSTRAP="$HOST:$MTLS_PORT"
CERTS="$RUN/certs"
CLIENT_PROPS="$RUN/client.properties"   # the liveness check's SASL_SSL login
SASL_USER="${KAFKA_SASL_USER:-veltrix}"
SASL_PASSWORD="${KAFKA_SASL_PASSWORD:-veltrix-test-secret}"
STOREPASS="veltrix-test-store"          # every PKCS12 keystore and truststore
MECHANISMS="PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
# Heap options are split on whitespace into arrays.
# G1's 16 MiB regions (Kafka's documented production setting): with the 1 MiB
# regions of a 1 GiB heap every 1 MiB produce batch is a humongous allocation,
# and back-to-back gigabytes of 1 KiB records made the broker 1.2-1.4x slower
# at 1.4-1.7x its CPU per record (BENCHMARKS.md, 2026-12-03).
read -ra HEAP_OPTS <<<"${KAFKA_HEAP_OPTS:--Xmx1G -Xms256m -XX:G1HeapRegionSize=16M}"
read -ra TOOL_HEAP_OPTS <<<"${KAFKA_TOOL_HEAP_OPTS:--Xmx512m}"
# Cluster mode: three nodes, node N's client port CLUSTER_PORT+N-1 and its
# controller port CLUSTER_PORT+N+2 (19292-19294 and 19295-19297).
CLUSTER_RUN="${KAFKA_CLUSTER_RUN_DIR:-/tmp/veltrix-kafka-cluster}"
CLUSTER_PORT="${KAFKA_CLUSTER_PORT:-19292}"
CLUSTER_HEAP_OPTS="${KAFKA_CLUSTER_HEAP_OPTS:--Xmx640m -Xms256m}"
CLUSTER_START_TIMEOUT="${KAFKA_CLUSTER_START_TIMEOUT:-180}"

JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
KEYTOOL="${JAVA_HOME:+$JAVA_HOME/bin/}keytool"

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

Secure mode: KAFKA_SECURE=1 scripts/kafka.sh start (or start-secure; also
stop-secure, restart-secure, status-secure) runs a second broker beside the
plaintext one, in its own run dir, with
  SASL_SSL  on \$KAFKA_SECURE_PORT (19192): PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
            (user \$KAFKA_SASL_USER, password \$KAFKA_SASL_PASSWORD, created
            when the storage is formatted) and OAUTHBEARER (the unsecured
            validator: any unsigned alg "none" JWT with sub and exp is let in)
  SSL       on \$KAFKA_MTLS_PORT (19194), requiring a client certificate
  PLAINTEXT controller on \$KAFKA_SECURE_CONTROLLER_PORT (19193), loopback only
A CA, the broker's certificate (SAN ip:127.0.0.1,dns:localhost) and a client
certificate are made with keytool at every start, in <run dir>/certs:
ca.pem, client.pem, client-key.pem (PEM) and truststore.p12, client.p12
(PKCS12, password $STOREPASS). start and status print one line:
  sasl_ssl=HOST:PORT;mtls=HOST:PORT;certs=DIR;mechanisms=...;user=U;password=P
For Kafka's tools: --command-config <run dir>/client.properties (SASL_SSL, PLAIN).
Test-only: the passwords are fixed and printed; never use this setup elsewhere.

Files: run dir $RUN (server.properties, data/, broker.log, kafka.pid)

Cluster mode: three KRaft nodes, each a combined broker+controller with its
own node.id (1, 2, 3), run dir \$KAFKA_CLUSTER_RUN_DIR/nodeN ($CLUSTER_RUN/nodeN)
and data dir, all formatted with one cluster id and one
controller.quorum.voters line; node N's client port is $CLUSTER_PORT+N-1 and its
controller port $CLUSTER_PORT+N+2. Heap $CLUSTER_HEAP_OPTS each. Internal topics at
replication factor 3 (transaction state min ISR 2), default.replication.factor 3,
min.insync.replicas 2, no unclean leader election, leader balance checked every 30 s.
  start-cluster      format fresh storage for the three (unless KAFKA_KEEP_DATA=1)
                     and start them; waits until all three brokers are registered
                     and unfenced. Prints the three client addresses on stdout:
                       $(cluster_bootstrap)
                     A running cluster is reused: a stopped node is continued and
                     a dead one started again on its data.
  stop-cluster       SIGTERM all three (SIGKILL after 30 s), delete their data.
  restart-cluster    stop-cluster, then start-cluster.
  status-cluster     print the addresses and exit 0 if three brokers are unfenced;
                     exit 1 otherwise. Each node's state goes to stderr.
  node N ACTION      aim a fault at node N (1-3), which is broker N:
                       kill     SIGKILL (the data stays)
                       stop     SIGSTOP: alive but hung;  cont  SIGCONT
                       term     SIGTERM, a controlled shutdown (leaders handed over)
                       start    start it on its data; returns once it serves clients
                       restart  term, then start
                       pid      print its pid;  status  its state, exit 0 if up
Readiness is asked fresh every time: Kafka's ClusterTool list-endpoints (a
DescribeCluster request, no client cache) must list the broker unfenced, and a
restarted node must answer it itself (after a SIGKILL the controller keeps the
dead registration unfenced for broker.session.timeout.ms, 9 s).
Measured on 2 shared cores (load 7-12): start-cluster 16-19 s from nothing (6 s of
it formatting); node N start after a kill 12-30 s, restart 6-38 s; RSS 300-320 MiB
per node just started, 370-500 MiB after the failure scenarios (about 1.1-1.4 GB
for the three).
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
  local props="$ASSETS/admin.properties"
  if [[ "$SECURE" == 1 ]]; then
    props="$CLIENT_PROPS"
    [[ -f "$props" ]] || return 1
  fi
  timeout 20 "$JAVA" -Xmx256m -cp "$LIB/*" \
    -Dlog4j2.configurationFile="$ASSETS/tools-log4j2.properties" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --list \
    --command-config "$props" >/dev/null 2>&1
}

# The listeners: plaintext, or in secure mode SASL_SSL for clients and SSL
# with a required client certificate (MTLS), which also carries the
# broker's own inter-broker traffic (its keystore certificate is signed by
# the CA, so no plaintext data port is needed).
listener_config() {
  if [[ "$SECURE" != 1 ]]; then
    cat <<EOF
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
EOF
    return
  fi
  cat <<EOF
listeners=SASL_SSL://$HOST:$PORT,MTLS://$MTLS_BOOTSTRAP,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=SASL_SSL://$HOST:$PORT,MTLS://$MTLS_BOOTSTRAP
controller.listener.names=CONTROLLER
inter.broker.listener.name=MTLS
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL

ssl.keystore.type=PKCS12
ssl.keystore.location=$CERTS/broker.p12
ssl.keystore.password=$STOREPASS
ssl.key.password=$STOREPASS
ssl.truststore.type=PKCS12
ssl.truststore.location=$CERTS/truststore.p12
ssl.truststore.password=$STOREPASS
listener.name.mtls.ssl.client.auth=required

# Test-only secrets. PLAIN users live in the JAAS line; SCRAM users in the
# metadata log (added by kafka-storage format --add-scram); OAUTHBEARER uses
# the default unsecured validator, which trusts any unsigned JWT.
sasl.enabled.mechanisms=$MECHANISMS
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$SASL_USER" password="$SASL_PASSWORD" user_$SASL_USER="$SASL_PASSWORD";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="$SASL_USER";
EOF
}

# The liveness check's client settings in secure mode: SASL_SSL with PLAIN,
# trusting the CA, plus admin.properties' fail-fast timeouts.
write_client_properties() {
  {
    cat "$ASSETS/admin.properties"
    cat <<EOF
security.protocol=SASL_SSL
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$SASL_USER" password="$SASL_PASSWORD";
ssl.truststore.type=PKCS12
ssl.truststore.location=$CERTS/truststore.p12
ssl.truststore.password=$STOREPASS
EOF
  } >"$CLIENT_PROPS"
}

write_config() {
  cat >"$CONF" <<EOF
# Generated by scripts/kafka.sh — single-node KRaft broker+controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
$(listener_config)
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

# Make the secure broker's certificates in $CERTS with the JDK's keytool: a
# CA (basic constraints CA:true), the broker's key pair signed by it with
# SAN ip:127.0.0.1,dns:localhost, and a client key pair for mutual TLS,
# each in a PKCS12 keystore with the CA chain; the CA in a truststore.
# keytool cannot export a private key, so openssl turns the client's PKCS12
# into PEM files a Go client loads (ca.pem, client.pem, client-key.pem).
# EC P-256 keys: generated in milliseconds, unlike RSA.
make_certs() {
  command -v openssl >/dev/null 2>&1 || apt_install openssl
  rm -rf "$CERTS"
  mkdir -p "$CERTS"
  local kt=("$KEYTOOL" -J-Xmx128m -J-XX:TieredStopAtLevel=1 -storetype PKCS12 -storepass "$STOREPASS")
  local key=(-keyalg EC -groupname secp256r1 -validity 30)
  # Every step ends in `|| exit 1`: set -e does not apply inside a subshell
  # whose status is tested.
  (
    cd "$CERTS" || exit 1
    "${kt[@]}" -genkeypair -alias ca -dname "CN=veltrix test CA" "${key[@]}" \
      -ext bc:c -keystore ca.p12 || exit 1
    "${kt[@]}" -exportcert -rfc -alias ca -keystore ca.p12 -file ca.pem || exit 1
    "${kt[@]}" -importcert -noprompt -alias ca -file ca.pem -keystore truststore.p12 || exit 1
    # A key pair for name, signed by the CA with the extensions given. The
    # broker's is also a client certificate: it connects to its own MTLS
    # listener as the inter-broker listener.
    sign() {
      local name="$1" dname="$2"; shift 2
      "${kt[@]}" -genkeypair -alias "$name" -dname "$dname" "${key[@]}" -keystore "$name.p12" || return 1
      "${kt[@]}" -certreq -alias "$name" -keystore "$name.p12" -file "$name.csr" || return 1
      "${kt[@]}" -gencert -rfc -alias ca -keystore ca.p12 -validity 30 \
        -infile "$name.csr" -outfile "$name.pem" "$@" || return 1
      "${kt[@]}" -importcert -noprompt -alias ca -file ca.pem -keystore "$name.p12" || return 1
      "${kt[@]}" -importcert -alias "$name" -file "$name.pem" -keystore "$name.p12" || return 1
    }
    # The two chains in parallel: each keytool run is a JVM start.
    sign broker "CN=localhost" -ext san=ip:127.0.0.1,dns:localhost -ext eku=serverAuth,clientAuth &
    b=$!
    sign client "CN=$SASL_USER" -ext eku=clientAuth || exit 1
    wait "$b" || exit 1
    openssl pkcs12 -in client.p12 -passin "pass:$STOREPASS" -nocerts -nodes \
      | openssl pkey -out client-key.pem || exit 1
    rm -f ./*.csr
  ) >"$RUN/certs.log" 2>&1 || { cat "$RUN/certs.log" >&2; die "making the certificates in $CERTS failed"; }
  [[ -s "$CERTS/client-key.pem" ]] || die "no client key in $CERTS/client-key.pem (see $RUN/certs.log)"
}

# The secure broker's facts for tests, on one line (scripts/test.sh puts
# it in VELTRIX_TEST_SECURE_BROKERS; internal/kafkatest parses it).
secure_facts() {
  echo "sasl_ssl=$BOOTSTRAP;mtls=$MTLS_BOOTSTRAP;certs=$CERTS;mechanisms=$MECHANISMS;user=$SASL_USER;password=$SASL_PASSWORD"
}

# What start and status print on stdout.
print_result() {
  if [[ "$SECURE" == 1 ]]; then secure_facts; else echo "$BOOTSTRAP"; fi
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
  print_result
}

# Start the broker of $CONF in the background and print its pid. Detached
# (own session, stdin closed) so the broker outlives the calling shell or
# test process. Fds 8 and 9 (our locks) are closed so the broker does not
# hold a lock for its whole life. The inner shell records its own pid and
# then execs java, so the pid file holds the JVM's pid.
launch() {
  rm -f "$PIDFILE"
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
  cat "$PIDFILE"
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
      print_result
      return 0
    fi
    die "port $PORT on $HOST is in use by something that is not a Kafka broker"
  fi

  # Fresh, ephemeral storage on every start, unless KAFKA_KEEP_DATA=1 and a
  # formatted log dir is there (the broker-outage fault scenario restarts the
  # same broker with its data).
  local started=$SECONDS cluster_id
  rm -f "$PIDFILE"
  local scram=()
  if [[ "$SECURE" == 1 ]]; then
    make_certs
    write_client_properties
    log "certificates made in $((SECONDS - started))s in $CERTS"
    # SCRAM credentials can only be added at format time or by a running
    # broker; format time needs no extra JVM.
    scram=(--add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$SASL_PASSWORD]"
      --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$SASL_PASSWORD]")
  fi
  write_config
  if [[ "${KAFKA_KEEP_DATA:-}" == 1 && -f "$DATA/meta.properties" ]]; then
    log "reusing the data in $DATA (KAFKA_KEEP_DATA=1)"
  else
    rm -rf "$DATA"
    mkdir -p "$DATA"
    cluster_id="$(run_java kafka.tools.StorageTool random-uuid)"
    run_java kafka.tools.StorageTool format \
      --cluster-id "$cluster_id" --config "$CONF" "${scram[@]}" >"$RUN/format.log" 2>&1 \
      || { cat "$RUN/format.log" >&2; die "formatting $DATA failed"; }
  fi

  pid="$(launch)"
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
    print_result
    return 0
  fi
  if broker_pid >/dev/null; then
    log "broker process is running but does not answer on $BOOTSTRAP"
  else
    log "not running"
  fi
  return 1
}

# ---------------------------------------------------------------------------
# Cluster mode: three KRaft nodes
# ---------------------------------------------------------------------------

# Each node is a combined broker+controller with its own node.id (1, 2, 3),
# run dir and data dir; all three share one cluster id and one
# controller.quorum.voters line. The variables below describe node $NODE
# once node_vars has set them; the single-broker globals (RUN, CONF, LOG,
# PIDFILE, PORT, BOOTSTRAP) are reused for it, so the process helpers above
# (launch, broker_pid, alive, port_open) serve both modes.
CLUSTER_NODES=(1 2 3)

# node_vars N points the broker globals at node N.
node_vars() {
  NODE="$1"
  RUN="$CLUSTER_RUN/node$NODE"
  DATA="$RUN/data"
  CONF="$RUN/server.properties"
  LOG="$RUN/broker.log"
  PIDFILE="$RUN/kafka.pid"
  PORT=$((CLUSTER_PORT + NODE - 1))
  CONTROLLER_PORT=$((CLUSTER_PORT + 3 + NODE - 1))
  BOOTSTRAP="$HOST:$PORT"
}

# The three client addresses, comma-separated (what status-cluster prints).
cluster_bootstrap() {
  local n out=""
  for n in "${CLUSTER_NODES[@]}"; do
    out+="${out:+,}$HOST:$((CLUSTER_PORT + n - 1))"
  done
  echo "$out"
}

cluster_voters() {
  local n out=""
  for n in "${CLUSTER_NODES[@]}"; do
    out+="${out:+,}$n@$HOST:$((CLUSTER_PORT + 3 + n - 1))"
  done
  echo "$out"
}

# Serialise cluster starts and stops (fd 9, like take_lock).
take_cluster_lock() {
  mkdir -p "$CLUSTER_RUN"
  exec 9>"$CLUSTER_RUN/.lock"
  flock -w 300 9 || die "timed out waiting for the lock $CLUSTER_RUN/.lock"
}

write_cluster_config() {
  cat >"$CONF" <<EOC
# Generated by scripts/kafka.sh — node $NODE of a three-node KRaft cluster
# (each node a combined broker+controller).
process.roles=broker,controller
node.id=$NODE
controller.quorum.voters=$(cluster_voters)
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DATA

# Three replicas of everything, two of which must acknowledge a write.
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
# Fewer internal partitions than the default 50: 150 replicas of each
# internal topic on one 2-core machine slow every start and failover.
offsets.topic.num.partitions=12
transaction.state.log.num.partitions=12

# A restarted node gets its preferred leaderships back after at most 30 s
# (the default check runs every 300 s, longer than a test).
leader.imbalance.check.interval.seconds=30

# Test-friendly defaults.
num.partitions=6
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
delete.topic.enable=true

# Modest resource use: three JVMs share a 2-core machine.
num.network.threads=2
num.io.threads=2
num.replica.fetchers=1
background.threads=4
log.retention.hours=24
log.segment.bytes=268435456
EOC
}

# The brokers the cluster lists as registered and unfenced, one node id a
# line. A fresh DescribeCluster through Kafka's Admin client (ClusterTool):
# it asks a broker every time, never a cache. bootstrap defaults to all
# three nodes; bounded like `answers`.
unfenced_brokers() {
  local bootstrap="${1:-$(cluster_bootstrap)}"
  [[ -f "$MARKER" ]] || return 1
  timeout 20 "$JAVA" -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$LIB/*" \
    -Dlog4j2.configurationFile="$ASSETS/tools-log4j2.properties" \
    org.apache.kafka.tools.ClusterTool list-endpoints --bootstrap-server "$bootstrap" \
    --command-config "$ASSETS/admin.properties" 2>/dev/null \
    | awk '$5 == "unfenced" && $6 == "broker" { print $1 }'
}

# Is node N up: its client port open, answering a metadata request itself
# (a KRaft broker serves clients only once the controller unfenced it), and
# listed unfenced? After a SIGKILL the controller keeps the old
# registration unfenced for broker.session.timeout.ms (9 s), so a listing
# alone could describe the dead process; the request to the node itself
# cannot.
node_up() {
  local n="$1"
  (exec 3<>"/dev/tcp/$HOST/$((CLUSTER_PORT + n - 1))") 2>/dev/null || return 1
  unfenced_brokers "$HOST:$((CLUSTER_PORT + n - 1))" | grep -qx "$n"
}

# Are all three nodes registered and unfenced?
cluster_up() {
  local n
  for n in "${CLUSTER_NODES[@]}"; do
    (exec 3<>"/dev/tcp/$HOST/$((CLUSTER_PORT + n - 1))") 2>/dev/null || return 1
  done
  [[ "$(unfenced_brokers | sort | tr '\n' ' ')" == "1 2 3 " ]]
}

# Wait until `check` succeeds, failing early when a node we started died.
# pids: "node:pid" pairs to watch.
wait_cluster() {
  local what="$1" check="$2"; shift 2
  local deadline=$((SECONDS + CLUSTER_START_TIMEOUT)) np
  while ((SECONDS < deadline)); do
    for np in "$@"; do
      if ! alive "${np#*:}"; then
        node_vars "${np%%:*}"
        log "error: node ${np%%:*} (pid ${np#*:}) exited during startup"
        show_log
        exit 1
      fi
    done
    if $check; then return 0; fi
    sleep 1
  done
  log "error: $what not up within ${CLUSTER_START_TIMEOUT}s"
  for np in "$@"; do node_vars "${np%%:*}"; show_log; done
  log "the nodes are left running for inspection; run 'scripts/kafka.sh stop-cluster' to clean up"
  exit 1
}

# The state of node N's process: running, stopped (SIGSTOP), or down.
node_state() {
  node_vars "$1"
  local pid
  if ! pid="$(broker_pid)"; then echo "down"; return; fi
  if grep -q '^State:[[:space:]]*T' "/proc/$pid/status" 2>/dev/null; then
    echo "stopped pid $pid"
  else
    echo "running pid $pid"
  fi
}

# Stop node N's JVM (SIGTERM: a controlled shutdown that hands its
# leaderships over; SIGKILL after 30 s), keeping its data. A SIGSTOPped
# node is continued first, or it could not act on the SIGTERM.
term_node() {
  node_vars "$1"
  local pid
  pid="$(broker_pid)" || { log "node $NODE is not running"; return 0; }
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  if alive "$pid"; then
    log "node $NODE did not exit within 30s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.1; done
  fi
  rm -f "$PIDFILE"
  log "node $NODE (pid $pid) stopped"
}

# Start node N on its (formatted) data and print its pid.
launch_node() {
  node_vars "$1"
  [[ -f "$DATA/meta.properties" ]] || die "node $NODE has no formatted data in $DATA; run start-cluster"
  write_cluster_config
  read -ra HEAP_OPTS <<<"$CLUSTER_HEAP_OPTS"
  launch
}

cmd_start_cluster() {
  need_java
  fetch
  take_cluster_lock
  local started=$SECONDS n pid running=() missing=()
  for n in "${CLUSTER_NODES[@]}"; do
    node_vars "$n"
    if pid="$(broker_pid)"; then running+=("$n:$pid"); else missing+=("$n"); fi
  done
  if ((${#missing[@]} == 0)) && cluster_up; then
    log "already running: $(cluster_bootstrap)"
    cluster_bootstrap
    return 0
  fi
  if ((${#running[@]} > 0)); then
    # A partial cluster (a node killed or stopped by a test, or a parallel
    # start): continue the stopped, start what is missing on its data, and
    # wait for all three.
    local pids=("${running[@]}") np
    for np in "${running[@]}"; do kill -CONT "${np#*:}" 2>/dev/null || true; done
    for n in "${missing[@]}"; do
      pid="$(launch_node "$n")"
      pids+=("$n:$pid")
      log "node $n started again on its data (pid $pid)"
    done
    wait_cluster "the cluster" cluster_up "${pids[@]}"
    log "running: $(cluster_bootstrap)"
    cluster_bootstrap
    return 0
  fi
  for n in "${CLUSTER_NODES[@]}"; do
    node_vars "$n"
    if port_open || (exec 3<>"/dev/tcp/$HOST/$CONTROLLER_PORT") 2>/dev/null; then
      die "port $PORT or $CONTROLLER_PORT on $HOST is in use by something this script did not start (set KAFKA_CLUSTER_PORT)"
    fi
  done

  # Fresh storage, one cluster id for all three, formatted in parallel (a
  # JVM start each), unless KAFKA_KEEP_DATA=1 and every node is formatted.
  local keep=1
  for n in "${CLUSTER_NODES[@]}"; do
    node_vars "$n"
    [[ "${KAFKA_KEEP_DATA:-}" == 1 && -f "$DATA/meta.properties" ]] || keep=0
  done
  if ((keep)); then
    log "reusing the data in $CLUSTER_RUN/node*/data (KAFKA_KEEP_DATA=1)"
  else
    local cluster_id fpids=()
    cluster_id="$(run_java kafka.tools.StorageTool random-uuid)"
    echo "$cluster_id" >"$CLUSTER_RUN/cluster.id"
    for n in "${CLUSTER_NODES[@]}"; do
      node_vars "$n"
      rm -rf "$DATA"
      mkdir -p "$DATA"
      write_cluster_config
      run_java kafka.tools.StorageTool format --cluster-id "$cluster_id" --config "$CONF" \
        >"$RUN/format.log" 2>&1 &
      fpids+=("$!")
    done
    for n in "${CLUSTER_NODES[@]}"; do
      node_vars "$n"
      wait "${fpids[$((n - 1))]}" || { cat "$RUN/format.log" >&2; die "formatting node $n's $DATA failed"; }
    done
    log "formatted three nodes with cluster id $cluster_id in $((SECONDS - started))s"
  fi
  local pids=()
  for n in "${CLUSTER_NODES[@]}"; do
    pid="$(launch_node "$n")"
    pids+=("$n:$pid")
  done
  wait_cluster "the cluster" cluster_up "${pids[@]}"
  log "started in $((SECONDS - started))s: nodes ${pids[*]} (node:pid); logs: $CLUSTER_RUN/node*/broker.log"
  cluster_bootstrap
}

cmd_stop_cluster() {
  take_cluster_lock
  local n pids=()
  # SIGTERM to all three at once: one at a time, each would wait for the
  # others to take over its leaderships.
  for n in "${CLUSTER_NODES[@]}"; do
    term_node "$n" &
    pids+=("$!")
  done
  for n in "${pids[@]}"; do wait "$n" || true; done
  if [[ "${KAFKA_KEEP_DATA:-}" != 1 ]]; then
    for n in "${CLUSTER_NODES[@]}"; do rm -rf "$CLUSTER_RUN/node$n/data"; done
  fi
}

cmd_status_cluster() {
  local n
  for n in "${CLUSTER_NODES[@]}"; do log "node $n: $(node_state "$n")"; done
  if cluster_up; then
    cluster_bootstrap
    return 0
  fi
  log "the cluster does not have three unfenced brokers at $(cluster_bootstrap)"
  return 1
}

# scripts/kafka.sh node N ACTION — aim a fault at one node.
cmd_node() {
  local n="${1:-}" action="${2:-}"
  [[ "$n" =~ ^[123]$ && -n "$action" ]] || { usage; exit 2; }
  node_vars "$n"
  local pid
  case "$action" in
    kill|stop|cont)
      pid="$(broker_pid)" || die "node $n is not running"
      local sig="${action^^}"
      kill -"$sig" "$pid"
      if [[ "$action" == kill ]]; then
        while alive "$pid"; do sleep 0.05; done
        rm -f "$PIDFILE"
      fi
      log "node $n (pid $pid): SIG$sig"
      ;;
    term)
      term_node "$n"
      ;;
    start|restart)
      # No need_java (a JVM start): start-cluster checked Java already.
      fetch
      take_cluster_lock
      [[ "$action" == start ]] || term_node "$n"
      node_vars "$n"
      if pid="$(broker_pid)"; then
        log "node $n is already running (pid $pid)"
      else
        local started=$SECONDS
        pid="$(launch_node "$n")"
        # shellcheck disable=SC2317  # called through wait_cluster
        this_node_up() { node_up "$n"; }
        wait_cluster "node $n" this_node_up "$n:$pid"
        log "node $n (pid $pid) up in $((SECONDS - started))s at $BOOTSTRAP"
      fi
      ;;
    pid)
      broker_pid || die "node $n is not running"
      ;;
    status)
      log "node $n: $(node_state "$n")"
      node_up "$n" || { log "node $n is not up"; exit 1; }
      echo "$HOST:$((CLUSTER_PORT + n - 1))"
      ;;
    *) usage; exit 2 ;;
  esac
}

main() {
  local cmd="${1:-help}"
  if [[ $# -gt 0 ]]; then shift; fi
  case "$cmd" in
    start)     cmd_start ;;
    stop)      cmd_stop ;;
    restart)   cmd_stop; cmd_start ;;
    start-cluster)   cmd_start_cluster ;;
    stop-cluster)    cmd_stop_cluster ;;
    restart-cluster) cmd_stop_cluster; cmd_start_cluster ;;
    status-cluster)  cmd_status_cluster ;;
    node)            cmd_node "$@" ;;
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

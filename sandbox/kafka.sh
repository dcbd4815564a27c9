#!/usr/bin/env bash
# The local Apache Kafka broker (one KRaft node, broker + controller) for tests, CI, the demo
# and benchmarks (SPEC section 9). Real Kafka from Maven Central's jars; no Docker.
#
#   sandbox/kafka.sh fetch              jars into .cache/kafka/libs (Maven runs only when needed)
#   sandbox/kafka.sh start              start (or find running) and wait until it answers;
#                                       prints the bootstrap address on stdout
#   sandbox/kafka.sh stop               TERM, up to 30 s, then KILL; keeps the data
#   sandbox/kafka.sh restart            stop + start, keeping the data
#   sandbox/kafka.sh status             exit 0 when running and answering
#   sandbox/kafka.sh reset              stop and wipe the state dir
#   sandbox/kafka.sh tool NAME ARGS...  Kafka's own CLI tools (consumer-groups, topics, ...)
#   sandbox/kafka.sh certs [DIR]        a test CA, a broker certificate for 127.0.0.1/localhost
#                                       and a client certificate, PEM files in DIR (openssl)
#
# Knobs: KAFKA_PORT (31092), KAFKA_CONTROLLER_PORT (31093), KAFKA_STATE_DIR
# (<repo>/.cache/kafka-state), KAFKA_HEAP_OPTS (-Xmx1g -Xms256m), KAFKA_START_TIMEOUT_S (90),
# JAVA (java from JAVA_HOME or PATH), KAFKA_PYTHON (<repo>/.venv/bin/python, for the readiness
# probe; without it the probe is Kafka's broker-api-versions tool).
# Secured listeners, each off unless its port is set (the plaintext one always stays, for tools):
# KAFKA_SASL_SSL_PORT (SASL over TLS), KAFKA_SASL_PLAINTEXT_PORT (SASL without TLS),
# KAFKA_SSL_PORT (TLS with a required client certificate). SASL listeners accept PLAIN,
# SCRAM-SHA-256 and SCRAM-SHA-512 for the users of KAFKA_SASL_USERS ("name:password,...";
# default "classter:classter-test-secret"); SCRAM credentials are written when the storage is
# formatted, so changing users needs `reset`. KAFKA_SSL_DIR (<state dir>/tls) holds the PEM
# files of `certs`, made at the first start that needs them. Test credentials only.
# Brokers with different state dirs and ports run side by side. Progress goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$ROOT/sandbox/kafka/pom.xml"
KAFKA_HOME="$ROOT/.cache/kafka"
LIBS="$KAFKA_HOME/libs"
FETCH_STAMP="$KAFKA_HOME/libs.pom-sha256"
M2_REPO="$ROOT/.cache/m2"

KAFKA_PORT="${KAFKA_PORT:-31092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-31093}"
KAFKA_STATE_DIR="${KAFKA_STATE_DIR:-$ROOT/.cache/kafka-state}"
# Absolute, always: the running broker is recognised by the props path on its command line, so a
# relative state dir would make `stop` miss the broker it started (and forget its pid).
case "$KAFKA_STATE_DIR" in /*) ;; *) KAFKA_STATE_DIR="$PWD/$KAFKA_STATE_DIR" ;; esac
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx1g -Xms256m}"
KAFKA_START_TIMEOUT_S="${KAFKA_START_TIMEOUT_S:-90}"
KAFKA_PYTHON="${KAFKA_PYTHON:-$ROOT/.venv/bin/python}"
KAFKA_SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-}"
KAFKA_SASL_PLAINTEXT_PORT="${KAFKA_SASL_PLAINTEXT_PORT:-}"
KAFKA_SSL_PORT="${KAFKA_SSL_PORT:-}"
KAFKA_SASL_USERS="${KAFKA_SASL_USERS:-classter:classter-test-secret}"
KAFKA_SSL_DIR="${KAFKA_SSL_DIR:-$KAFKA_STATE_DIR/tls}"
if [[ -n "${JAVA:-}" ]]; then :
elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then JAVA="$JAVA_HOME/bin/java"
else JAVA=java
fi

BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
PROPS="$KAFKA_STATE_DIR/server.properties"
PID_FILE="$KAFKA_STATE_DIR/broker.pid"
LOG_DIR="$KAFKA_STATE_DIR/logs"
DATA_DIR="$KAFKA_STATE_DIR/data"
LOG_LINES_BEFORE=0  # lines of server.log written before this start
# Written at the first start; `reset` refuses to wipe a directory that lacks it.
STATE_MARKER="$KAFKA_STATE_DIR/.kafka-sh-state"

say() { echo "kafka.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# --- fetch -----------------------------------------------------------------------------------

pom_sha() { sha256sum "$POM" | cut -d' ' -f1; }

jars_fresh() {
  [[ -f "$FETCH_STAMP" && "$(cat "$FETCH_STAMP")" == "$(pom_sha)" ]] \
    && compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null \
    && compgen -G "$LIBS/kafka-tools-*.jar" >/dev/null
}

cmd_fetch() {
  mkdir -p "$KAFKA_HOME"
  # One fetch at a time: test workers and benchmarks may all call start at once.
  exec {fetch_lock}>"$KAFKA_HOME/.fetch.lock"
  flock "$fetch_lock"
  if ! jars_fresh; then
    command -v mvn >/dev/null || die "mvn not found: Maven 3 is needed to fetch the Kafka jars"
    say "fetching Kafka jars with Maven (sandbox/kafka/pom.xml -> .cache/kafka/libs)"
    # A fresh directory, swapped in whole, so jars of an older pin never linger on the classpath.
    rm -rf "$LIBS.new"
    mvn -B -q -Dstyle.color=never -Dmaven.repo.local="$M2_REPO" -f "$POM" \
      -Dkafka.libs.dir="$LIBS.new" package >&2
    rm -rf "$LIBS"
    mv "$LIBS.new" "$LIBS"
    pom_sha >"$FETCH_STAMP"
  fi
  write_tools_log_config
  flock -u "$fetch_lock"
  exec {fetch_lock}>&-
}

write_tools_log_config() {
  cat >"$KAFKA_HOME/log4j2-tools.xml.new" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by sandbox/kafka.sh: Kafka's CLI tools log WARN and above to stderr. -->
<Configuration status="warn">
  <Appenders>
    <Console name="stderr" target="SYSTEM_ERR">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="warn"><AppenderRef ref="stderr"/></Root>
  </Loggers>
</Configuration>
EOF
  mv "$KAFKA_HOME/log4j2-tools.xml.new" "$KAFKA_HOME/log4j2-tools.xml"
}

check_java() {
  local version major
  command -v "$JAVA" >/dev/null || die "java not found (set JAVA or JAVA_HOME): Kafka needs Java 17+"
  version="$("$JAVA" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2}')"
  major="${version%%.*}"
  [[ "$major" =~ ^[0-9]+$ && "$major" -ge 17 ]] \
    || die "$JAVA is Java ${version:-unknown}; Kafka 4.x needs Java 17 or newer"
}

# --- tools -----------------------------------------------------------------------------------

tool_class() {
  local name="${1#kafka-}"
  name="${name%.sh}"
  case "$name" in
    consumer-groups)      echo org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
    topics)               echo org.apache.kafka.tools.TopicCommand ;;
    console-consumer)     echo org.apache.kafka.tools.consumer.ConsoleConsumer ;;
    console-producer)     echo org.apache.kafka.tools.ConsoleProducer ;;
    get-offsets)          echo org.apache.kafka.tools.GetOffsetShell ;;
    broker-api-versions)  echo org.apache.kafka.tools.BrokerApiVersionsCommand ;;
    configs)              echo org.apache.kafka.tools.ConfigCommand ;;
    delete-records)       echo org.apache.kafka.tools.DeleteRecordsCommand ;;
    log-dirs)             echo org.apache.kafka.tools.LogDirsCommand ;;
    metadata-quorum)      echo org.apache.kafka.tools.MetadataQuorumCommand ;;
    cluster)              echo org.apache.kafka.tools.ClusterTool ;;
    storage)              echo kafka.tools.StorageTool ;;
    *.*)                  echo "$1" ;;  # a main class given by its full name
    *) die "unknown tool '$1' (consumer-groups, topics, console-consumer, console-producer,\
 get-offsets, broker-api-versions, configs, delete-records, log-dirs, metadata-quorum, cluster,\
 storage, or a main class name)" ;;
  esac
}

# Runs a Kafka main class as a short-lived CLI: small heap, quick JIT, quiet logging.
run_java_tool() {
  local class="$1"
  shift
  "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_HOME/log4j2-tools.xml" \
    -cp "$LIBS/*" "$class" "$@"
}

cmd_tool() {
  [[ $# -ge 1 ]] || die "usage: kafka.sh tool NAME ARGS..."
  local class
  class="$(tool_class "$1")"
  shift
  check_java
  jars_fresh || cmd_fetch
  run_java_tool "$class" "$@"
}

# --- broker lifecycle ------------------------------------------------------------------------

# The pid of the broker that this script started for this state dir, if it is still alive.
broker_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  # A recycled pid belongs to another program: only a kafka.Kafka on our props file counts.
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $PROPS" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A real Kafka API round trip: cluster metadata that lists this broker.
answers() {
  if [[ -x "$KAFKA_PYTHON" ]] && "$KAFKA_PYTHON" -c 'import aiokafka' 2>/dev/null; then
    "$KAFKA_PYTHON" - "$BOOTSTRAP" >/dev/null 2>&1 <<'EOF'
import asyncio
import sys

from aiokafka.admin import AIOKafkaAdminClient


async def probe(bootstrap: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return bool(cluster["brokers"]) and cluster["controller_id"] >= 0
    finally:
        await admin.close()


sys.exit(0 if asyncio.run(asyncio.wait_for(probe(sys.argv[1]), 10)) else 1)
EOF
  else
    run_java_tool org.apache.kafka.tools.BrokerApiVersionsCommand \
      --bootstrap-server "$BOOTSTRAP" >/dev/null 2>&1
  fi
}

print_log_tail() {
  local f
  # this start's first errors say why (a port held by another socket, say); the tail only how
  # it ended. The log accumulates over starts: skip the lines earlier starts wrote.
  if [[ -s "$LOG_DIR/server.log" ]] \
    && tail -n "+$((LOG_LINES_BEFORE + 1))" "$LOG_DIR/server.log" | grep -q 'ERROR'; then
    say "--- first errors of this start in $LOG_DIR/server.log ---"
    tail -n "+$((LOG_LINES_BEFORE + 1))" "$LOG_DIR/server.log" | grep -m3 -A1 'ERROR' >&2 || true
  fi
  for f in "$LOG_DIR/server.log" "$LOG_DIR/broker.out"; do
    [[ -s "$f" ]] || continue
    say "--- last lines of $f ---"
    tail -n 40 "$f" >&2
  done
}

# --- TLS and SASL (test credentials) ---------------------------------------------------------

secured() { [[ -n "$KAFKA_SASL_SSL_PORT$KAFKA_SASL_PLAINTEXT_PORT$KAFKA_SSL_PORT" ]]; }

# One key and certificate signed by the CA in DIR: DIR NAME CN EXTENSIONS (openssl -extfile).
sign_cert() {
  local dir="$1" name="$2" cn="$3" ext="$4"
  openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$cn" \
    -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 3650 -sha256 -extfile <(printf '%s\n' "$ext") \
    -out "$dir/$name.crt" 2>/dev/null
  rm -f "$dir/$name.csr"
}

# A CA, a broker certificate valid for 127.0.0.1 and localhost, and a client certificate, in PEM.
# broker.pem (key, then certificate) is the broker's keystore (ssl.keystore.type=PEM).
cmd_certs() {
  local dir="${1:-$KAFKA_SSL_DIR}" tag
  [[ -f "$dir/broker.pem" && -f "$dir/client.crt" ]] && return 0
  command -v openssl >/dev/null || die "openssl not found: it makes the test certificates"
  mkdir -p "$dir"
  say "making a test CA and certificates in $dir"
  tag="$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  openssl req -x509 -new -newkey rsa:2048 -nodes -days 3650 -sha256 \
    -subj "/CN=classter-hubspot test CA $tag" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  sign_cert "$dir" broker localhost \
    "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth"
  sign_cert "$dir" client classter-hubspot "extendedKeyUsage=clientAuth"
  cat "$dir/broker.key" "$dir/broker.crt" >"$dir/broker.pem"
  chmod 600 "$dir"/*.key "$dir/broker.pem"
}

# The secured listeners that are on, one NAME=PORT a line.
secured_listeners() {
  [[ -z "$KAFKA_SASL_SSL_PORT" ]] || echo "SASL_SSL=$KAFKA_SASL_SSL_PORT"
  [[ -z "$KAFKA_SASL_PLAINTEXT_PORT" ]] || echo "SASL_PLAINTEXT=$KAFKA_SASL_PLAINTEXT_PORT"
  [[ -z "$KAFKA_SSL_PORT" ]] || echo "SSL=$KAFKA_SSL_PORT"
}

write_security_config() {
  local plain_users="" entry listener
  for entry in ${KAFKA_SASL_USERS//,/ }; do
    plain_users+=" user_${entry%%:*}=\"${entry#*:}\""
  done
  cat <<EOF

# Secured listeners (sandbox/kafka.sh: KAFKA_SASL_SSL_PORT, ...). Test CA and users only.
ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_SSL_DIR/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$KAFKA_SSL_DIR/ca.pem
listener.name.ssl.ssl.client.auth=required
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
EOF
  for listener in sasl_ssl sasl_plaintext; do
    cat <<EOF
listener.name.$listener.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$plain_users;
listener.name.$listener.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.$listener.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
  done
}

# kafka-storage format arguments that create the SCRAM users (both SHA-256 and SHA-512).
scram_format_args() {
  local entry mechanism
  for entry in ${KAFKA_SASL_USERS//,/ }; do
    for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
      echo "--add-scram"
      echo "$mechanism=[name=${entry%%:*},password=${entry#*:}]"
    done
  done
}

write_broker_config() {
  local listeners="PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT"
  local advertised="PLAINTEXT://127.0.0.1:$KAFKA_PORT"
  local map="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT" line
  while IFS= read -r line; do
    listeners+=",${line%%=*}://127.0.0.1:${line#*=}"
    advertised+=",${line%%=*}://127.0.0.1:${line#*=}"
    map+=",${line%%=*}:${line%%=*}"
  done < <(secured_listeners)
  cat >"$PROPS" <<EOF
# Written by sandbox/kafka.sh at each start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$map
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA_DIR

# One node: every internal topic has a single replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1

# Dev broker: groups form at once, topics appear on first use and can be deleted.
group.initial.rebalance.delay.ms=0
num.partitions=6
auto.create.topics.enable=true
delete.topic.enable=true
EOF
  if secured; then
    cmd_certs "$KAFKA_SSL_DIR"
    write_security_config >>"$PROPS"
  fi
  cat >"$KAFKA_STATE_DIR/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by sandbox/kafka.sh at each start. -->
<Configuration status="warn">
  <Appenders>
    <RollingFile name="server" fileName="$LOG_DIR/server.log"
                 filePattern="$LOG_DIR/server.log.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <SizeBasedTriggeringPolicy size="20 MB"/>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="info"><AppenderRef ref="server"/></Root>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="org.apache.kafka.controller" level="info"/>
    <Logger name="state.change.logger" level="warn"/>
  </Loggers>
</Configuration>
EOF
}

format_storage_once() {
  [[ -f "$DATA_DIR/meta.properties" ]] && return 0
  local cluster_id
  # A Kafka cluster id is 16 random bytes, base64url without padding. Like Kafka's own
  # Uuid.randomUuid, never one that starts with "-": kafka-storage would take it for an option
  # (1 start in 64 failed so before).
  cluster_id=-
  while [[ "$cluster_id" == -* ]]; do
    cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  done
  say "formatting KRaft storage in $DATA_DIR (cluster id $cluster_id)"
  local scram=()
  if secured; then mapfile -t scram < <(scram_format_args); fi
  run_java_tool kafka.tools.StorageTool format --ignore-formatted \
    --cluster-id "$cluster_id" --config "$PROPS" "${scram[@]}" >&2
}

# Waits for the broker with the given pid to answer; 0 when it does, 1 if it died or timed out.
wait_until_answering() {
  local pid="$1" deadline=$((SECONDS + KAFKA_START_TIMEOUT_S))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      say "broker (pid $pid) exited during startup"
      return 1
    fi
    if port_open "$KAFKA_PORT" && answers; then
      return 0
    fi
    sleep 0.5
  done
  say "broker (pid $pid) did not answer on $BOOTSTRAP within ${KAFKA_START_TIMEOUT_S}s"
  return 1
}

lock_state_dir() {
  mkdir -p "$KAFKA_STATE_DIR"
  exec {state_lock}>"$KAFKA_STATE_DIR/.lock"
  flock "$state_lock"
}

start_locked() {
  local pid
  if pid="$(broker_pid)"; then
    if ! answers && ! wait_until_answering "$pid"; then
      print_log_tail
      exit 1
    fi
    say "broker already running (pid $pid) on $BOOTSTRAP"
    echo "$BOOTSTRAP"
    return 0
  fi
  rm -f "$PID_FILE"
  check_java
  jars_fresh || cmd_fetch
  local port
  # shellcheck disable=SC2086  # unset secured ports drop out of the list on purpose
  for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" $KAFKA_SASL_SSL_PORT \
    $KAFKA_SASL_PLAINTEXT_PORT $KAFKA_SSL_PORT; do
    if port_open "$port"; then
      die "port $port on 127.0.0.1 is taken by a process this script did not start \
(for this state dir); choose KAFKA_PORT / KAFKA_CONTROLLER_PORT"
    fi
  done
  mkdir -p "$LOG_DIR" "$DATA_DIR"
  touch "$STATE_MARKER"
  write_broker_config
  format_storage_once

  say "starting Kafka on $BOOTSTRAP (state in $KAFKA_STATE_DIR)"
  LOG_LINES_BEFORE="$( (wc -l <"$LOG_DIR/server.log") 2>/dev/null || echo 0)"
  # setsid: the broker outlives this script and ignores the caller's Ctrl-C; stop is explicit.
  # shellcheck disable=SC2086  # KAFKA_HEAP_OPTS holds several JVM options on purpose
  setsid "$JAVA" $KAFKA_HEAP_OPTS -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_STATE_DIR/log4j2.xml" \
    -Dkafka.logs.dir="$LOG_DIR" \
    -cp "$LIBS/*" kafka.Kafka "$PROPS" \
    </dev/null >>"$LOG_DIR/broker.out" 2>&1 {state_lock}>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  local started=$SECONDS
  if ! wait_until_answering "$pid"; then
    print_log_tail
    stop_locked
    exit 1
  fi
  say "broker up (pid $pid) on $BOOTSTRAP after $((SECONDS - started))s"
  echo "$BOOTSTRAP"
}

stop_locked() {
  local pid waited=0
  if ! pid="$(broker_pid)"; then
    rm -f "$PID_FILE"
    return 0
  fi
  say "stopping broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((waited < 300)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "broker (pid $pid) ignored TERM for 30s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$PID_FILE"
}

cmd_start() { lock_state_dir; start_locked; }
cmd_stop() {
  [[ -d "$KAFKA_STATE_DIR" ]] || return 0
  lock_state_dir
  stop_locked
}
cmd_restart() { lock_state_dir; stop_locked; start_locked; }

cmd_status() {
  local pid
  if pid="$(broker_pid)" && answers; then
    say "running (pid $pid) on $BOOTSTRAP"
    echo "$BOOTSTRAP"
    return 0
  fi
  say "not running on $BOOTSTRAP (state dir $KAFKA_STATE_DIR)"
  return 1
}

cmd_reset() {
  [[ -d "$KAFKA_STATE_DIR" ]] || return 0
  [[ -f "$STATE_MARKER" ]] \
    || die "refusing to wipe $KAFKA_STATE_DIR: it is not a state dir made by this script"
  lock_state_dir
  stop_locked
  say "wiping $KAFKA_STATE_DIR"
  rm -rf "$KAFKA_STATE_DIR"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

[[ $# -ge 1 ]] || usage
command="$1"
shift
case "$command" in
  fetch)   check_java; cmd_fetch ;;
  start)   cmd_start ;;
  stop)    cmd_stop ;;
  restart) cmd_restart ;;
  status)  cmd_status ;;
  reset)   cmd_reset ;;
  tool)    cmd_tool "$@" ;;
  certs)   cmd_certs "$@" ;;
  -h|--help|help) usage ;;
  *) say "unknown command '$command'"; usage ;;
esac

#!/usr/bin/env bash
# Bad input to the stack and the binary ends with a message that names the
# cause and what to do: a bad port value, a port in use, a missing
# dependency, a service that fails to start, a bad configuration value.
# A second stack with its own directory and ports is used, and the main
# stack must still be running afterwards (down stops only its own processes).
source "$(dirname "$0")/lib.sh"
require_stack
STACK=$REPO/scripts/stack

# below the kernel's ephemeral range (ip_local_port_range, 32768 and up here):
# a port picked there can be taken by any outgoing connection before the
# service binds it
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 9000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}
# the main stack, as `scripts/stack env` described it: up again is a no-op
out=$("$STACK" up 2>&1)
expect_contains "second up on a running stack" "$out" "PostgreSQL already running"
expect_contains "second up on a running stack" "$out" "Kafka already running"
expect_contains "second up on a running stack" "$out" "versitygw already running"
main_pg_port=$AW_STACK_PG_PORT

tmp=$(mktemp -d)
export AW_STACK_DIR=$tmp/stack
export AW_STACK_PG_PORT=$(free_port) AW_STACK_KAFKA_PORT=$(free_port)
export AW_STACK_KAFKA_CONTROLLER_PORT=$(free_port) AW_STACK_S3_PORT=$(free_port)
export AW_STACK_WAIT_SECS=60
cleanup() { "$STACK" down --purge >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT

# a port value that is not a port
out=$(AW_STACK_PG_PORT=fivefour "$STACK" up 2>&1) && fail "up accepted a bad port"
expect_contains "bad port value" "$out" 'AW_STACK_PG_PORT="fivefour" is not a port number'

# a port in use: the main stack's PostgreSQL port
out=$(AW_STACK_PG_PORT=$main_pg_port "$STACK" up 2>&1) && fail "up started on a port in use"
expect_contains "port in use" "$out" "port $main_pg_port, wanted for PostgreSQL, is in use"
expect_contains "port in use" "$out" "AW_STACK_PG_PORT=<port>"

# a missing dependency
out=$(AW_PG_BINDIR=/nonexistent/bin "$STACK" up 2>&1) && fail "up ran without PostgreSQL binaries"
expect_contains "missing PostgreSQL" "$out" "PostgreSQL server binaries (initdb, pg_ctl) not found"
expect_contains "missing PostgreSQL" "$out" "scripts/bootstrap"
out=$(AW_VERSITYGW=/nonexistent/versitygw "$STACK" up 2>&1) && fail "up ran without versitygw"
expect_contains "missing versitygw" "$out" "versitygw not found at /nonexistent/versitygw"

# a service that fails to start: Kafka with an impossible heap
out=$(AW_STACK_KAFKA_HEAP="-Xmx1k" "$STACK" up 2>&1) && fail "up reported success with a broken Kafka"
expect_contains "Kafka failing at start-up" "$out" "Kafka exited during start-up"
expect_contains "Kafka failing at start-up" "$out" "heap"
expect_status "status of the half-started stack" 3 "$STACK" status
"$STACK" down >/dev/null 2>&1
out=$("$STACK" status || true)
expect_contains "second stack after down" "$out" "postgresql  stopped"

# the main stack is untouched
expect_eq "main PostgreSQL still answers" "1" "$(psql -X -At -c 'SELECT 1')"
expect_status "main Kafka still answers" 0 bash -c "exec 3<>/dev/tcp/127.0.0.1/${AW_KAFKA_BROKERS##*:}"

# bad configuration values for the binary
out=$("$AW_BIN" ingest --fetch-concurrency 0 2>&1) && fail "accepted --fetch-concurrency 0"
expect_contains "bad flag value" "$out" "flag --fetch-concurrency: fetch.concurrency=\"0\" is not a whole number from 1 to 1024"
expect_status "exit status for a bad flag" 2 "$AW_BIN" ingest --fetch-concurrency 0
out=$(AW_LOG_LEVEL=loud "$AW_BIN" migrate 2>&1) && fail "accepted AW_LOG_LEVEL=loud"
expect_contains "bad log level" "$out" 'log.level="loud" must be error, warn, info or debug'
printf 'kafka.topic = t\nfetch.retries = many\n' >"$tmp/aw.conf"
out=$("$AW_BIN" ingest --config "$tmp/aw.conf" 2>&1) && fail "accepted a bad config file"
expect_contains "bad config file value" "$out" "$tmp/aw.conf:2: fetch.retries=\"many\""
out=$("$AW_BIN" frobnicate 2>&1) && fail "accepted an unknown command"
expect_contains "unknown command" "$out" 'unknown command "frobnicate"'
done_ok

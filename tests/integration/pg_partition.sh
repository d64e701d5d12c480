#!/usr/bin/env bash
# PostgreSQL behind a network that silently drops packets, on the real stack:
# ingest's open connection is cut by firewall rules (no reset, no refusal:
# the packets vanish, as when a failover takes the server's address along).
# The next batch's bytes go unacknowledged; the connection is given up on
# after tcp_user_timeout (30 s by default), ingest reports PostgreSQL
# unavailable, reconnects and indexes the batch, with nothing dead-lettered.
# Without that default the write would wait for the kernel's retransmissions,
# about 15 minutes. Needs root and iptables to drop the packets; skipped
# (exit 77) without them.
source "$(dirname "$0")/lib.sh"
require_stack

if [[ $(id -u) != 0 ]] || ! iptables -L INPUT -n >/dev/null 2>&1; then
    echo "pg_partition.sh: skipped: dropping packets needs root and iptables"
    exit 77
fi

# rules left by a run that was killed before its cleanup (they carry this comment)
iptables -S INPUT | { grep -e '--comment aw-pg-partition' || true; } | sed 's/^-A /-D /' |
    while read -r r; do eval "iptables $r" || true; done

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
rules=()
cleanup() {
    local r
    for r in "${rules[@]}"; do
        # shellcheck disable=SC2086 # a rule is a list of words
        iptables -D INPUT $r 2>/dev/null || true
    done
    [[ -n ${pid:-} ]] && kill -9 "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
pg_port=${AW_STACK_PG_PORT:?}

# the events already on the shared topic first, so the new ones are all that is left
"$AW_BIN" ingest --group "partition-$run_id" --drain --log-level warn
b1=$(unique_bucket partition-a)
upload_n "$b1" 3
AW_OPENLINEAGE_TOPIC= "$AW_BIN" ingest --group "partition-$run_id" --batch-ms 50 \
    -X session.timeout.ms=6000 >"$work/ingest.log" 2>&1 &
pid=$!
wait_for "the first 3 objects indexed" 60 '[[ $(rows "$b1") == 3 ]]'

# the writer's connection: the process's one established TCP connection to the server
ports=$(ss -tnpH state established "( dport = :$pg_port )" |
    sed -n "s/.*127\.0\.0\.1:\([0-9]*\) *127\.0\.0\.1:$pg_port .*pid=$pid,.*/\1/p")
expect_eq "ingest's connections to PostgreSQL" 1 "$(wc -w <<<"$ports")"
for r in "-i lo -p tcp --sport $ports --dport $pg_port -m comment --comment aw-pg-partition -j DROP" \
    "-i lo -p tcp --sport $pg_port --dport $ports -m comment --comment aw-pg-partition -j DROP"; do
    # shellcheck disable=SC2086
    iptables -I INPUT $r
    rules+=("$r")
done

b2=$(unique_bucket partition-b)
t0=$SECONDS
upload_n "$b2" 3
wait_for "ingest to give up on the silent connection" 75 \
    'grep -q "PostgreSQL unavailable.*batch kept" "$work/ingest.log"'
wait_for "the 3 objects of the cut-off batch indexed on a new connection" 60 \
    '[[ $(rows "$b2") == 3 ]]'
echo "pg_partition.sh: indexed $((SECONDS - t0)) s after the cut" >&2
expect_contains "ingest log after the cut" "$(cat "$work/ingest.log")" "PostgreSQL is back; resuming"
expect_eq "dead letters for the cut-off batch" 0 "$(dead_letters "$b2")"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
expect_eq "exit status after SIGTERM" 0 "$rc"
done_ok

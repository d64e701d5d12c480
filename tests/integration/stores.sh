#!/usr/bin/env bash
# Two stores in one database: the stack's versitygw ("default", indexed from
# its events) and a second versitygw ("mirror", the same bucket and keys,
# indexed by backfill), each behind a fault proxy that logs every request:
#  - a stores file with a mistake is refused at start, naming file and line;
#  - backfill --store mirror reads the mirror through its own client;
#  - a rule that matches only store: mirror deletes the mirror's copies, and
#    no request for a mirror row reaches the default store (nor the other way);
#  - a process without the mirror in its stores file never touches a mirror
#    row: retention records skipped_other_store, scrub counts it;
#  - scrub reads each store's versions through that store's client.
source "$(dirname "$0")/lib.sh"
require_stack
# these runs drive ingest by hand (--drain) and apply between drains: the
# check that ingest has caught up (policy.lag_check) is shown in
# retention_faults.sh, and off here
export AW_POLICY_LAG_CHECK=false

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
trap 'stop_proxy; [[ -n ${pa_pid:-} ]] && kill "$pa_pid" 2>/dev/null; [[ -n ${mirror_pid:-} ]] && kill "$mirror_pid" 2>/dev/null; rm -rf "$work"; true' EXIT
group=stores-$run_id
"$AW_BIN" ingest --group "$group" --drain --log-level error
exists() { aws s3api head-object --bucket "$1" --key "$2" >/dev/null 2>&1 && echo yes || echo no; }
mexists() { maws s3api head-object --bucket "$1" --key "$2" >/dev/null 2>&1 && echo yes || echo no; }

start_mirror "$work/mirror"
start_proxy "" "$work/pa.log"
pa_url=$proxy_url pa_pid=$proxy_pid
start_proxy "$mirror_url" "$work/pb.log"
pb_url=$proxy_url
cat >"$work/stores.conf" <<EOF
# the second store, as rows name it
[mirror]
endpoint = $pb_url
region = us-east-1
path_style = true
access_key_id = $MIRROR_KEY
secret_access_key = $MIRROR_SECRET
EOF
aw() { AWS_ENDPOINT_URL_S3=$pa_url "$AW_BIN" "$@"; }

# --- a stores file with a mistake is refused at start
printf '[mirror]\nendpoint = %s\npathstyle = true\n' "$pb_url" >"$work/bad.conf"
rc=0
out=$(aw scrub --once --stores "$work/bad.conf" 2>&1) || rc=$?
expect_eq "exit status for a bad stores file" 1 "$rc"
expect_contains "the bad key is named with its line" "$out" "$work/bad.conf:3: unknown key \"pathstyle\""
printf 'endpoint = %s\n' "$pb_url" >"$work/bad.conf"
out=$(aw scrub --once --stores "$work/bad.conf" 2>&1) || true
expect_contains "a setting outside a section" "$out" "$work/bad.conf:1: a setting before the first [store] section"

# --- the same bucket and keys in both stores
b=$(unique_bucket twin)
s3api create-bucket --bucket "$b" >/dev/null
maws s3api create-bucket --bucket "$b" >/dev/null
mkdir -p "$work/src"
for i in 1 2 3 4; do echo "object $i $run_id" >"$work/src/o$i.bin"; done
aws s3 cp --recursive --only-show-errors "$work/src" "s3://$b/"
maws s3 cp --recursive --only-show-errors "$work/src" "s3://$b/"
"$ITEST_BIN/kafka_events" --bucket "$b" --min 4 --timeout 60 >/dev/null
"$AW_BIN" ingest --group "$group" --drain --log-level error
aw backfill "s3://$b" --store mirror --stores "$work/stores.conf" --log-level warn >/dev/null ||
    fail "backfill of the mirror failed"
expect_eq "versions per store" "default 4
mirror 4" "$(sql -c "SELECT store || ' ' || count(*) FROM aw.objects WHERE bucket = '$b' AND state = 'present' GROUP BY store ORDER BY store")"
expect_eq "requests of the mirror's backfill that reached the default store" 0 \
    "$(proxy_url=$pa_url proxy_log | grep -c "\"bucket\": \"$b\"" || true)"

# --- a rule for the mirror only
sleep 2
cat >"$work/rules.yaml" <<EOF
version: 1
limits: {max_delete_fraction: 1}
rules:
  - name: mirror-expiry
    match: {bucket: "$b", store: mirror}
    expire_after: 1s
EOF
proxy_url=$pa_url proxy_clear
proxy_url=$pb_url proxy_clear
aw policy apply --rules "$work/rules.yaml" --stores "$work/stores.conf" >/dev/null 2>"$work/apply.err" ||
    fail "the mirror's apply failed: $(tail -3 "$work/apply.err")"
run=$(sql -c "SELECT max(id) FROM aw.retention_runs WHERE mode = 'apply'")
echo "two-store apply, as recorded:"
sql -c "SELECT store, key, result FROM aw.retention_actions WHERE run_id = $run ORDER BY key"
expect_eq "the mirror's copies are gone" "no no no no" \
    "$(for i in 1 2 3 4; do mexists "$b" "o$i.bin"; done | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the default store's copies are all there" "yes yes yes yes" \
    "$(for i in 1 2 3 4; do exists "$b" "o$i.bin"; done | tr '\n' ' ' | sed 's/ $//')"
expect_eq "requests of the mirror's apply that reached the default store" 0 \
    "$(proxy_url=$pa_url proxy_log | grep -c "\"bucket\": \"$b\"" || true)"
expect_eq "DELETEs the mirror received" 4 "$(proxy_url=$pb_url proxy_log | grep -c '"method": "DELETE"' || true)"
expect_eq "deleted in the index: the mirror's rows only" "default false 4
mirror true 4" "$(sql -c "SELECT store || ' ' || deleted || ' ' || count(*) FROM aw.objects WHERE bucket = '$b' AND state = 'present' GROUP BY store, deleted ORDER BY store")"

# --- a process that does not serve the mirror never touches its rows
maws s3 cp --recursive --only-show-errors "$work/src" "s3://$b/"
aw backfill "s3://$b" --store mirror --stores "$work/stores.conf" --log-level warn >/dev/null ||
    fail "the second backfill of the mirror failed"
sleep 2
proxy_url=$pa_url proxy_clear
proxy_url=$pb_url proxy_clear
aw policy apply --rules "$work/rules.yaml" >/dev/null 2>&1 || fail "the apply without the mirror failed"
run=$(sql -c "SELECT max(id) FROM aw.retention_runs WHERE mode = 'apply'")
expect_eq "rows of a store not served" "skipped_other_store 4" \
    "$(sql -c "SELECT result || ' ' || count(*) FROM aw.retention_actions WHERE run_id = $run GROUP BY result")"
expect_eq "requests sent for them, to either store" "0 0" \
    "$(proxy_url=$pa_url proxy_log | grep -c "\"bucket\": \"$b\"" || true) $(proxy_url=$pb_url proxy_log | grep -c "\"bucket\": \"$b\"" || true)"
expect_eq "the mirror's copies are still there" "yes yes yes yes" \
    "$(for i in 1 2 3 4; do mexists "$b" "o$i.bin"; done | tr '\n' ' ' | sed 's/ $//')"

# --- scrub: each store through its own client
proxy_url=$pa_url proxy_clear
proxy_url=$pb_url proxy_clear
aw scrub --once --all --bucket "$b" --stores "$work/stores.conf" --log-level warn ||
    fail "scrub of both stores failed"
expect_eq "scrub GETs per store (default, mirror)" "4 4" \
    "$(proxy_url=$pa_url proxy_log | grep -c '"method": "GET"' || true) $(proxy_url=$pb_url proxy_log | grep -c '"method": "GET"' || true)"
expect_eq "scrub results per store" "default ok 4
mirror ok 4" "$(sql -c "SELECT v.store || ' ' || s.last_result || ' ' || count(*) FROM aw.scrub_state s JOIN aw.object_versions v ON v.id = s.object_version_id WHERE v.bucket = '$b' GROUP BY v.store, s.last_result ORDER BY 1")"
sql -q -c "UPDATE aw.scrub_state s SET due_at = now() - interval '1 minute' FROM aw.object_versions v WHERE v.id = s.object_version_id AND v.bucket = '$b'"
proxy_url=$pb_url proxy_clear
out=$(aw scrub --once --bucket "$b" 2>&1) || fail "scrub of the default store failed: $out"
expect_contains "scrub counts the other store's due versions" "$out" "due version(s) of store(s) "
expect_contains "the mirror among them" "$(grep 'not served here' <<<"$out")" "mirror"
expect_eq "requests to the mirror from a scrub that does not serve it" 0 \
    "$(proxy_url=$pb_url proxy_log | grep -c . || true)"
done_ok

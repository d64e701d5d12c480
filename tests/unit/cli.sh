#!/usr/bin/env bash
# The command line without services: every command has --help that lists its
# options, and unknown commands exit 2 and say so.
set -euo pipefail
AW_BIN=${AW_BIN:?}
checks=0
fail() { echo "cli.sh:${BASH_LINENO[0]}: $*" >&2; exit 1; }
has() { checks=$((checks + 1)); [[ $1 == *"$2"* ]] || fail "[$2] missing from: ${1:0:300}"; }

top=$("$AW_BIN" --help)
has "$top" "  version "
has "$("$AW_BIN" version --help)" "usage: artifact-watch version"
for c in ingest migrate lineage policy scrub alerts verify backfill; do
    has "$top" "  $c "
    h=$("$AW_BIN" "$c" --help) || fail "$c --help exited $?"
    has "$h" "usage: artifact-watch $c"
    has "$h" "--log-level"
    has "$h" "--config FILE"
done
h=$("$AW_BIN" ingest --help)
for opt in --brokers --topic --group --dlq-topic --kafka-properties -X --s3-endpoint --region \
    AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN --path-style --fetch-concurrency \
    --fetch-retries --fetch-timeout-ms --batch-max --batch-ms --verify-md5 --drain --key-encoding --pg \
    --sidecar-metadata --sidecar-file-metadata --sidecar-sha256 --sidecar-metrics \
    --sidecar-openlineage --sidecar-max-bytes --openlineage-topic; do
    has "$h" "$opt"
done
h=$("$AW_BIN" lineage --help)
has "$h" "usage: artifact-watch lineage up|down s3://bucket/key"
for opt in --depth --as-of --format --pg; do has "$h" "$opt"; done
# lineage: usage errors before any connection
for args in "" "up" "sideways s3://b/k" "up s3://b/k extra" "up s3://b/k --format yaml"; do
    rc=0
    # shellcheck disable=SC2086
    out=$("$AW_BIN" lineage $args 2>&1) || rc=$?
    checks=$((checks + 1))
    [[ $rc == 2 ]] || fail "lineage $args exited $rc, want 2"
    has "$out" "artifact-watch lineage: "
done
# a bad sidecar pattern is a configuration error naming the pattern
rc=0
out=$("$AW_BIN" ingest --sidecar-sha256 'digest.txt' 2>&1) || rc=$?
checks=$((checks + 1))
[[ $rc == 2 ]] || fail "a bad sidecar pattern exited $rc, want 2"
has "$out" 'sha256 sidecar pattern "digest.txt": must be "*SUFFIX"' 
h=$("$AW_BIN" migrate --help)
has "$h" "--status"
has "$h" "--pg"
# a malformed connection string is a configuration error at start (not an
# outage to retry): exit 2, naming the key and its source, not the value
for cmd in ingest "policy status" "alerts list" migrate; do
    rc=0
    # shellcheck disable=SC2086
    out=$(AW_PG_URI='postgresql://aw:s3cr%zz@db/aw' timeout 10 "$AW_BIN" $cmd 2>&1) || rc=$?
    checks=$((checks + 1))
    [[ $rc == 2 ]] || fail "$cmd with a malformed AW_PG_URI exited $rc, want 2"
    has "$out" "env AW_PG_URI: pg.conninfo is not a PostgreSQL connection string"
    checks=$((checks + 1))
    [[ $out != *s3cr* ]] || fail "$cmd echoed the connection string: $out"
done
# durations and sizes are checked at start, with their units
rc=0
out=$("$AW_BIN" scrub --interval 7 2>&1) || rc=$?
checks=$((checks + 1))
[[ $rc == 2 ]] || fail "scrub --interval 7 exited $rc, want 2"
has "$out" 'scrub.interval="7" is not a duration from 1s to'
has "$("$AW_BIN" ingest --range-size 16MiB --print-config)" "fetch.range_size = 16MiB"
# sub-verbs come from one table: an unknown one lists them all
rc=0
out=$("$AW_BIN" alerts frob 2>&1) || rc=$?
checks=$((checks + 1))
[[ $rc == 2 ]] || fail "alerts frob exited $rc, want 2"
has "$out" 'unknown verb "frob"'
has "$out" "artifact-watch alerts resolve ID --reason TEXT"
# policy without a subcommand, or with an unknown one, is a usage error
for sub in "" nosuch; do
    rc=0
    out=$("$AW_BIN" policy $sub 2>&1) || rc=$?
    checks=$((checks + 1))
    [[ $rc == 2 ]] || fail "policy $sub exited $rc, want 2"
    has "$out" "usage: artifact-watch policy check"
done
rc=0
out=$("$AW_BIN" policy plan 2>&1) || rc=$?
checks=$((checks + 1))
[[ $rc == 2 ]] || fail "policy plan without --rules exited $rc, want 2"
has "$out" "--rules"
# backfill: a target or --all-buckets, never both, and only s3:// URIs
for args in "" "s3://b --all-buckets" "b/prefix" "s3://" "s3://no_such..bucket/x" "s3://b --page-size 0" "s3://b --concurrency 0"; do
    rc=0
    # shellcheck disable=SC2086
    out=$("$AW_BIN" backfill $args 2>&1) || rc=$?
    checks=$((checks + 1))
    [[ $rc == 2 ]] || fail "backfill $args exited $rc, want 2 ($out)"
done
has "$("$AW_BIN" backfill 2>&1)" "s3://BUCKET[/PREFIX] or --all-buckets"
has "$("$AW_BIN" backfill b/prefix 2>&1)" '"b/prefix" is not s3://BUCKET[/PREFIX]'
has "$("$AW_BIN" backfill --help)" "--max-objects-per-sec"
rc=0
out=$("$AW_BIN" nosuch 2>&1) || rc=$?
[[ $rc == 2 ]] || fail "unknown command exited $rc"
has "$out" 'unknown command "nosuch"'
has "$("$AW_BIN" version)" "librdkafka 2."
# --print-config: every key of the command with its effective value, secrets masked
out=$(AW_FETCH_CONCURRENCY=7 AWS_SECRET_ACCESS_KEY=hunter2 "$AW_BIN" ingest --topic t9 -X linger.ms=3 --print-config)
has "$out" "fetch.concurrency = 7"
has "$out" "kafka.topic = t9"
has "$out" "s3.secret_access_key = (set)"
has "$out" "-X linger.ms=3"
checks=$((checks + 1))
[[ $out != *hunter2* ]] || fail "--print-config showed a secret"
# secrets never shown: librdkafka properties that can hold one are masked
out=$("$AW_BIN" ingest -X sasl.password=hunter2 -X sasl.oauthbearer.config=principal=tok9 \
    -X ssl.key.pem=PEMDATA9 -X sasl.jaas.config=jaas9 -X ssl.keystore.password=ks9 \
    -X sasl.oauthbearer.client.secret=cs9 -X linger.ms=4 --print-config)
has "$out" "-X sasl.password=(set)"
has "$out" "-X ssl.key.pem=(set)"
has "$out" "-X linger.ms=4"
for s in hunter2 tok9 PEMDATA9 jaas9 ks9 cs9; do
    checks=$((checks + 1))
    [[ $out != *$s* ]] || fail "--print-config showed the secret $s"
done
# a property librdkafka refuses is named, its value is not shown
rc=0
out=$("$AW_BIN" ingest --brokers 127.0.0.1:1 -X socket.timeout.ms=hunter3 2>&1) || rc=$?
checks=$((checks + 1))
[[ $rc == 2 ]] || fail "a refused -X property exited $rc, want 2"
has "$out" "property socket.timeout.ms: librdkafka refuses its value"
checks=$((checks + 1))
[[ $out != *hunter3* ]] || fail "a refused -X property showed its value: $out"
# libpq's error text never carries the password, however the URI is broken
# (a URI libpq cannot parse at all is refused at start; see above)
for uri in 'postgresql://aw:hunter22@127.0.0.1:1/db?sslmode=bogus' \
    'host=127.0.0.1 port=1 password=hunter44 sslmode=bogus' "host=127.0.0.1 port=1 password='hunter55' dbname=x"; do
    rc=0
    out=$("$AW_BIN" lineage up s3://bkt/x --pg "$uri" 2>&1) || rc=$?
    checks=$((checks + 1))
    [[ $rc == 1 ]] || fail "lineage with an unreachable database exited $rc, want 1"
    has "$out" "artifact-watch lineage: cannot connect to PostgreSQL"
    for s in s3cr zzet hunter22 hunter44 hunter55; do
        checks=$((checks + 1))
        [[ $out != *$s* ]] || fail "the PostgreSQL error showed a password: $out"
    done
done
# a URL's credentials never show: not in --print-config, not in an error
out=$("$AW_BIN" alerts --print-config --alertmanager-url 'http://am:hunter66@alertmanager:9093/' 2>&1)
has "$out" "alerts.alertmanager_url = http://am:***@alertmanager:9093/"
rc=0
out2=$("$AW_BIN" alerts push --alertmanager-url 'ftp://am:hunter77@x/' 2>&1) || rc=$?
checks=$((checks + 1))
[[ $rc == 2 ]] || fail "a non-http Alertmanager URL exited $rc, want 2"
has "$out2" 'not "ftp://am:***@x/"'
for s in hunter66 hunter77; do
    checks=$((checks + 1))
    [[ $out$out2 != *$s* ]] || fail "a URL's password was shown: $out $out2"
done
echo "cli.sh: $checks checks passed"

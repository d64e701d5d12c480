#!/usr/bin/env bash
# Benchmark (a): small objects end to end on the local stack.
#
# N objects of 4 KiB are placed in a versitygw bucket (written straight into
# its posix backend, which serves them like any upload) and N S3 event records
# for them wait in a fresh Kafka topic. Then, at the same fetch concurrency:
#   1. the S3 server's own GET rate: signed GETs + SHA-256 with the fetch
#      engine alone (bench_fetch, no Kafka, no PostgreSQL);
#   2. ingest end to end against versitygw: Kafka -> fetch -> hash -> PostgreSQL;
#   3. the same against a plain static HTTP server (nginx from Debian, no
#      auth) serving the same files: the pipeline's own ceiling.
# Unless SPLIT=0 (and on two cores or more): the two nginx measurements again
# with PostgreSQL and Kafka pinned to CPU 0 and the fetch path to the other
# CPUs (taskset), so the pipeline is compared with the fetch on equal cores,
# as where the database and the broker have machines of their own.
# Rates come from ingest's own summary (first message to last batch). Both
# ingest runs write into a database made for the run (aw_bench_small), so the
# numbers do not depend on what earlier runs left in the dev database.
#
# GRAPH=1 adds nginx runs into two databases of their own: one empty, one
# holding the lineage bench's graph (1,000,000 versions, 2,000,000 edges with
# their sidecars and declarations; bench/lineage_query.sh makes it), so
# per-batch work that grows with the tables shows: a warm-up run into each
# (not counted), then three alternating runs each, medians compared; the
# indexer's per-step times are printed beside the rates. GRAPH=1 EXPLAIN=1
# then ingests two more batches into each of the two databases with
# auto_explain on (ANALYZE, BUFFERS, nested statements) and prints the plans
# of the second batch's statements.
#
#   bench/ingest_small.sh                 N=50000 C=8 by default
#   N=20000 C=32 bench/ingest_small.sh
#   SPLIT=0 bench/ingest_small.sh         without the split-core runs
#   GRAPH=1 N=20000 bench/ingest_small.sh
#   GRAPH=1 EXPLAIN=1 N=20000 bench/ingest_small.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${N:-50000}
C=${C:-8}
bucket=bench-small-$ts
topic=aw.bench.small.$ts
bench_buckets+=("$bucket")
bench_stores+=("bench-vgw-$ts" "bench-static-$ts")

aws s3api create-bucket --bucket "$bucket" >/dev/null
put_objects "$bucket" obj- "$N" 4096
say_sha_ni
build/bench/bench_events "$topic" "$bucket" obj- "$N" 4096

start_nginx
run_db=aw_bench_small
psql -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $run_db" -c "CREATE DATABASE $run_db"
run_uri=$(db_uri "$run_db")
build/artifact-watch migrate --pg "$run_uri" --log-level warn >/dev/null

rate() { sed -n 's/.*(\([0-9]*\) events\/s.*/\1/p' "$1" | tail -n 1; }

echo "== $N objects of 4 KiB, fetch concurrency $C"
raw_s3=$(build/bench/bench_fetch "$bucket" obj- "$N" "$C")
# CPU time of each process taking part in the nginx runs, for the account
# printed at the end
nginx_worker=$(pgrep -P "$(cat "$work/nginx.pid")")
ng0=$(cpu_ticks "$nginx_worker")
raw_static=$(AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= \
    /usr/bin/time -f '%U %S' -o "$work/cpu-raw" build/bench/bench_fetch "$bucket" obj- "$N" "$C")
kafka_pid=$(cat "$AW_STACK_DIR/kafka/kafka.pid")
pg_idle=$(pg_backends)
ng1=$(cpu_ticks "$nginx_worker") pg1=$(pg_cpu_ticks) kf1=$(cpu_ticks "$kafka_pid")
# the static run first: it measures the pipeline, on a machine not yet busy
# with vacuuming the other run's rows
AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= /usr/bin/time -f '%M %U %S' -o "$work/rss-static" \
    build/artifact-watch ingest --pg "$run_uri" --topic "$topic" --group "bench-static-$ts" \
    --store "bench-static-$ts" --s3-endpoint "http://127.0.0.1:$port" --drain \
    --fetch-concurrency "$C" 2>"$work/static.log"
pg_settle "$pg_idle"
ng2=$(cpu_ticks "$nginx_worker") pg2=$(pg_cpu_ticks) kf2=$(cpu_ticks "$kafka_pid")
/usr/bin/time -f '%M' -o "$work/rss-vgw" build/artifact-watch ingest --pg "$run_uri" --topic "$topic" \
    --group "bench-vgw-$ts" --store "bench-vgw-$ts" --drain --fetch-concurrency "$C" \
    2>"$work/vgw.log"
indexed_vgw=$(psql -X -At -d "$run_db" -c "SELECT count(*) FROM aw.objects WHERE store = 'bench-vgw-$ts' AND sha256 IS NOT NULL")
indexed_static=$(psql -X -At -d "$run_db" -c "SELECT count(*) FROM aw.objects WHERE store = 'bench-static-$ts' AND sha256 IS NOT NULL")

e2e_vgw=$(rate "$work/vgw.log")
e2e_static=$(rate "$work/static.log")
raw_vgw_rate=$(field "$raw_s3" objects_per_s)
printf '%-52s %10s\n' "measurement" "objects/s"
printf '%-52s %10s\n' "versitygw GET+SHA-256 alone (bench_fetch)" "$raw_vgw_rate"
printf '%-52s %10s\n' "nginx GET+SHA-256 alone (bench_fetch)" "$(field "$raw_static" objects_per_s)"
printf '%-52s %10s   (%s indexed, peak RSS %s MiB)\n' "ingest end to end, versitygw" "$e2e_vgw" \
    "$indexed_vgw" "$(($(cat "$work/rss-vgw") / 1024))"
read -r rss_static u_static s_static <"$work/rss-static"
printf '%-52s %10s   (%s indexed, peak RSS %s MiB)\n' "ingest end to end, nginx static" "$e2e_static" \
    "$indexed_static" "$((rss_static / 1024))"
# microseconds of CPU (user + system) per object, from /usr/bin/time's
# seconds or /proc's clock ticks; with every core busy, the cores allow
# cores x 1e6 / (their sum) objects a second
us() { python3 -c "print('%.0f' % (($1) * 1e6 / $N))"; }
tick=$(getconf CLK_TCK)
read -r u_raw s_raw <"$work/cpu-raw"
account() { # label fetch-us nginx-us pg-us kafka-us
    printf '  %-40s %6s %6s %11s %6s   %6s\n' "$1" "$2" "$3" "$4" "$5" \
        "$(python3 -c "print('%.0f' % ($(nproc) * 1e6 / ($2 + $3 + ${4/-/0} + ${5/-/0})))")"
}
echo "CPU per object, µs, and the most objects/s the $(nproc) cores allow at that cost:"
printf '  %-40s %6s %6s %11s %6s   %6s\n' "" fetch nginx PostgreSQL Kafka "limit"
account "nginx GET+SHA-256 alone (bench_fetch)" "$(us "$u_raw + $s_raw")" \
    "$(us "($ng1 - $ng0) / $tick")" - -
account "ingest end to end, nginx (its process)" "$(us "$u_static + $s_static")" \
    "$(us "($ng2 - $ng1) / $tick")" "$(us "($pg2 - $pg1) / $tick")" "$(us "($kf2 - $kf1) / $tick")"
ratio=$(python3 -c "print('%.2f' % ($e2e_vgw / $raw_vgw_rate))")
echo "ratio ingest/versitygw alone: $ratio (target >= 0.80)"
echo "ratio ingest/nginx alone: $(python3 -c "print('%.2f' % ($e2e_static / $(field "$raw_static" objects_per_s)))")" \
    "(target >= 0.80; about the ratio of the two limits above: both fill the same cores)"
[[ $indexed_vgw == "$N" && $indexed_static == "$N" ]] || {
    echo "not every object was indexed: versitygw $indexed_vgw, static $indexed_static of $N" >&2
    exit 1
}
if [[ ${SPLIT:-1} == 1 ]] && (($(nproc) >= 2)) && command -v taskset >/dev/null; then
    # The same two nginx measurements with PostgreSQL and Kafka on CPU 0 and
    # the fetch path (bench_fetch or ingest, and nginx) on the others, as
    # where the database and the broker run on machines of their own: the
    # pipeline against the fetch on the same cores. Affinities are put back
    # on exit; the ingest writes into a fresh database of its own.
    cpus_all=0-$(($(nproc) - 1)) cpus_fetch=1
    (($(nproc) > 2)) && cpus_fetch=1-$(($(nproc) - 1))
    pm=$(head -n 1 "$AW_STACK_DIR/pg/data/postmaster.pid")
    pin_services() { # CPUS: the cluster (its postmaster first: backends inherit) and Kafka
        local p
        for p in "$pm" $(pgrep -P "$pm") "$kafka_pid"; do
            taskset -a -p -c "$1" "$p" >/dev/null 2>&1 || true
        done
        taskset -p -c "${2:-$1}" "$nginx_worker" >/dev/null
    }
    trap 'pin_services "$cpus_all"; bench_cleanup' EXIT
    split_db=aw_bench_small_split
    psql -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $split_db" \
        -c "CREATE DATABASE $split_db"
    build/artifact-watch migrate --pg "$(db_uri "$split_db")" --log-level warn >/dev/null
    pin_services 0 "$cpus_fetch"
    fetch_split() {
        AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= \
            taskset -c "$cpus_fetch" build/bench/bench_fetch "$bucket" obj- "$N" "$C"
    }
    # the fetch before and after the ingest, their mean the reference: this
    # machine's speed drifts from minute to minute
    raw_split=$(fetch_split)
    AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= taskset -c "$cpus_fetch" build/artifact-watch ingest \
        --pg "$(db_uri "$split_db")" --topic "$topic" --group "bench-split-$ts" \
        --store "bench-split-$ts" --s3-endpoint "http://127.0.0.1:$port" --drain \
        --fetch-concurrency "$C" 2>"$work/split.log"
    raw_split2=$(fetch_split)
    pin_services "$cpus_all"
    indexed_split=$(psql -X -At -d "$split_db" \
        -c "SELECT count(*) FROM aw.objects WHERE sha256 IS NOT NULL")
    psql -X -q -c "DROP DATABASE IF EXISTS $split_db"
    e2e_split=$(rate "$work/split.log")
    f1=$(field "$raw_split" objects_per_s) f2=$(field "$raw_split2" objects_per_s)
    echo "== PostgreSQL and Kafka on CPU 0, the fetch path on CPU $cpus_fetch"
    printf '%-52s %10s\n' "nginx GET+SHA-256 alone (bench_fetch), before" "$f1"
    printf '%-52s %10s   (%s indexed)\n' "ingest end to end, nginx static" "$e2e_split" \
        "$indexed_split"
    printf '%-52s %10s\n' "nginx GET+SHA-256 alone (bench_fetch), after" "$f2"
    echo "ratio ingest/nginx alone (the mean of before and after), fetch path on the same cores:" \
        "$(python3 -c "print('%.2f' % ($e2e_split * 2 / ($f1 + $f2)))")"
    [[ $indexed_split == "$N" ]] || {
        echo "not every object was indexed in the split run: $indexed_split of $N" >&2
        exit 1
    }
fi
if [[ ${GRAPH:-0} == 1 ]]; then
    N=${GRAPH_N:-1000000} BENCH_GENERATE_ONLY=1 bench/lineage_query.sh >&2
    empty=aw_bench_small_empty
    psql -X -q -c "DROP DATABASE IF EXISTS $empty" -c "CREATE DATABASE $empty"
    # the indexer's per-step times (its debug line), averaged over the run
    steps() {
        grep -o 'versions and observations [0-9]* ms, deletes [0-9]* ms, checks [0-9]* ms, sidecars [0-9]* ms, lineage [0-9]* ms' "$1" |
            awk '{v+=$4; d+=$7; c+=$10; s+=$13; l+=$16; n++}
                 END {if (n) printf "per batch of %d avg: versions+observations %.1f, deletes %.1f, checks %.1f, sidecars %.1f, lineage %.1f ms", '"$N"'/n, v/n, d/n, c/n, s/n, l/n}'
    }
    graph_run() { # database label description run
        local uri
        uri=$(db_uri "$1")
        build/artifact-watch migrate --pg "$uri" --log-level warn >/dev/null
        AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= build/artifact-watch ingest --pg "$uri" \
            --topic "$topic" --group "bench-$2-$ts-$4" --store "bench-$2-$ts-$4" --drain \
            --s3-endpoint "http://127.0.0.1:$port" --fetch-concurrency "$C" --log-level debug \
            2>"$work/$2.log"
        r=$(rate "$work/$2.log")
        printf '%-52s %10s   %s\n' "ingest, nginx, $3 (run $4)" "$r" "$(steps "$work/$2.log")"
    }
    echo "== GRAPH=1: the same events into an empty database and into the lineage bench's graph,"
    echo "   three runs each, alternating (this VM's speed drifts), medians compared; first one"
    echo "   run into each, not counted, so neither is read from disk (after a restart the"
    echo "   graph's 2 GB are not in the page cache; the first run then measures the disk)"
    graph_run "$empty" empty "empty database" warm-up
    graph_run aw_bench_lineage graph "1M versions, 2M edges" warm-up
    empties=() graphs=()
    for i in 1 2 3; do
        graph_run "$empty" empty "empty database" "$i"
        empties+=("$r")
        graph_run aw_bench_lineage graph "1M versions, 2M edges" "$i"
        graphs+=("$r")
    done
    r_empty=$(median "${empties[@]}")
    r=$(median "${graphs[@]}")
    echo "medians: empty $r_empty, graph $r objects/s"
    echo "ratio graph/empty: $(python3 -c "print('%.2f' % ($r / $r_empty))") (target >= 0.90)"
    # the graph as it was, its dead rows vacuumed away for the next run
    psql -X -q -d aw_bench_lineage -c "DELETE FROM aw.object_versions WHERE store LIKE 'bench-graph-$ts-%'" \
        -c "VACUUM aw.object_versions"
    if [[ ${EXPLAIN:-0} == 1 ]]; then
        # auto_explain for the two databases (the cluster's superuser, over
        # the unix socket), two batches each, the second one's plans printed
        su_psql() { psql -X -q -h "$AW_STACK_DIR/pg/run" -p "$PGPORT" -U postgres "$@"; }
        etopic=$topic.explain
        build/bench/bench_events "$etopic" "$bucket" obj- 4000 4096
        for db in "$empty" aw_bench_lineage; do
            su_psql -d "$db" -c "ALTER DATABASE $db SET session_preload_libraries = 'auto_explain'" \
                -c "ALTER DATABASE $db SET auto_explain.log_min_duration = 0" \
                -c "ALTER DATABASE $db SET auto_explain.log_analyze = on" \
                -c "ALTER DATABASE $db SET auto_explain.log_buffers = on" \
                -c "ALTER DATABASE $db SET auto_explain.log_nested_statements = on"
            from=$(($(wc -l <"$AW_STACK_DIR/pg/postgres.log") + 1))
            AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= build/artifact-watch ingest \
                --pg "$(db_uri "$db")" --topic "$etopic" \
                --group "bench-explain-$db-$ts" --store "bench-explain-$ts" --drain \
                --s3-endpoint "http://127.0.0.1:$port" --log-level error
            su_psql -d "$db" -c "ALTER DATABASE $db RESET ALL"
            echo "== EXPLAIN (ANALYZE, BUFFERS) of the second batch's statements, $db"
            # a batch's first statement is the event-adoption UPDATE
            tail -n "+$from" "$AW_STACK_DIR/pg/postgres.log" | awk '
                function flush() { if (keep) printf "%s", buf; buf = ""; keep = 0 }
                /LOG:  duration: .* plan:/ { flush(); inblk = 1 }
                /^[0-9-]+ [0-9:.]+ UTC \[[0-9]+\] / && !/LOG:  duration/ { flush(); inblk = 0 }
                /Query Text: UPDATE aw.object_versions v SET version_ref = b.version_ref/ { batch++ }
                inblk { buf = buf $0 "\n"; keep = batch == 2 }
                END { flush() }'
        done
        psql -X -q -d aw_bench_lineage -c "DELETE FROM aw.object_versions WHERE store = 'bench-explain-$ts'"
    fi
    psql -X -q -c "DROP DATABASE IF EXISTS $empty"
fi
psql -X -q -c "DROP DATABASE IF EXISTS $run_db"
echo "rerun: ${SPLIT:+SPLIT=$SPLIT }${GRAPH:+GRAPH=$GRAPH }N=$N C=$C bench/ingest_small.sh"

#!/usr/bin/env bash
# Local folders: `watch` over a tree laid out like a project's
# (data/raw, data/processed, models, metrics, src, ...) while this script
# writes, rewrites, renames and deletes in it, with a kill -9 of the watcher
# in the middle and changes made while it is down:
#  - afterwards every file's indexed SHA-256 is sha256sum's, and what was
#    removed is marked deleted; a temporary file renamed into place is
#    indexed once, under its final name;
#  - hostile names: a newline is indexed, a name that is not UTF-8, a path
#    longer than 1024 bytes, links, FIFOs and devices are skipped (walks
#    count them), a link out of the root is never followed, and a file the
#    watcher may not read is one failure while the rest goes on;
#  - a metadata.json naming local paths (relative, absolute, file:///) gives
#    lineage edges, verified by its checksum;
#  - scrub finds a file rewritten behind the index (same size, inode and
#    mtime), verify reports it, and retention unlinks expired files but not
#    one rewritten since it was indexed (If-Match on inode, size and mtime),
#    nor what a kept model came from.
source "$(dirname "$0")/lib.sh"
require_stack

run_id=$(date +%s)$RANDOM
store=local-$run_id
work=$(mktemp -d)
chmod 755 "$work"
root=$work/project
mkdir -p "$root"
trap '[[ -n ${wpid:-} ]] && kill -9 "$wpid" 2>/dev/null; chmod -R u+rwX "$work" 2>/dev/null; rm -rf "$work"; true' EXIT
printf '[%s]\nkind = file\nroot = %s\n' "$store" "$root" >"$work/stores.conf"
# as root, the watcher runs as nobody so that a file's permissions mean something
runas=()
[[ $(id -u) == 0 ]] && runas=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
start_watch() {
    "${runas[@]}" "$AW_BIN" watch --stores "$work/stores.conf" --store "$store" \
        --settle-ms 200 "$@" >>"$work/watch.log" 2>&1 &
    wpid=$!
    wait_for "the watcher's first walk" 60 "grep -q 'backfill s3://project/:' '$work/watch.log'"
}
converged() { python3 "$(dirname "$0")/folder_index.py" "$root" "$store" >"$work/cmp.txt" 2>&1; }
wait_converged() {
    wait_for "$1" 60 converged || { cat "$work/cmp.txt"; tail -20 "$work/watch.log"; fail "$1"; }
}
w() { mkdir -p "$(dirname "$root/$1")" && printf '%s\n' "$2" >"$root/$1"; }
deleted() { sql -c "SELECT COALESCE(bool_and(deleted), false) FROM aw.object_versions WHERE store = '$store' AND key = '$1'"; }

# --- bad arguments are refused before anything runs
rc=0
out=$("$AW_BIN" watch "$work/nope" 2>&1) || rc=$?
expect_eq "exit status for a root that does not exist" 2 "$rc"
expect_contains "the root is named" "$out" "$work/nope"
rc=0
out=$("$AW_BIN" watch --stores "$work/stores.conf" --store "$store" "$work" 2>&1) || rc=$?
expect_eq "exit status for a DIR that is not one of the store's roots" 2 "$rc"

# --- the project, a first part of its history, and kill -9
w data/raw/customers.csv "id,name,churned"
w data/processed/features.csv "id,f1,f2"
w src/train.py "print('train')"
w "data/processed/feat v2.csv" "id,f9"
w notebooks/explore.ipynb "{}"
start_watch
w models/churn_model_v1.joblib "model v1 $run_id"
feat=$(sha256sum "$root/data/processed/features.csv" | cut -c1-64)
cat >"$root/models/metadata.json" <<EOF
{"artifact_type": "model", "created_from": {
  "data_path": ["data/processed/features.csv", "file://$root/data/raw/customers.csv",
                "$root/src/train.py", "/etc/passwd", "file://$root/data/processed/feat%20v2.csv"],
  "data_checksum": ["$feat", null, null, null, null], "code_commit": "abc123"}}
EOF
w metrics/metrics.json '{"auc": 0.91}'
w data/raw/customers.csv "id,name,churned
1,ann,0"
wait_converged "the first files indexed"
# --- lineage from local paths
up=$("$AW_BIN" lineage up "s3://project/models/churn_model_v1.joblib" --store "$store" --format json)
expect_eq "the model's parents: relative, file:/// (percent-encoded too) and absolute paths" \
    "data/processed/feat v2.csv data/processed/features.csv data/raw/customers.csv src/train.py" \
    "$(python3 -c 'import json,sys; print(" ".join(sorted(n["uri"].split("/",3)[3] for n in json.load(sys.stdin)["nodes"] if n["depth"] == 1)))' <<<"$up")"
up=$("$AW_BIN" lineage up "file://$root/models/churn_model_v1.joblib" --stores "$work/stores.conf" \
    --store "$store" --format json)
expect_eq "the same walk from the file's own file:/// URI" 4 \
    "$(python3 -c 'import json,sys; print(sum(1 for n in json.load(sys.stdin)["nodes"] if n["depth"] == 1))' <<<"$up")"
expect_status "lineage of a path outside the store's roots" 2 \
    "$AW_BIN" lineage up "file:///etc/passwd" --stores "$work/stores.conf" --store "$store"
expect_contains "a path outside the folder is a note, not an edge" \
    "$(sql -c "SELECT parse_error FROM aw.sidecars WHERE store = '$store' AND key = 'models/metadata.json' ORDER BY id DESC LIMIT 1")" \
    '"/etc/passwd" is not an s3://bucket/key URI or a path in this folder'

w plots/roc.png "png $run_id"
w data/raw/extra.csv "more"
kill -9 "$wpid"
wait "$wpid" 2>/dev/null || true
wpid=
# --- while the watcher is down
rm "$root/notebooks/explore.ipynb"
mv "$root/src/train.py" "$root/src/train_v2.py"
w data/processed/features.csv "id,f1,f2,f3"
mkdir -p "$root/reports/2026"
for i in 1 2 3; do w "reports/2026/r$i.txt" "report $i"; done
rm -r "$root/metrics"
start_watch
wait_converged "the index after the restart"
expect_eq "a file deleted while the watcher was down" t "$(deleted notebooks/explore.ipynb)"
expect_eq "the old name of a file renamed while it was down" t "$(deleted src/train.py)"
expect_eq "a directory removed while it was down" t "$(deleted metrics/metrics.json)"

# --- and with it running again: a temporary file renamed into place, a
# directory renamed, files rewritten and removed
printf 'model v2 %s\n' "$run_id" >"$root/models/.churn_model_v2.joblib.tmp"
mv "$root/models/.churn_model_v2.joblib.tmp" "$root/models/churn_model_v2.joblib"
mv "$root/reports" "$root/reports_old"
w reports_old/2026/r4.txt "report 4"
w models/churn_model_v1.joblib "model v1 retrained $run_id"
rm "$root/data/raw/extra.csv"
wait_converged "the index after renames and rewrites"
expect_eq "versions of the temporary file" 0 \
    "$(sql -c "SELECT count(*) FROM aw.object_versions WHERE store = '$store' AND key LIKE '%.tmp'")"
expect_eq "versions of the file renamed into place" 1 \
    "$(sql -c "SELECT count(*) FROM aw.object_versions WHERE store = '$store' AND key = 'models/churn_model_v2.joblib'")"
expect_eq "the directory's old place" t "$(deleted reports/2026/r1.txt)"
expect_eq "a file removed" t "$(deleted data/raw/extra.csv)"
expect_eq "versions of a file rewritten once" 2 \
    "$(sql -c "SELECT count(*) FROM aw.object_versions WHERE store = '$store' AND key = 'models/churn_model_v1.joblib' AND state = 'present'")"

# --- hostile names
w $'models/line\nbreak.txt' "a newline in the name"
mkdir -p "$root/odd"
printf 'x\n' >"$root/odd/bad"$'\xff'".csv"
long=$root/deep
for i in $(seq 1 9); do long=$long/$(printf 'd%.0s' $(seq 1 120)); done
mkdir -p "$long" && printf 'too deep\n' >"$long/f.txt"
ln -s /etc "$root/odd/etc-link"
ln -s /etc/hostname "$root/odd/host-link"
mkfifo "$root/odd/fifo"
mknod "$root/odd/null" c 1 3 2>/dev/null || true
w odd/denied.txt "secret"
chmod 000 "$root/odd/denied.txt"
w odd/fine.txt "fine"
mkdir -p "$root/odd/priv" && printf 'private\n' >"$root/odd/priv/p.txt"
chmod 000 "$root/odd/priv"
wait_for "the readable file next to them" 30 \
    "[[ \$(sql -c \"SELECT count(*) FROM aw.objects WHERE store = '$store' AND key = 'odd/fine.txt'\") == 1 ]]"
if ((${#runas[@]})) || [[ $(id -u) != 0 ]]; then
    wait_for "the unreadable file to be reported" 30 "grep -q 'odd/denied.txt failed' '$work/watch.log'"
fi
expect_eq "nothing indexed through a link" 0 \
    "$(sql -c "SELECT count(*) FROM aw.object_versions WHERE store = '$store' AND (key LIKE 'odd/etc-link%' OR key LIKE 'odd/host-link%' OR key IN ('odd/fifo', 'odd/null'))")"
# a walk counts what it skips
kill -TERM "$wpid"
wait "$wpid" || fail "the watcher did not stop cleanly"
wpid=
chmod 644 "$root/odd/denied.txt"
start_watch
chmod 755 "$root/odd/priv" # made readable while the watcher runs: watched and walked

expect_contains "a walk counts links, FIFOs and bad names" "$(cat "$work/watch.log")" "entries left out"
wait_converged "the index with hostile names"
expect_eq "the name with a newline" 1 \
    "$(sql -c "SELECT count(*) FROM aw.objects WHERE store = '$store' AND key = E'models/line\nbreak.txt' AND NOT deleted")"
kill -TERM "$wpid"
wait "$wpid" || fail "the watcher did not stop cleanly"
wpid=
# events lost to a full inotify queue: the walk that follows finds the
# files, and watches the directories made meanwhile
start_watch
mkdir "$root/flood"
sleep 1 # watched by now
kill -STOP "$wpid"
python3 -c '
import os, sys
d = os.path.join(sys.argv[1], "flood")
for i in range(9000):
    open(os.path.join(d, "f%05d" % i), "w").close()
os.makedirs(os.path.join(sys.argv[1], "after-flood"))
' "$root"
kill -CONT "$wpid"
wait_for "the overflow to be noticed" 30 "grep -q 'overflowed' '$work/watch.log'"
w after-flood/late.txt "written after the overflow, in a directory made during it"
wait_converged "the index after an overflow"
w after-flood/later.txt "written once the walk after the overflow is done: seen by a watch"
wait_converged "a file in a directory made during the overflow"
kill -TERM "$wpid"
wait "$wpid" || fail "the watcher did not stop cleanly"
wpid=
# --rescan walks again and again (what NFS needs: changes inotify never sees)
: >"$work/watch.log"
start_watch --rescan 1s
wait_for "three walks with --rescan 1s" 20 "(( \$(grep -c 'backfill s3://project/:' '$work/watch.log') >= 3 ))"
kill -TERM "$wpid"
wait "$wpid" || fail "the watcher did not stop cleanly"
wpid=

# --- scrub, verify and retention on the folder
aw() { "$AW_BIN" "$@" --stores "$work/stores.conf" --store "$store"; }
python3 - "$root/data/raw/customers.csv" <<'EOF'
import os, sys
p = sys.argv[1]
st = os.stat(p)
with open(p, "r+b") as f:       # same inode, same size
    data = f.read()
    f.seek(0)
    f.write(bytes(b ^ 1 for b in data))
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))   # and the same mtime
EOF
aw scrub --once --all --bucket project --log-level warn || fail "scrub of the folder failed"
expect_eq "scrub's alert for the file rewritten behind the index" "checksum_mismatch open" \
    "$(sql -c "SELECT kind || ' ' || state FROM aw.alerts WHERE store = '$store' AND key = 'data/raw/customers.csv'")"
expect_eq "the alert's blast radius reaches the model" t \
    "$(sql -c "SELECT 's3://project/models/churn_model_v1.joblib' = ANY (blast_uris) FROM aw.alerts WHERE store = '$store' AND key = 'data/raw/customers.csv'")"
expect_status "verify of an intact file" 0 aw verify s3://project/models/churn_model_v2.joblib --fetch
expect_status "verify of the rewritten file" 1 aw verify s3://project/data/raw/customers.csv --fetch
expect_status "verify by file:/// URI" 0 aw verify "file://$root/models/churn_model_v2.joblib" --fetch
expect_status "verify of a file:/// URI outside the roots" 2 aw verify "file://$work/stores.conf"

cat >"$work/rules.yaml" <<EOF
version: 1
limits: {max_delete_fraction: 1}
rules:
  - name: old-reports
    match: {store: "$store", bucket: project, prefix: reports_old/}
    expire_after: 1s
  - name: raw-data
    match: {store: "$store", bucket: project, prefix: data/}
    expire_after: 1s
  - name: models
    match: {store: "$store", bucket: project, prefix: models/}
    protect: true
EOF
sleep 2
printf 'report 4, rewritten after it was indexed\n' >"$root/reports_old/2026/r4.txt"
AW_POLICY_LAG_CHECK=false aw policy apply --rules "$work/rules.yaml" >/dev/null 2>"$work/apply.err" ||
    fail "apply on the folder failed: $(tail -3 "$work/apply.err")"
expect_eq "expired reports unlinked, the rewritten one kept" "no no no yes" \
    "$(for i in 1 2 3 4; do [[ -e $root/reports_old/2026/r$i.txt ]] && echo yes || echo no; done | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the rewritten report's result" skipped_changed \
    "$(sql -c "SELECT result FROM aw.retention_actions WHERE store = '$store' AND key = 'reports_old/2026/r4.txt' ORDER BY id DESC LIMIT 1")"
expect_eq "what the kept model came from is still there" "yes yes" \
    "$([[ -e $root/data/processed/features.csv ]] && echo yes || echo no) $([[ -e $root/data/raw/customers.csv ]] && echo yes || echo no)"
expect_eq "the unlinked reports are deleted by retention in the index" "retention 3" \
    "$(sql -c "SELECT deleted_by || ' ' || count(*) FROM aw.object_versions WHERE store = '$store' AND key LIKE 'reports_old/2026/r%' AND deleted GROUP BY deleted_by")"
done_ok

#!/usr/bin/env bash
# Memory is bounded per process, whatever the input, and a sidecar
# PostgreSQL would refuse never costs its object its row. One drain over the
# worst inputs built here, on the real stack, must stay under 256 MiB of peak
# RSS with every object indexed. The objects are written into versitygw's
# backend and announced on topics of this test's own, so later tests that
# replay the shared topic do not read them again:
#  - 120 OpenLineage sidecars of 1000 inputs x 1000 outputs (a million pairs
#    each; 10,000 kept per sidecar, 100,000 per batch);
#  - 60 metadata.json sidecars of 1 MiB (the size limit) of small JSON values,
#    the most expensive shape to parse;
#  - 20 OpenLineage RunEvents of 900 KB on the OpenLineage topic;
#  - one Kafka message of 3000 event records;
#  - sidecars with an impossible date, a 5000-byte name, a 3000-byte
#    data_path and a bucket no store allows, and an object whose
#    Content-Type is not text.
source "$(dirname "$0")/lib.sh"
require_stack

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
trap 'rm -rf "$work" "${AW_STACK_DIR:?}/s3/data/${b:-none}"' EXIT
group=memory-$run_id
topic=aw.test.memory-$run_id
ol_topic=aw.test.memory-ol-$run_id
"$ITEST_BIN/kafka_tool" create-topic "$topic" 2
"$ITEST_BIN/kafka_tool" create-topic "$ol_topic" 1
b=$(unique_bucket memory)
s3api create-bucket --bucket "$b" >/dev/null

python3 - "$AW_STACK_DIR/s3/data/$b" "$b" <<'PY'
import json, os, sys
d, bucket = sys.argv[1], sys.argv[2]
def put(path, data):
    p = os.path.join(d, path)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(data)
ins = [{"namespace": "s3://raw-bkt", "name": "in/%d" % i} for i in range(1000)]
outs = [{"namespace": "s3://" + bucket, "name": "out/%d" % i} for i in range(1000)]
ol = json.dumps({"eventType": "COMPLETE", "run": {"runId": "big"}, "job": {"name": "j"},
                 "inputs": ins, "outputs": outs})
for i in range(120):
    put("ol/%03d.openlineage.json" % i, ol)
big = '{"values":[' + ",".join(["1"] * 524000) + "]}"
assert len(big) <= 1 << 20
for i in range(60):
    put("meta/%02d/metadata.json" % i, big)
    put("meta/%02d/model.bin" % i, "weights %d" % i)
put("odd/date/metadata.json", '{"created_at": "2026-02-30T00:00:00Z", "name": "ok"}')
put("odd/name/metadata.json", json.dumps({"name": "n" * 5000}))
put("odd/path/metadata.json", json.dumps({"created_from": {"data_path": "s3://raw-bkt/" + "p" * 3000}}))
put("odd/bucket/metadata.json", json.dumps({"created_from": {"data_path": "s3://a/x"}}))
PY
# an object whose Content-Type the store hands back is not text
printf 'odd type' >"$work/odd"
curl -s -f --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: $(sha256sum "$work/odd" | cut -d' ' -f1)" \
    -H $'Content-Type: text/\xff\xfe' -T "$work/odd" "$AWS_ENDPOINT_URL_S3/$b/odd/type.bin" >/dev/null ||
    fail "upload with an odd Content-Type failed"
# one created event per object, on this test's topic
python3 - "$AW_STACK_DIR/s3/data/$b" "$b" >"$work/events" <<'PY'
import json, os, sys
root, bucket = sys.argv[1], sys.argv[2]
n = 0
for dirpath, _, files in os.walk(root):
    for f in files:
        p = os.path.join(dirpath, f)
        key = os.path.relpath(p, root)
        n += 1
        print(json.dumps({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
              "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bucket},
              "object": {"key": key, "size": os.path.getsize(p), "sequencer": "%04X" % n}}}]}))
PY
n_up=$(wc -l <"$work/events")
((n_up == 245)) || fail "expected 245 objects in the bucket, found $n_up"
while IFS= read -r ev; do printf '%s' "$ev" | "$ITEST_BIN/kafka_tool" produce "$topic"; done <"$work/events"

# 20 RunEvents of 900 KB on the OpenLineage topic, and one message of 3000 records
python3 -c '
import json, sys
ins = [{"namespace": "s3://raw-bkt", "name": "x/%05d-%s" % (i, "y" * 20)} for i in range(12500)]
print(json.dumps({"eventType": "COMPLETE", "run": {"runId": "topic-big-" + sys.argv[1]}, "job": {"name": "j"},
                  "inputs": ins, "outputs": [{"namespace": "s3://other", "name": "o"}]}))' "$run_id" >"$work/ol-topic.json"
size=$(stat -c %s "$work/ol-topic.json")
((size > 800000 && size < 1000000)) || fail "the RunEvent is $size bytes, meant to be about 900 KB"
for i in $(seq 1 20); do "$ITEST_BIN/kafka_tool" produce "$ol_topic" "mem-$run_id" <"$work/ol-topic.json"; done
python3 -c '
import json, sys
recs = [{"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete",
         "s3": {"bucket": {"name": sys.argv[1]}, "object": {"key": "gone/%d" % i, "sequencer": "%04X" % i}}}
        for i in range(3000)]
print(json.dumps({"Records": recs}))' "$b" | "$ITEST_BIN/kafka_tool" produce "$topic" "mem-$run_id"

/usr/bin/time -f '%M' -o "$work/rss" "$AW_BIN" ingest --topic "$topic" --openlineage-topic "$ol_topic" \
    --dlq-topic "$topic.dlq" --group "$group" --drain --log-level error ||
    fail "ingest failed on the worst inputs"
rss_kib=$(cat "$work/rss")
echo "ingest_memory.sh: peak RSS $((rss_kib / 1024)) MiB"
((rss_kib < 256 * 1024)) || fail "peak RSS $((rss_kib / 1024)) MiB, the bound is 256 MiB"
CHECKS=$((CHECKS + 1))

expect_eq "objects indexed" "$n_up" \
    "$(sql -c "SELECT count(*) FROM aw.objects WHERE bucket = '$b' AND state = 'present'")"
expect_eq "tombstones from the 3000-record message" 3000 \
    "$(sql -c "SELECT count(*) FROM aw.objects WHERE bucket = '$b' AND key LIKE 'gone/%'")"
expect_eq "declarations kept per OpenLineage sidecar (most)" 10000 \
    "$(sql -c "SELECT max(n) FROM (SELECT count(*) n FROM aw.lineage_decls d JOIN aw.sidecars s ON s.id = d.sidecar_id WHERE s.bucket = '$b' AND s.kind = 'openlineage' GROUP BY s.id) t")"
expect_contains "the cap in an OpenLineage sidecar's error" \
    "$(sql -c "SELECT parse_error FROM aw.sidecars WHERE bucket = '$b' AND key = 'ol/000.openlineage.json'")" \
    "1000000 lineage declarations; only the first 10000 are kept"
expect_eq "batches that reached their declaration limit said so" t \
    "$(sql -c "SELECT bool_or(parse_error LIKE '%the batch reached its limit of 100000%') FROM aw.sidecars WHERE bucket = '$b' AND kind = 'openlineage'")"
expect_eq "RunEvents from the topic recorded" 20 \
    "$(sql -c "SELECT count(*) FROM aw.sidecars WHERE kind = 'openlineage' AND run_key = 'topic-big-$run_id' AND kafka_topic = '$ol_topic'")"
expect_eq "1 MiB metadata sidecars read" 60 \
    "$(sql -c "SELECT count(*) FROM aw.sidecars WHERE bucket = '$b' AND key LIKE 'meta/%' AND doc IS NOT NULL AND parse_error IS NULL")"
expect_eq "impossible date: no created_at, an error" "|t" \
    "$(sql -F'|' -c "SELECT created_at, parse_error LIKE 'created_at: not a date and time that exists%' FROM aw.sidecars WHERE bucket = '$b' AND key = 'odd/date/metadata.json'")"
expect_eq "a 5000-byte name: no name, an error" "|t" \
    "$(sql -F'|' -c "SELECT name, parse_error LIKE '%name: longer than 1024 bytes%' FROM aw.sidecars WHERE bucket = '$b' AND key = 'odd/name/metadata.json'")"
expect_contains "a 3000-byte data_path" \
    "$(sql -c "SELECT parse_error FROM aw.sidecars WHERE bucket = '$b' AND key = 'odd/path/metadata.json'")" \
    "an object key longer than 1024 bytes"
expect_contains "a bucket no store allows" \
    "$(sql -c "SELECT parse_error FROM aw.sidecars WHERE bucket = '$b' AND key = 'odd/bucket/metadata.json'")" \
    '"a" is not a valid bucket name'
expect_eq "the object with a Content-Type that is not text: indexed, no type" "$(printf 'odd type' | sha256sum | cut -d' ' -f1)|" \
    "$(sql -F'|' -c "SELECT sha256, content_type FROM aw.objects WHERE bucket = '$b' AND key = 'odd/type.bin'")"
expect_eq "outputs outside the sidecar's bucket are not kept" 0 \
    "$(sql -c "SELECT count(*) FROM aw.lineage_decls d JOIN aw.sidecars s ON s.id = d.sidecar_id WHERE s.bucket = '$b' AND d.child_bucket <> '$b'")"
done_ok

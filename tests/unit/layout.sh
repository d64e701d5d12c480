#!/usr/bin/env bash
# The architecture, declared once here and checked against the code:
#  - the parts and which others each may include (a part's own headers,
#    common's public headers, and the public headers named below);
#  - every library confined to the files that may include it;
#  - no write (INSERT, UPDATE, DELETE, COPY ... FROM) to a table of the
#    lineage graph outside indexer/;
#  - no source file longer than 600 lines, no function longer than 80;
#  - the Dockerfile copies every part;
#  - the drawing in README.md is the one this script draws (`layout.sh
#    --write` puts it there).
set -euo pipefail
cd "$(dirname "$0")/../.."
checks=0
fail() { echo "layout.sh: $*" >&2; exit 1; }

# part | what it is | the public headers of other parts it may include
parts=(
  "cmd|dispatch, migrate, version, lineage|aw/ingest.h aw/backfill.h aw/indexer.h aw/policy.h aw/integrity.h aw/console.h aw/mlflow.h"
  "ingest|source: Kafka events, decoding, fetch + SHA-256|aw/indexer.h"
  "backfill|source: the store's own listing; watch: local folders|aw/indexer.h"
  "indexer|the one writer of the graph; sidecars into lineage|"
  "policy|retention: rules, plan, apply, audit|aw/indexer.h"
  "integrity|scrub, alerts, verify|aw/mlflow.h"
  "console|the read-only web console: pages from SQL documents, graphs by Graphviz|"
  "mlflow|MLflow: the tracking server's runs, models and registry; lineage of runs|aw/indexer.h"
  "common|config, log, errors, pg, metrics, daemon runtime; store/: the object-store client (aw/store.h)|"
)
# library | the header it is known by | the files (or parts, ending in /) that may include it
libs=(
  "libpq|libpq-fe.h|common/pg.c"
  "libcurl|curl/|common/store/http.c common/webhook.c"
  "OpenSSL|openssl/|common/hash.c"
  "libxml2|libxml/|common/store/s3xml.c"
  "libmicrohttpd|microhttpd.h|common/serve.c"
  "libyaml|yaml.h|policy/rules.c indexer/mlmodel.c"
  "Graphviz|graphviz/|console/graph.c"
  "librdkafka|librdkafka/|common/kafka.c common/producer.c common/include/aw/kafka.h ingest/ cmd/migrate.c"
  "jansson|jansson.h|common/json.c common/include/aw/json.h ingest/event.c ingest/kafka.c indexer/ backfill/page.c policy/ integrity/ console/ mlflow/ cmd/"
)
# the lineage graph: only indexer/ writes these
graph_tables="object_versions observations checks edges artifacts sidecars lineage_decls runs code_commits"

common_h=$(cd common/include && ls aw/*.h)
part_names=()
for p in "${parts[@]}"; do part_names+=("${p%%|*}"); done

sources() { # part: its C sources and headers
    find "$1" -name '*.c' -o -name '*.h' | sort
}
includes() { # file: the quoted includes
    sed -n 's/^#include "\([^"]*\)".*/\1/p' "$1"
}

for p in "${parts[@]}"; do
    IFS='|' read -r part _ allowed <<<"$p"
    [[ -d $part ]] || fail "part $part is declared but has no folder"
    while read -r f; do
        while read -r h; do
            [[ -z $h ]] && continue
            checks=$((checks + 1))
            grep -qxF "$h" <<<"$common_h" && [[ $part != common || -f common/include/$h ]] && continue
            [[ -f $part/$h || -f $part/include/$h || -f $(dirname "$f")/$h ]] && continue
            [[ " $allowed " == *" $h "* ]] && continue
            fail "$f includes \"$h\": $part may include only its own headers, common's, and: ${allowed:-nothing else}"
        done < <(includes "$f")
    done < <(sources "$part")
done
for d in */; do
    d=${d%/}
    [[ -n $(find "$d" -maxdepth 1 -name '*.c' 2>/dev/null) ]] || continue
    case $d in bench|tests) continue ;; esac
    [[ " ${part_names[*]} " == *" $d "* ]] || fail "folder $d has C sources but is not a declared part"
done

# the image builds every part: the Dockerfile copies each folder
for p in "${part_names[@]}"; do
    checks=$((checks + 1))
    grep -qx "COPY $p $p" Dockerfile || fail "the Dockerfile does not copy $p/ (COPY $p $p): the image would not build"
done

for l in "${libs[@]}"; do
    IFS='|' read -r name hdr allowed <<<"$l"
    while read -r f; do
        [[ -z $f ]] && continue
        checks=$((checks + 1))
        ok=false
        for a in $allowed; do
            [[ $f == "$a" || ( $a == */ && $f == "$a"* ) ]] && ok=true
        done
        $ok || fail "$name (<$hdr>) is included by $f; only $allowed may"
    done < <(grep -rl "^#include <$hdr" --include='*.c' --include='*.h' "${part_names[@]}" || true)
done

for t in $graph_tables; do
    checks=$((checks + 1))
    hits=$(grep -rniE "(INSERT INTO|UPDATE|DELETE FROM|COPY) +aw\.$t\b" --include='*.c' \
           $(printf '%s\n' "${part_names[@]}" | grep -vx indexer) || true)
    [[ -z $hits ]] || fail "aw.$t is written outside indexer/ (only the indexer writes the graph):
$hits"
done

while read -r n f; do
    [[ $f == total ]] && continue
    checks=$((checks + 1))
    ((n <= 600)) || fail "$f has $n lines (at most 600: split it along its sections)"
done < <(wc -l $(for p in "${part_names[@]}"; do sources "$p"; done))

# functions: a body is a top-level brace block whose opening line (or the
# line before) closes a parameter list; comments and strings are blanked
# first so their braces do not count
long=$(python3 - $(for p in "${part_names[@]}"; do sources "$p"; done | grep '\.c$') <<'PY'
import re, sys
for path in sys.argv[1:]:
    src = open(path).read()
    src = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group()), src, flags=re.S)
    src = re.sub(r'"(\\.|[^"\\\n])*"', '""', src)
    src = re.sub(r"'(\\.|[^'\\\n])*'", "''", src)
    lines = src.split("\n")
    depth, start, name = 0, None, "?"
    for n, l in enumerate(lines):
        code = re.sub(r"//.*", "", l)
        if depth == 0 and "{" in code and (")" in code or (code.strip() == "{" and ")" in lines[n - 1])):
            start = n
            for k in range(n, max(-1, n - 5), -1):
                m = re.match(r"^[A-Za-z_].*?\b([A-Za-z_][A-Za-z0-9_]*)\s*\(", lines[k])
                if m:
                    name = m.group(1)
                    break
        depth += code.count("{") - code.count("}")
        if depth == 0 and start is not None:
            if n - start + 1 > 80:
                print("%s:%d: %s is %d lines" % (path, start + 1, name, n - start + 1))
            start = None
    print("checked", path)
PY
)
checks=$((checks + $(grep -c '^checked ' <<<"$long")))
long=$(grep -v '^checked ' <<<"$long" || true)
[[ -z $long ]] || fail "functions longer than 80 lines (split them into named steps):
$long"

draw() {
    echo '```'
    for p in "${parts[@]}"; do
        IFS='|' read -r part what allowed <<<"$p"
        printf '%-10s %s\n' "$part/" "$what"
        [[ $part == common ]] && continue
        deps=""
        for h in $allowed; do deps+="${deps:+, }$h"; done
        printf '%-10s   --> %s\n' "" "common${deps:+, $deps}"
    done
    echo
    for l in "${libs[@]}"; do
        IFS='|' read -r name _ allowed <<<"$l"
        printf '%-13s %s\n' "$name" "$allowed"
    done
    echo '```'
}
begin='<!-- layout.sh: the parts and libraries (generated) -->'
end='<!-- layout.sh: end -->'
want=$(draw)
if [[ ${1:-} == --write ]]; then
    python3 - "$begin" "$end" "$want" <<'PY'
import sys
b, e, body = sys.argv[1:4]
s = open("README.md").read()
i, j = s.index(b) + len(b), s.index(e)
open("README.md", "w").write(s[:i] + "\n" + body + "\n" + s[j:])
PY
fi
have=$(sed -n "/^$begin\$/,/^$end\$/p" README.md | sed '1d;$d')
checks=$((checks + 1))
[[ "$have" == "$want" ]] || fail "README.md's drawing differs from the parts declared here; run tests/unit/layout.sh --write
--- README.md
$have
--- declared
$want"
echo "layout.sh: $checks checks passed"

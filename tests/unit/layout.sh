#!/usr/bin/env bash
# The include graph of the README's architecture section, checked:
#  - common/ includes no header of ingest/, indexer/, policy/ or cmd/;
#  - indexer/ includes only common headers (and its own);
#  - ingest/ reaches the indexer only through aw/indexer.h;
#  - policy/ includes only common headers and aw/indexer.h;
#  - one file per library: libpq only in common/pg.c, libcurl only in
#    common/http.c, OpenSSL only in common/hash.c, libxml2 only in
#    common/s3xml.c;
#  - no source file is longer than 800 lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
checks=0
fail() { echo "layout.sh: $*" >&2; exit 1; }
common_h=$(cd common/include && ls aw/*.h)
is_common() { grep -qxF "$1" <<<"$common_h"; }

includes() { # file: the quoted includes
    sed -n 's/^#include "\([^"]*\)".*/\1/p' "$1"
}

for f in common/*.c common/*.h common/include/aw/*.h; do
    while read -r h; do
        [[ -z $h ]] && continue
        checks=$((checks + 1))
        is_common "$h" || [[ -f common/$h ]] || fail "$f includes \"$h\", which is not a common header"
    done < <(includes "$f")
done
for f in indexer/*.c indexer/*.h indexer/include/aw/*.h; do
    while read -r h; do
        [[ -z $h ]] && continue
        checks=$((checks + 1))
        is_common "$h" || [[ -f indexer/$h || $h == aw/indexer.h ]] ||
            fail "$f includes \"$h\": the indexer builds on common only"
    done < <(includes "$f")
done
for f in ingest/*.c ingest/*.h ingest/include/aw/*.h; do
    while read -r h; do
        [[ -z $h ]] && continue
        checks=$((checks + 1))
        is_common "$h" || [[ -f ingest/$h || $h == aw/indexer.h || -f ingest/include/$h ]] ||
            fail "$f includes \"$h\": ingest reaches the indexer only through aw/indexer.h"
    done < <(includes "$f")
done
for f in $(ls policy/*.c policy/*.h policy/include/aw/*.h 2>/dev/null); do
    while read -r h; do
        [[ -z $h ]] && continue
        checks=$((checks + 1))
        is_common "$h" || [[ -f policy/$h || -f policy/include/$h || $h == aw/indexer.h ]] ||
            fail "$f includes \"$h\": policy talks to PostgreSQL and the store through common"
    done < <(includes "$f")
done

only_in() { # system header, the one file allowed to include it
    local hdr=$1 allowed=$2 hits
    hits=$(grep -l "^#include <$hdr" --include='*.c' --include='*.h' -r common ingest indexer policy cmd 2>/dev/null || true)
    checks=$((checks + 1))
    [[ -z $hits || $hits == "$allowed" ]] || fail "<$hdr> is included by: $(echo $hits) (only $allowed may)"
}
only_in libpq-fe.h common/pg.c
only_in curl/ common/http.c
only_in openssl/ common/hash.c
only_in libxml/ common/s3xml.c

while read -r n f; do
    [[ $f == total ]] && continue
    checks=$((checks + 1))
    ((n <= 800)) || fail "$f has $n lines (at most 800: split it along its sections)"
done < <(wc -l common/*.c ingest/*.c indexer/*.c cmd/*.c $(ls policy/*.c 2>/dev/null))
echo "layout.sh: $checks checks passed"

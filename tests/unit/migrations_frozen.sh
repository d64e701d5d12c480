#!/usr/bin/env bash
# Shipped migrations are frozen (sql/README.md). Fails when:
#  - a file listed in sql/shipped.sha256 differs from its checksum there;
#  - a sql/NNNN_*.sql file is not listed;
#  - git history shows a line of sql/shipped.sha256 changed or removed (so
#    editing a migration and its line together does not pass either).
set -euo pipefail
cd "$(dirname "$0")/../../sql"
checks=0
fail() { echo "migrations_frozen.sh: $*" >&2; exit 1; }

while read -r sum file; do
    [[ -f $file ]] || fail "sql/$file is listed in sql/shipped.sha256 but missing"
    got=$(sha256sum "$file" | cut -d' ' -f1)
    checks=$((checks + 1))
    [[ $got == "$sum" ]] || fail "sql/$file shipped with sha256 $sum and now has $got: shipped migrations are never edited; restore it and put the change in a new numbered file"
done <shipped.sha256

for f in [0-9][0-9][0-9][0-9]_*.sql; do
    checks=$((checks + 1))
    grep -q "  $f\$" shipped.sha256 || fail "sql/$f is not listed in sql/shipped.sha256: add its line (cd sql && sha256sum $f >> shipped.sha256)"
done

if git rev-parse --git-dir >/dev/null 2>&1; then
    # every version of the list in history must be a prefix of the current one
    while read -r rev; do
        old=$(git show "$rev:sql/shipped.sha256" 2>/dev/null) || continue
        while IFS= read -r line; do
            [[ -n $line ]] || continue
            checks=$((checks + 1))
            grep -qxF -- "$line" shipped.sha256 || fail "commit ${rev:0:12} listed [$line], which sql/shipped.sha256 no longer has: a shipped migration was edited or removed"
        done <<<"$old"
    done < <(git log --format=%H -- shipped.sha256 2>/dev/null)
fi
echo "migrations_frozen.sh: $checks checks passed"

# Helpers for the integration tests (sourced). Every check prints what it
# expected and what it got, with the calling script and line, and a failed
# check ends the test with status 1.
set -euo pipefail

AW_BIN=${AW_BIN:?AW_BIN must point at the artifact-watch binary (ctest sets it)}
ITEST_BIN=${ITEST_BIN:?ITEST_BIN must point at the integration helpers (ctest sets it)}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CHECKS=0

fail() { # reports the test script's own line, not this library's
    local i
    for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
        [[ ${BASH_SOURCE[i]} == *lib.sh ]] || break
    done
    printf '%s:%s: %s\n' "$(basename "${BASH_SOURCE[i]:-$0}")" "${BASH_LINENO[i - 1]:-?}" "$*" >&2
    exit 1
}

expect_eq() { # description expected actual
    CHECKS=$((CHECKS + 1))
    [[ $2 == "$3" ]] || fail "$1: expected [$2], got [$3]"
}

expect_contains() { # description haystack needle
    CHECKS=$((CHECKS + 1))
    [[ $2 == *"$3"* ]] || fail "$1: [$2] does not contain [$3]"
}

expect_status() { # description expected-status command...
    local want=$2 got=0
    shift 2
    "$@" || got=$?
    CHECKS=$((CHECKS + 1))
    [[ $got == "$want" ]] || fail "exit status of $*: expected $want, got $got"
}

wait_for() { # description seconds 'shell condition': polls until it holds
    local deadline=$((SECONDS + $2))
    until eval "$3"; do
        ((SECONDS < deadline)) || fail "timed out after $2 s waiting for: $1"
        sleep 0.3
    done
}

# Starts odd_store.py (a store answering HEAD with the headers of the JSON
# object $1; ODD_BODIES in the environment picks GET bodies) with its request
# log in $2; sets odd_url and odd_pid.
start_odd_store() {
    ODD_HEAD=$1 python3 "$(dirname "${BASH_SOURCE[0]}")/odd_store.py" >"$2.port" 2>"$2" &
    odd_pid=$!
    wait_for "the odd store to listen" 10 "[[ -s '$2.port' ]] || ! kill -0 $odd_pid 2>/dev/null"
    [[ -s $2.port ]] || fail "the odd store did not start: $(tail -3 "$2")"
    odd_url=http://127.0.0.1:$(cat "$2.port")
}

done_ok() { printf '%s: %d checks passed\n' "$(basename "$0")" "$CHECKS"; }

require_stack() {
    [[ -n ${AW_PG_URI:-} && -n ${AW_KAFKA_BROKERS:-} && -n ${AWS_ENDPOINT_URL_S3:-} ]] ||
        fail "the stack's settings are not in the environment: run scripts/stack up and eval \"\$(scripts/stack env)\""
}

# A bucket name no earlier run used (3-63 lowercase characters).
unique_bucket() { printf '%s-%s-%s' "$1" "$(date +%s)" "$RANDOM"; }

s3() { aws s3 "$@" --only-show-errors; }
sql() { psql -X -At -v ON_ERROR_STOP=1 "$@"; }
# rows BUCKET: how many of its objects the index holds as present
rows() { sql -c "SELECT count(*) FROM aw.objects WHERE bucket = '$1' AND state = 'present'"; }
s3api() { aws s3api "$@"; }

# upload_n BUCKET N: creates the bucket, uploads N small objects (staged under
# $work) and waits until their N events are in Kafka
upload_n() {
    s3api create-bucket --bucket "$1" >/dev/null
    mkdir -p "$work/$1"
    for i in $(seq 1 "$2"); do echo "$1 object $i" >"$work/$1/o$i.txt"; done
    aws s3 cp --recursive --only-show-errors "$work/$1" "s3://$1/"
    "$ITEST_BIN/kafka_events" --bucket "$1" --min "$2" --timeout 60 >/dev/null
}
# dead_letters TEXT: how many records of the dead-letter topic mention TEXT
dead_letters() { "$ITEST_BIN/kafka_tool" dump "$AW_KAFKA_DLQ_TOPIC" | grep -cF "$1" || true; }

# Starts faultproxy.py in front of upstream $1 (default: the stack's S3),
# with its stderr in $2; sets proxy_url and proxy_pid (killed at exit by the
# caller's trap, or by stop_proxy).
start_proxy() {
    python3 "$(dirname "${BASH_SOURCE[0]}")/faultproxy.py" "${1:-$AWS_ENDPOINT_URL_S3}" >"$2.port" 2>"$2" &
    proxy_pid=$!
    wait_for "the fault proxy to listen" 10 "[[ -s '$2.port' ]] || ! kill -0 $proxy_pid 2>/dev/null"
    [[ -s $2.port ]] || fail "the fault proxy did not start: $(tail -3 "$2")"
    proxy_url=http://127.0.0.1:$(cat "$2.port")
}
stop_proxy() { [[ -n ${proxy_pid:-} ]] && kill "$proxy_pid" 2>/dev/null; proxy_pid=; true; }
# proxy_rules JSON: the fault rules from now on (faultproxy.py); proxy_log: its requests
proxy_rules() { curl -sf -X PUT --data-binary "$1" "$proxy_url/__proxy/rules" >/dev/null; }
proxy_log() { curl -sf "$proxy_url/__proxy/log"; }
proxy_clear() { curl -sf -X PUT "$proxy_url/__proxy/clear" >/dev/null; }

# Starts a second versitygw (another store: its own port, data and
# credentials, no bucket notifications) under $1; sets mirror_url,
# mirror_pid, MIRROR_KEY and MIRROR_SECRET. maws runs the AWS CLI against it.
start_mirror() {
    local d=$1 port
    mkdir -p "$d/data" "$d/versions" "$d/iam"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    MIRROR_KEY=mirrorkey MIRROR_SECRET=mirror-secret-key-0001
    "$AW_STACK_VERSITYGW" --port "127.0.0.1:$port" --access "$MIRROR_KEY" --secret "$MIRROR_SECRET" \
        --region us-east-1 --health /health --iam-dir "$d/iam" \
        posix --versioning-dir "$d/versions" "$d/data" >"$d/versitygw.log" 2>&1 &
    mirror_pid=$!
    mirror_url=http://127.0.0.1:$port
    wait_for "the mirror store to answer" 20 "curl -sf '$mirror_url/health' >/dev/null || ! kill -0 $mirror_pid"
    kill -0 "$mirror_pid" || fail "the mirror store did not start: $(tail -3 "$d/versitygw.log")"
}
maws() {
    AWS_ACCESS_KEY_ID=$MIRROR_KEY AWS_SECRET_ACCESS_KEY=$MIRROR_SECRET AWS_ENDPOINT_URL=$mirror_url \
        AWS_ENDPOINT_URL_S3=$mirror_url aws "$@"
}

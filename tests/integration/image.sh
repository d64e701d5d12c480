#!/usr/bin/env bash
# The container image, built here by scripts/image (buildah, a debootstrapped
# debian:bookworm-slim) and run with buildah run against the local stack:
#  - the image's configuration: a numeric non-root user, the entrypoint, the
#    OCI labels;
#  - `artifact-watch version` inside it;
#  - `migrate` and `ingest --drain` from the image index uploads made with the
#    AWS CLI, with the digests sha256sum gives; `backfill` from the image then
#    finds nothing to do.
source "$(dirname "$0")/lib.sh"
require_stack
export STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
image=$("$REPO/scripts/image" 2>"${TMPDIR:-/tmp}/aw-image.log") ||
    fail "scripts/image failed: $(tail -5 "${TMPDIR:-/tmp}/aw-image.log")"
ctr=$(buildah from --pull=never "$image")
work=$(mktemp -d)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

cfg() { buildah inspect --type image --format "$1" "$image"; }
expect_eq "image user" "10001:10001" "$(cfg '{{.OCIv1.Config.User}}')"
expect_eq "entrypoint" "[/usr/bin/artifact-watch]" "$(cfg '{{.OCIv1.Config.Entrypoint}}')"
expect_contains "version label" "$(cfg '{{index .OCIv1.Config.Labels "org.opencontainers.image.version"}}')" "0.1.0"
expect_eq "revision label" "$(git -C "$REPO" rev-parse HEAD)" \
    "$(cfg '{{index .OCIv1.Config.Labels "org.opencontainers.image.revision"}}')"
size=$(buildah images --format '{{.Size}}' "$image" | head -n 1)
echo "image.sh: $image is $size"

run() { # artifact-watch ARGS... inside the image, with the stack's settings
    buildah run --isolation chroot \
        --env AW_PG_URI="$AW_PG_URI" --env AW_KAFKA_BROKERS="$AW_KAFKA_BROKERS" \
        --env AWS_ENDPOINT_URL_S3="$AWS_ENDPOINT_URL_S3" --env AWS_REGION="$AWS_REGION" \
        --env AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" --env AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
        --env AW_S3_PATH_STYLE=true "$ctr" -- /usr/bin/artifact-watch "$@"
}
expect_contains "version inside the image" "$(run version)" "artifact-watch 0.1.0"
expect_eq "the process is not root" "10001" "$(buildah run --isolation chroot "$ctr" -- /usr/bin/id -u)"
run migrate >/dev/null

b=$(unique_bucket image)
s3api create-bucket --bucket "$b" >/dev/null
for i in 1 2 3; do head -c $((i * 1000)) /dev/urandom >"$work/f$i.bin"; done
aws s3 cp --recursive --only-show-errors "$work" "s3://$b/in/"
"$ITEST_BIN/kafka_events" --bucket "$b" --min 3 --timeout 60 >/dev/null
run ingest --drain --group "image-$(date +%s)-$RANDOM" --log-level warn
for i in 1 2 3; do
    expect_eq "digest of f$i.bin indexed from the image" "$(sha256sum <"$work/f$i.bin" | cut -d' ' -f1)" \
        "$(psql -X -At "$AW_PG_URI" -c "SELECT sha256 FROM aw.objects WHERE bucket = '$b' AND key = 'in/f$i.bin'")"
done
expect_contains "backfill from the image" "$(run backfill "s3://$b")" "listed 3; indexed 0 (new 0, changed 0); unchanged 3"
done_ok

/* libFuzzer harness: bucket notification decoding (ingest/event.c). The
 * first byte picks the key encoding; every result must be a known code, and
 * every decoded event must hold only fields that passed validation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    aw_key_encoding enc = (aw_key_encoding)(data[0] % 3);
    aw_events evs;
    char err[512];
    int rc = aw_event_decode((const char *)data + 1, size - 1, enc, &evs, err, sizeof err);
    if (rc != AW_OK && rc != AW_ESKIP && rc != AW_EPARSE && rc != AW_EUNSUPPORTED &&
        rc != AW_EINVALID && rc != AW_ENOMEM)
        abort();
    for (size_t i = 0; i < evs.n; i++) {
        const aw_event *e = &evs.v[i];
        if (!aw_bucket_name_ok(e->bucket) || strlen(e->key) != e->key_len ||
            !aw_utf8_valid(e->key, e->key_len) || (e->etag && !aw_token_ok(e->etag, AW_ETAG_MAX)) ||
            e->size < -1 || e->size > AW_OBJECT_SIZE_MAX)
            abort();
    }
    aw_events_clear(&evs);
    return 0;
}

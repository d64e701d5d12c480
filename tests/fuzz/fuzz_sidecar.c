/* libFuzzer harness: the sidecar reader (indexer/sidecar.c). The first byte
 * picks the kind; the error text must stay valid UTF-8 on one line, and the
 * declarations within their caps. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "sidecar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    aw_sidecar_kind k = (aw_sidecar_kind)(1 + data[0] % (AW_SC_NKINDS - 1));
    aw_sidecar_doc d;
    if (aw_sidecar_parse(k, (const char *)data + 1, size - 1, false, (long long)size,
                         "model.bin", &d) != AW_OK)
        return 0; /* out of memory */
    if (!aw_utf8_valid(d.error, strlen(d.error)) || strchr(d.error, '\n') ||
        d.nparents > AW_SIDECAR_MAX_DECLS)
        abort();
    for (size_t i = 0; i < d.nparents; i++)
        if (!aw_bucket_name_ok(d.parents[i].bucket) || strlen(d.parents[i].key) > 1024)
            abort();
    aw_sidecar_keep_outputs_in(&d, "own-bucket");
    aw_sidecar_doc_clear(&d);
    return 0;
}

/* libFuzzer harness: the config file parser (common/config.c), in memory.
 * The first byte says whether the text is read as settings or as librdkafka
 * properties; an error must name the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    FILE *f = fmemopen((void *)(data + 1), size - 1, "r");
    if (!f)
        return 0;
    aw_config cfg;
    if (aw_config_init(&cfg) != AW_OK) {
        fclose(f);
        return 0;
    }
    char err[1024] = "";
    int rc = aw_config_load_stream(&cfg, data[0] & 1 ? AW_CMD_INGEST : AW_CMD_ALL, f,
                                   "fuzz.conf", data[0] & 2, err, sizeof err);
    if ((rc != AW_OK && rc != AW_ECONFIG && rc != AW_ENOMEM) ||
        (rc == AW_ECONFIG && strncmp(err, "fuzz.conf:", 10)))
        abort(); /* every complaint names the file and line */
    fclose(f);
    aw_config_free(&cfg);
    return 0;
}

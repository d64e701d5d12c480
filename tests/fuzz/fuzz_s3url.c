/* libFuzzer harness: the S3 URL builder (common/store/s3url.c). The input is
 * "bucket\0key\0version"; whatever it holds, a URL that is built must carry
 * no byte a request line could not, and must go to the endpoint's host (or
 * the bucket as a label of it, virtual-hosted): a crafted bucket never
 * sends the signed request elsewhere. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *url, const char *want_host_prefix) {
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            abort();
    const char *host = strstr(url, "://") + 3;
    size_t hl = strcspn(host, "/?");
    if (hl != strlen(want_host_prefix) || strncmp(host, want_host_prefix, hl))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 3);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = buf[size + 2] = '\0';
    const char *bucket = buf;
    const char *key = bucket + strlen(bucket) + 1;
    const char *version = key < buf + size + 1 ? key + strlen(key) + 1 : "";
    if (key > buf + size)
        key = "";
    if (version > buf + size + 2)
        version = "";
    char url[16384];
    if (aw_s3_url("https://s3.example.net:9000", true, bucket, key, version, NULL, url,
                  sizeof url) == AW_OK)
        check(url, "s3.example.net:9000");
    if (aw_s3_url("https://s3.example.net:9000", false, bucket, key, version, "list-type=2",
                  url, sizeof url) == AW_OK) {
        char host[400];
        if (strlen(bucket) > 300)
            abort();
        strcpy(host, bucket);
        strcat(host, ".s3.example.net:9000");
        check(url, host);
    }
    free(buf);
    return 0;
}

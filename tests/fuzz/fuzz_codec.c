/* libFuzzer harness: the codecs of outside text (common/codec.c) and S3's
 * error code reader: decoding, encoding, escaping, UTF-8, object URIs and
 * bucket names, each checked against a property it promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data;
    char *out;
    size_t olen;
    for (int form = 0; form < 2; form++)
        if (aw_urldecode(in, size, form, &out, &olen) == AW_OK) {
            if (strlen(out) != olen)
                abort(); /* a NUL never comes out */
            free(out);
        }
    char enc[4096];
    size_t pos = 0;
    if (aw_uriencode(in, size < 1000 ? size : 1000, true, enc, sizeof enc, &pos) == AW_OK)
        for (size_t i = 0; i < pos; i++)
            if ((unsigned char)enc[i] <= ' ' || (unsigned char)enc[i] >= 0x7f)
                abort(); /* nothing but URL characters */
    char esc[512];
    size_t el = aw_escape_text(in, size, esc, sizeof esc);
    if (el != strlen(esc) || !aw_utf8_valid(esc, el))
        abort();
    for (size_t i = 0; i < el; i++)
        if ((unsigned char)esc[i] < 0x20 || esc[i] == 0x7f)
            abort(); /* one line, nothing for a terminal */
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    aw_utf8_trim(copy);
    char *b, *k;
    if (aw_object_uri_parse(copy, &b, &k) == AW_OK) {
        if (!*b || !*k || strchr(b, '/'))
            abort();
        free(b);
        free(k);
    }
    if (aw_bucket_dns_ok(copy) && !aw_bucket_name_ok(copy))
        abort(); /* a DNS-safe name is a bucket name */
    char code[64];
    aw_s3_error_code(in, size, code, sizeof code);
    if (*code && !aw_token_ok(code, sizeof code))
        abort();
    free(copy);
    return 0;
}

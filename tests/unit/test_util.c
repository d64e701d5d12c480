/* Hashing, hex, URL coding, UTF-8, object URIs and error names. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aw/codec.h"
#include "aw/err.h"
#include "aw/hash.h"
#include "aw/log.h"
#include "test.h"

static void sha_of(const char *s, size_t len, char hex[65]) {
    aw_hash *h;
    uint8_t d[32];
    ASSERT_INT_EQ(aw_hash_new(false, &h), AW_OK);
    ASSERT_INT_EQ(aw_hash_update(h, s, len), AW_OK);
    ASSERT_INT_EQ(aw_hash_final(h, d, NULL), AW_OK);
    aw_hash_destroy(h);
    aw_hex(d, 32, hex);
}

/* The digest of data fed in pieces of `piece` bytes, SHA-256 and MD5 as hex. */
static void fed_in_pieces(const unsigned char *data, size_t len, size_t piece, char sha[65],
                          char md5[33]) {
    aw_hash *h;
    uint8_t d[32], m[16];
    ASSERT_INT_EQ(aw_hash_new(true, &h), AW_OK);
    /* a first digest thrown away by a reset, as a retried download does */
    ASSERT_INT_EQ(aw_hash_update(h, data, len / 2), AW_OK);
    ASSERT_INT_EQ(aw_hash_reset(h), AW_OK);
    for (size_t off = 0; off < len; off += piece)
        ASSERT_INT_EQ(aw_hash_update(h, data + off, len - off < piece ? len - off : piece), AW_OK);
    ASSERT_INT_EQ(aw_hash_final(h, d, m), AW_OK);
    aw_hash_destroy(h);
    aw_hex(d, 32, sha);
    aw_hex(m, 16, md5);
}

/* Past 1 MiB a hash moves to a thread of its own: the same digests at and
 * around that point and the ring's slot size, whatever the pieces. */
static void hash_thread(void) {
    size_t big = (5u << 20) + 3;
    unsigned char *data = malloc(big);
    ASSERT(data != NULL);
    for (size_t i = 0; i < big; i++)
        data[i] = (unsigned char)(i * 2654435761u >> 13);
    const size_t sizes[] = {0, 1, (1u << 20) - 1, 1u << 20, (1u << 20) + 1, (1u << 20) + (256u << 10),
                            (1u << 20) + (256u << 10) + 1, (3u << 20), big};
    const size_t pieces[] = {1, 4096, 131072, 300000, 1u << 22};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char want[65], first_md5[33] = "";
        ASSERT_INT_EQ(aw_sha256_hex(data, sizes[i], want), AW_OK);
        for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
            if (pieces[k] == 1 && sizes[i] > (2u << 20))
                continue; /* a byte at a time is slow, and covered by the smaller sizes */
            char sha[65], md5[33];
            fed_in_pieces(data, sizes[i], pieces[k], sha, md5);
            ASSERT_STR_EQ(sha, want);
            if (first_md5[0])
                ASSERT_STR_EQ(md5, first_md5);
            else
                memcpy(first_md5, md5, 33);
        }
    }
    /* MD5 of the empty input, for the MD5 side */
    char sha[65], md5[33];
    fed_in_pieces(data, 0, 4096, sha, md5);
    ASSERT_STR_EQ(md5, "d41d8cd98f00b204e9800998ecf8427e");
    /* destroyed mid-way with the thread running: nothing leaks, nothing hangs */
    aw_hash *h;
    ASSERT_INT_EQ(aw_hash_new(false, &h), AW_OK);
    ASSERT_INT_EQ(aw_hash_update(h, data, 3u << 20), AW_OK);
    aw_hash_destroy(h);
    free(data);
}

static void decodes(const char *in, bool form, const char *want) {
    char *out;
    size_t n;
    ASSERT_INT_EQ(aw_urldecode(in, strlen(in), form, &out, &n), AW_OK);
    ASSERT_STR_EQ(out, want);
    ASSERT_INT_EQ(n, strlen(want));
    free(out);
}

/* What aw_log writes for one message, read back from its stderr. */
static void log_line(const char *msg, char *out, size_t cap) {
    int fds[2], saved = dup(2);
    ASSERT(pipe(fds) == 0 && saved >= 0);
    dup2(fds[1], 2);
    aw_log(AW_LOG_ERROR, "test", "key %s", msg);
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], out, cap - 1);
    close(fds[0]);
    ASSERT(n > 0);
    out[n] = '\0';
}

int main(void) {
    char hex[65];
    CASE("SHA-256 and MD5, whole and streamed, on threads") {
        hash_thread();
        sha_of("", 0, hex);
        ASSERT_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        sha_of("abc", 3, hex);
        ASSERT_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

        /* streaming in odd chunks gives the same digest as one update */
        static char big[100000];
        for (size_t i = 0; i < sizeof big; i++)
            big[i] = (char)(i * 7 + 3);
        char one[65], chunked[65];
        sha_of(big, sizeof big, one);
        aw_hash *h;
        uint8_t d[32], md5[16];
        ASSERT_INT_EQ(aw_hash_new(true, &h), AW_OK);
        for (size_t off = 0; off < sizeof big; off += 4093) {
            size_t l = sizeof big - off < 4093 ? sizeof big - off : 4093;
            ASSERT_INT_EQ(aw_hash_update(h, big + off, l), AW_OK);
        }
        ASSERT_INT_EQ(aw_hash_final(h, d, md5), AW_OK);
        aw_hex(d, 32, chunked);
        ASSERT_STR_EQ(chunked, one);
        ASSERT_INT_EQ(aw_hash_reset(h), AW_OK);
        ASSERT_INT_EQ(aw_hash_update(h, "abc", 3), AW_OK);
        ASSERT_INT_EQ(aw_hash_final(h, d, md5), AW_OK);
        char md5hex[33];
        aw_hex(md5, 16, md5hex);
        ASSERT_STR_EQ(md5hex, "900150983cd24fb0d6963f7d28e17f72");
        aw_hash_destroy(h);
        aw_hash_destroy(NULL);
    }

    CASE("URL decoding and encoding of keys") {
        decodes("a+b%2Fc", true, "a b/c");
        decodes("a+b%2Fc", false, "a+b/c");
        decodes("caf%C3%A9+%E2%9C%93.csv", true, "caf\xc3\xa9 \xe2\x9c\x93.csv");
        decodes("100%25", true, "100%");
        char *out;
        size_t n;
        ASSERT_INT_EQ(aw_urldecode("bad%2", 5, true, &out, &n), AW_EPARSE);
        ASSERT_INT_EQ(aw_urldecode("bad%zz", 6, true, &out, &n), AW_EPARSE);
        ASSERT_INT_EQ(aw_urldecode("nul%00x", 7, true, &out, &n), AW_EPARSE);

        char buf[64];
        size_t pos = 0;
        ASSERT_INT_EQ(aw_uriencode("a b/c+%\xc3\xa9~", 10, true, buf, sizeof buf, &pos), AW_OK);
        ASSERT_STR_EQ(buf, "a%20b/c%2B%25%C3%A9~");
        pos = 0;
        ASSERT_INT_EQ(aw_uriencode("a/b", 3, false, buf, sizeof buf, &pos), AW_OK);
        ASSERT_STR_EQ(buf, "a%2Fb");
        pos = 0;
        ASSERT_INT_EQ(aw_uriencode("abcdef", 6, false, buf, 4, &pos), AW_EINVAL);
    }

    CASE("error names") {
        ASSERT_STR_EQ(aw_err_name(AW_OK), "AW_OK");
        ASSERT_STR_EQ(aw_err_name(AW_EPARSE), "AW_EPARSE");
        ASSERT_STR_EQ(aw_strerror(AW_ECHECKSUM), "checksum mismatch");
        ASSERT_STR_EQ(aw_err_name(12345), "AW_E?");
    }

    CASE("object URIs") {
        /* object URIs: the schemes pipelines write, and what is not one */
        char *bk, *ky;
        ASSERT_INT_EQ(aw_object_uri_parse("s3://ml/a/b c.csv", &bk, &ky), AW_OK);
        ASSERT_STR_EQ(bk, "ml");
        ASSERT_STR_EQ(ky, "a/b c.csv");
        free(bk);
        free(ky);
        ASSERT_INT_EQ(aw_object_uri_parse("S3A://lake/x", &bk, &ky), AW_OK);
        ASSERT_STR_EQ(bk, "lake");
        free(bk);
        free(ky);
        ASSERT_INT_EQ(aw_object_uri_parse("s3://bucket-only", &bk, &ky), AW_EPARSE);
        ASSERT_INT_EQ(aw_object_uri_parse("s3://bucket/", &bk, &ky), AW_EPARSE);
        ASSERT_INT_EQ(aw_object_uri_parse("https://x/y", &bk, &ky), AW_EPARSE);
        ASSERT_INT_EQ(aw_object_uri_parse("s3:///key", &bk, &ky), AW_EPARSE);
        ASSERT_INT_EQ(aw_object_scheme_len("gs://b/k"), 5);
        ASSERT_INT_EQ(aw_object_scheme_len("file:///x"), 0);
    }

    CASE("text escaped for one line, cut between characters") {
        /* text for one log line: controls, C1 controls and non-UTF-8 escaped */
        char esc[64];
        aw_escape_text("a\nb\x1b[31mc\xc2\x9b\xff\\ \xc3\xa9", 16, esc, sizeof esc);
        ASSERT_STR_EQ(esc, "a\\x0ab\\x1b[31mc\\xc2\\x9b\\xff\\\\ \xc3\xa9");
        ASSERT_INT_EQ(aw_escape_text("\xe6\x95\xb0\xe6\x95\xb0", 6, esc, 6), 3); /* cut between */
        ASSERT_STR_EQ(esc, "\xe6\x95\xb0");
        char cut[16] = "ab\xe6\x95";
        aw_utf8_trim(cut);
        ASSERT_STR_EQ(cut, "ab");
        char whole[16] = "ab\xe6\x95\xb0";
        aw_utf8_trim(whole);
        ASSERT_STR_EQ(whole, "ab\xe6\x95\xb0");
    }

    CASE("bucket names, tokens, header text") {
        /* bucket names */
        ASSERT(aw_bucket_name_ok("ml-artifacts"));
        ASSERT(aw_bucket_name_ok("Legacy_Bucket.2017"));
        ASSERT(aw_bucket_name_ok("my.gcs_bucket-1"));
        ASSERT(!aw_bucket_name_ok("ab"));
        ASSERT(!aw_bucket_name_ok("a/b-c"));
        ASSERT(!aw_bucket_name_ok("evil.com:80@x"));
        ASSERT(!aw_bucket_name_ok("a..b"));
        ASSERT(!aw_bucket_name_ok("-abc"));
        ASSERT(!aw_bucket_name_ok("abc\n"));
        ASSERT(aw_bucket_dns_ok("ml-artifacts.v2"));
        ASSERT(!aw_bucket_dns_ok("Upper"));
        ASSERT(!aw_bucket_dns_ok("under_score"));
        ASSERT(!aw_bucket_dns_ok("192.168.1.1"));
        ASSERT(!aw_bucket_dns_ok("a.-b"));
        ASSERT(!aw_bucket_dns_ok("a-.b"));
        ASSERT(aw_token_ok("3858f62230ac3c915f300c664312c11f-9", 256));
        ASSERT(!aw_token_ok("abc\r\nX: y", 256));
        ASSERT(!aw_token_ok("a\"b", 256));
        ASSERT(!aw_token_ok("", 256));
        ASSERT(aw_printable_ok("text/plain; charset=utf-8", 256));
        ASSERT(!aw_printable_ok("text/\x7f", 256));
    }

    CASE("checksums in hex and base64") {
        ASSERT_INT_EQ(aw_sha256_hex("abc", 3, hex), AW_OK);
        char h64[65];
        /* the store's checksum header: base64 of exactly 32 bytes, else refused */
        ASSERT_INT_EQ(aw_sha256_b64_hex("WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM=", h64), AW_OK);
        ASSERT_STR_EQ(h64, "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
        ASSERT_INT_EQ(aw_sha256_b64_hex("WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vg==", h64), AW_EINVAL);
        ASSERT_INT_EQ(aw_sha256_b64_hex("WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2v*M=", h64), AW_EINVAL);
        ASSERT_INT_EQ(aw_sha256_b64_hex("", h64), AW_EINVAL);
        ASSERT_INT_EQ(aw_sha256_b64_hex("AAAA", h64), AW_EINVAL);
    }

    CASE("log lines, text and JSON") {
        /* a log line is one line whatever the outside text in it */
        char line[4096];
        log_line("a\n2026-01-01T00:00:00.000Z ERROR forged\x1b[2J\xc2\x9b\xff caf\xc3\xa9", line,
                 sizeof line);
        ASSERT(strchr(line, '\n') == line + strlen(line) - 1);
        ASSERT_CONTAINS(line, " ERROR test: key a\\x0a2026-01-01T00:00:00.000Z ERROR forged"
                              "\\x1b[2J\\xc2\\x9b\\xff caf\xc3\xa9\n");
        /* --log-format json: one object per line, valid JSON whatever the text */
        aw_log_json = true;
        log_line("say \"hi\" \\ back\nslash\t\xff caf\xc3\xa9", line, sizeof line);
        aw_log_json = false;
        ASSERT(strchr(line, '\n') == line + strlen(line) - 1);
        json_error_t je;
        json_t *doc = json_loads(line, 0, &je);
        ASSERT(doc != NULL);
        ASSERT_STR_EQ(json_string_value(json_object_get(doc, "level")), "error");
        ASSERT_STR_EQ(json_string_value(json_object_get(doc, "component")), "test");
        ASSERT_STR_EQ(json_string_value(json_object_get(doc, "message")),
                      "key say \"hi\" \\\\ back\\x0aslash\\x09\\xff caf\xc3\xa9");
        ASSERT(strlen(json_string_value(json_object_get(doc, "time"))) == 24);
        json_decref(doc);
        ASSERT_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    CASE("UTF-8 validation") {
        { const char *ok = "caf\xc3\xa9 \xe6\x95\xb0 \xf0\x9f\x98\x80"; ASSERT(aw_utf8_valid(ok, strlen(ok))); }
        ASSERT(!aw_utf8_valid("\xff", 1));
        ASSERT(!aw_utf8_valid("\xc3", 1));            /* truncated */
        ASSERT(!aw_utf8_valid("\xc0\xaf", 2));        /* overlong '/' */
        ASSERT(!aw_utf8_valid("\xed\xa0\x80", 3));    /* surrogate */
        ASSERT(aw_utf8_valid("", 0));
    }

    CASE("URL credentials masked; HTTP dates") {
        /* URLs' credentials are hidden, nothing else changes */
        char red[256];
        aw_url_redact("http://am:pw@alertmanager:9093/x", red, sizeof red);
        ASSERT_STR_EQ(red, "http://am:***@alertmanager:9093/x");
        aw_url_redact("https://token@host/path@x", red, sizeof red);
        ASSERT_STR_EQ(red, "https://***@host/path@x");
        aw_url_redact("http://host/a@b", red, sizeof red);
        ASSERT_STR_EQ(red, "http://host/a@b");
        aw_url_redact("not a url", red, sizeof red);
        ASSERT_STR_EQ(red, "not a url");
        aw_url_redact(NULL, red, sizeof red);
        ASSERT_STR_EQ(red, "");
        ASSERT_INT_EQ(aw_http_time("Mon, 07 Dec 2026 06:52:11 GMT"), 1796626331LL);
        ASSERT_INT_EQ(aw_http_time("yesterday"), -1);
        ASSERT_INT_EQ(aw_http_time(""), -1);
    }
    TEST_DONE();
}

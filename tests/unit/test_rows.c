/*
 * The indexer's COPY text and version identity (indexer/rows.c): how outside
 * text is escaped before PostgreSQL reads it, which fields name a version,
 * how sequencers order, and which times are passed on.
 */
#include <stdlib.h>
#include <string.h>

#include "rows.h"
#include "test.h"

/* <0, 0, >0: the order the indexer gives two sequencers of one key */
static int seq_cmp(const char *a, const char *b, bool counter) {
    char ka[128], kb[128];
    ASSERT_INT_EQ(aw_sequencer_key(a, counter, ka, sizeof ka), AW_OK);
    ASSERT_INT_EQ(aw_sequencer_key(b, counter, kb, sizeof kb), AW_OK);
    return strcmp(ka, kb);
}

/* the COPY text of one field, NUL-terminated */
static char *field_text(const char *s) {
    aw_copy_buf b = {0};
    ASSERT_INT_EQ(aw_copy_field(&b, s, '\n'), AW_OK);
    char *out = strndup(b.p, b.len);
    aw_copy_buf_free(&b);
    return out;
}

static void identity_is(const aw_observation *o, const char *ref, const char *seq) {
    char *r, *s;
    ASSERT_INT_EQ(rows_identity(o, &r, &s), AW_OK);
    ASSERT_STR_EQ(r, ref);
    if (seq)
        ASSERT_STR_EQ(s, seq);
    else
        ASSERT(s == NULL);
    free(r);
    free(s);
}

/* Fields written with aw_copy_field/aw_copy_int read back the same by aw_copy_split. */
static void copy_round_trip(void) {
    const char *in[] = {"a\\b\tc\nd\re", NULL, "\\N", "", "caf\xc3\xa9 %2F", NULL, ""};
    aw_copy_buf b = {0};
    for (size_t i = 0; i < 7; i++)
        ASSERT_INT_EQ(aw_copy_field(&b, in[i], '\t'), AW_OK);
    ASSERT_INT_EQ(aw_copy_int(&b, -9223372036854775807LL - 1, '\n'), AW_OK);
    char *line = strndup(b.p, b.len - 1), *f[10];
    ASSERT_INT_EQ(aw_copy_split(line, b.len - 1, f, 10), 8);
    for (size_t i = 0; i < 7; i++) {
        if (in[i])
            ASSERT_STR_EQ(f[i], in[i]);
        else
            ASSERT(f[i] == NULL);
    }
    ASSERT_STR_EQ(f[7], "-9223372036854775808");
    free(line);
    /* more fields than asked for */
    line = strndup(b.p, b.len - 1);
    ASSERT_INT_EQ(aw_copy_split(line, b.len - 1, f, 3), -1);
    free(line);
    aw_copy_buf_free(&b);
    /* what the server may write besides: octal, hex, \b \f \v, a trailing empty field */
    char other[] = "\\101\\x42\\b\\f\\v\tx\t";
    ASSERT_INT_EQ(aw_copy_split(other, strlen(other), f, 4), 3);
    ASSERT_STR_EQ(f[0], "AB\b\f\v");
    ASSERT_STR_EQ(f[1], "x");
    ASSERT_STR_EQ(f[2], "");
    char empty[] = "";
    ASSERT_INT_EQ(aw_copy_split(empty, 0, f, 1), 1);
    ASSERT_STR_EQ(f[0], "");
}

/* Which batches name a version twice: the lines rows_object writes, compared
 * by store, bucket, key and version_ref only. */
static void versions_unique(void) {
    aw_copy_buf b = {0};
    ASSERT(rows_versions_unique(&b)); /* no lines */
    aw_observation o = {.kind = AW_OBS_CREATED, .store = "s", .bucket = "b", .key = "k",
                        .sequencer = "0A", .topic = "t", .offset = 1};
    ASSERT_INT_EQ(rows_object(&b, &o), AW_OK);
    ASSERT(rows_versions_unique(&b));
    /* another version of the key, then the same key in another bucket, and
     * keys that differ only past a tab or in a prefix */
    o.sequencer = "0B";
    ASSERT_INT_EQ(rows_object(&b, &o), AW_OK);
    o.bucket = "b2";
    ASSERT_INT_EQ(rows_object(&b, &o), AW_OK);
    o.key = "k\tx";
    ASSERT_INT_EQ(rows_object(&b, &o), AW_OK);
    o.key = "k\t";
    ASSERT_INT_EQ(rows_object(&b, &o), AW_OK);
    o.key = "kk";
    ASSERT_INT_EQ(rows_object(&b, &o), AW_OK);
    ASSERT(rows_versions_unique(&b));
    /* the same version again from another record, with other bytes: not unique */
    size_t before = b.len;
    o.key = "k\tx";
    o.offset = 2;
    o.has_sha256 = true;
    ASSERT_INT_EQ(rows_object(&b, &o), AW_OK);
    ASSERT(!rows_versions_unique(&b));
    /* first and last line alike */
    b.len = before;
    o = (aw_observation){.kind = AW_OBS_CREATED, .store = "s", .bucket = "b", .key = "k",
                         .sequencer = "0A", .topic = "t", .offset = 9};
    ASSERT_INT_EQ(rows_object(&b, &o), AW_OK);
    ASSERT(!rows_versions_unique(&b));
    aw_copy_buf_free(&b);
}

int main(void) {
    CASE("COPY fields read back as written") copy_round_trip();
    CASE("a batch that names each version once") versions_unique();
    CASE("COPY text, identities and the rows of every observation") {
        /* COPY text: backslash, tab, newline and CR escaped; NULL is \N */
        char *t = field_text("a\\b\tc\nd\re");
        ASSERT_STR_EQ(t, "a\\\\b\\tc\\nd\\re\n");
        free(t);
        t = field_text(NULL);
        ASSERT_STR_EQ(t, "\\N\n");
        free(t);
        t = field_text("\\N");
        ASSERT_STR_EQ(t, "\\\\N\n"); /* the text \N is not NULL */
        free(t);
        t = field_text("caf\xc3\xa9 \xe6\x95\xb0 %2F +");
        ASSERT_STR_EQ(t, "caf\xc3\xa9 \xe6\x95\xb0 %2F +\n");
        free(t);
        /* a long field grows the buffer, nothing is cut */
        size_t big = 300000;
        char *longs = malloc(big + 1);
        ASSERT(longs != NULL);
        memset(longs, '\t', big);
        longs[big] = '\0';
        t = field_text(longs);
        ASSERT_INT_EQ(strlen(t), 2 * big + 1);
        free(t);
        free(longs);

        /* sequencers: AWS right-pads with '0' and compares; versitygw counts */
        ASSERT(seq_cmp("0055AED6DCD90281E5", "0055AED6DCD90281E6", false) < 0);
        ASSERT(seq_cmp("0055AED6DCD9028", "0055AED6DCD90281E5", false) < 0);
        ASSERT(seq_cmp("0055AED6DCD90280", "0055AED6DCD9028", false) == 0);
        ASSERT(seq_cmp("0055aed6", "0055AED6", false) == 0);
        ASSERT(seq_cmp("9", "A", true) < 0);
        ASSERT(seq_cmp("F", "10", true) < 0);
        ASSERT(seq_cmp("38D", "31A", true) > 0);
        ASSERT(seq_cmp("F", "10", false) > 0); /* the same text read as AWS's */
        char k[64];
        ASSERT_INT_EQ(aw_sequencer_key("3a9", true, k, sizeof k), AW_OK);
        ASSERT_STR_EQ(k, "c000000000000000000000000000003A9");
        ASSERT_INT_EQ(aw_sequencer_key("0055aeD6", false, k, sizeof k), AW_OK);
        ASSERT_STR_EQ(k, "h0055AED6000000000000000000000000");
        ASSERT_INT_EQ(aw_sequencer_key("0055aeD6", false, k, 10), AW_EINVAL);

        /* identity: version id, else sequencer, else ETag (created only), else
         * the Kafka record */
        aw_observation o = {.kind = AW_OBS_CREATED, .version_id = "3HL4kqtJ", .sequencer = "0A",
                            .etag = "abc", .topic = "t", .partition = 2, .offset = 7};
        identity_is(&o, "v:3HL4kqtJ", "h0A000000000000000000000000000000");
        o.version_id = "";
        identity_is(&o, "s:h0A000000000000000000000000000000", "h0A000000000000000000000000000000");
        o.seq_counter = true;
        identity_is(&o, "s:c0000000000000000000000000000000A", "c0000000000000000000000000000000A");
        o.sequencer = NULL;
        identity_is(&o, "e:abc", NULL);
        o.kind = AW_OBS_DELETED; /* a delete's ETag names no bytes */
        o.record_index = 3;
        identity_is(&o, "k:t/2/7/3", NULL);
        /* a listing's: version id, else ETag and Last-Modified (the same bytes
         * written again are another version), else Last-Modified and size */
        aw_observation l = {.kind = AW_OBS_CREATED, .listed = true, .version_id = "v1", .etag = "e",
                            .last_modified = "2026-01-01T00:00:00Z", .size = 7};
        identity_is(&l, "v:v1", NULL);
        l.order_key = "h0000000000000000000000000000000A~"; /* a versioned listing's order */
        identity_is(&l, "v:v1", "h0000000000000000000000000000000A~");
        l.order_key = NULL;
        l.version_id = NULL;
        identity_is(&l, "e:e@2026-01-01T00:00:00Z", NULL);
        l.etag = "";
        identity_is(&l, "l:2026-01-01T00:00:00Z:7", NULL);
        l.kind = AW_OBS_DELETED; /* reconcile: when, and the version it ends if any */
        l.event_time = "2026-02-01T00:00:00Z";
        identity_is(&l, "r:2026-02-01T00:00:00Z:", NULL);
        /* nothing is truncated, however long */
        char *lseq = malloc(5001);
        ASSERT(lseq != NULL);
        memset(lseq, 'F', 5000);
        lseq[5000] = '\0';
        o.sequencer = lseq;
        o.seq_counter = false;
        char *r, *s;
        ASSERT_INT_EQ(rows_identity(&o, &r, &s), AW_OK);
        ASSERT_INT_EQ(strlen(r), 2 + 1 + 5000);
        ASSERT_INT_EQ(strlen(s), 1 + 5000);
        free(r);
        free(s);
        free(lseq);

        /* times: what stores send passes, anything else would fail the COPY */
        ASSERT(rows_timestamp_ok("2026-01-01T00:00:00Z"));
        ASSERT(rows_timestamp_ok("2026-01-01T00:00:00.123Z"));
        ASSERT(rows_timestamp_ok("2026-01-01 00:00:00+02:00"));
        ASSERT(rows_timestamp_ok("2026-12-31T23:59:60"));
        ASSERT(!rows_timestamp_ok(NULL));
        ASSERT(!rows_timestamp_ok("yesterday"));
        ASSERT(!rows_timestamp_ok("2026-13-01T00:00:00Z"));
        ASSERT(!rows_timestamp_ok("2026-01-01T24:00:00Z"));
        ASSERT(!rows_timestamp_ok("2026-01-01T00:00:00.Z"));
        ASSERT(!rows_timestamp_ok("2026-01-01T00:00:00Zjunk"));
        /* impossible dates a pattern would let through */
        ASSERT(!rows_timestamp_ok("2026-02-30T00:00:00Z"));
        ASSERT(!rows_timestamp_ok("2026-02-29T00:00:00Z"));
        ASSERT(rows_timestamp_ok("2028-02-29T00:00:00Z"));
        ASSERT(!rows_timestamp_ok("1900-02-29T00:00:00Z"));
        ASSERT(rows_timestamp_ok("2000-02-29T00:00:00Z"));
        ASSERT(!rows_timestamp_ok("2026-04-31T00:00:00Z"));
        ASSERT(!rows_timestamp_ok("0000-01-01T00:00:00Z"));
        ASSERT(!rows_timestamp_ok("2026-01-01T00:00:00+16:00"));
        ASSERT(!rows_timestamp_ok("2026-01-01T00:00:00+01:60"));
        ASSERT(rows_timestamp_ok("2026-01-01T00:00:00-12:45"));

        /* what still is not UTF-8 becomes U+FFFD; valid sequences stay */
        t = field_text("ok \xc3\xa9 \xff end \xe6\x95");
        ASSERT_STR_EQ(t, "ok \xc3\xa9 \xef\xbf\xbd end \xef\xbf\xbd\xef\xbf\xbd\n");
        free(t);

        /* one object row: 26 fields, escaped, NULLs where nothing is known */
        aw_observation row = {.store = "default", .bucket = "b", .key = "dir/a\tb.txt",
                              .sequencer = "0B", .etag = "", .event_time = "not a time",
                              .kind = AW_OBS_CREATED, .state = AW_OBS_PRESENT, .size = 5,
                              .has_sha256 = true, .topic = "t", .partition = 1, .offset = 9,
                              .timestamp = -1};
        aw_copy_buf b = {0};
        ASSERT_INT_EQ(rows_object(&b, &row), AW_OK);
        char *line = strndup(b.p, b.len);
        aw_copy_buf_free(&b);
        int tabs = 0;
        for (char *p = line; *p; p++)
            tabs += *p == '\t';
        ASSERT_INT_EQ(tabs, 25);
        ASSERT_CONTAINS(line, "default\tb\tdir/a\\tb.txt\ts:h0B");
        ASSERT_CONTAINS(line, "\t5\t0000000000000000000000000000000000000000000000000000000000000000\t\\N\t\\N\t\\N\t\\N\tpresent\tcreated\t");
        ASSERT_CONTAINS(line, "\tt\t1\t9\t-1\t0\tevent\t\\N\t\\N\t\\N\n");
        free(line);

        /* a listing's row: no Kafka coordinates, its source and Last-Modified */
        aw_observation listed = {.store = "default", .bucket = "b", .key = "k", .etag = "e1",
                                 .last_modified = "2026-11-27T07:30:21Z", .listed = true,
                                 .kind = AW_OBS_CREATED, .state = AW_OBS_PRESENT, .size = 5,
                                 .topic = "ignored", .partition = 3, .offset = 4};
        ASSERT_INT_EQ(rows_object(&b, &listed), AW_OK);
        line = strndup(b.p, b.len);
        aw_copy_buf_free(&b);
        ASSERT_CONTAINS(line, "default\tb\tk\te:e1@2026-11-27T07:30:21Z\t\\N\t");
        ASSERT_CONTAINS(line, "\t\\N\t\\N\t\\N\t\\N\t0\tlisting\t2026-11-27T07:30:21Z\t\\N\t\\N\n");
        free(line);

        /* a reconcile tombstone names the version it ends in its last field */
        aw_observation gone = {.store = "default", .bucket = "b", .key = "k", .version_id = "v7",
                               .event_time = "2026-11-27T08:00:00Z", .listed = true,
                               .kind = AW_OBS_DELETED, .state = AW_OBS_TOMBSTONE, .size = -1};
        ASSERT_INT_EQ(rows_object(&b, &gone), AW_OK);
        line = strndup(b.p, b.len);
        aw_copy_buf_free(&b);
        ASSERT_CONTAINS(line, "default\tb\tk\tr:2026-11-27T08:00:00Z:v7\t\\N\t");
        ASSERT_CONTAINS(line, "\tlisting\t\\N\treconcile\tv7\n");
        free(line);
    }
    TEST_DONE();
}

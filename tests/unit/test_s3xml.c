/*
 * S3 listing responses: ListObjectsV2 (URL-encoded keys with spaces, '+',
 * %2F and unicode; an empty ETag from a gateway; continuation), versions
 * with delete markers and the "null" version, ListBuckets, versioning, and
 * what must fail cleanly: an <Error>, not XML, another document, entries
 * that are not keys, entities that would expand or reach out.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aw/store.h"
#include "test.h"

#define NS " xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""

static int parse(const char *xml, aw_listing_page *p, char *err) {
    return aw_listing_parse(xml, strlen(xml), p, err, 256);
}

/* A body that breaks its declared encoding, which libxml2 would report on
 * stderr on its own. */
static const char bad_encoding[] = "<?xml version=\"1.0\" encoding=\"EUC-JP\"?>"
                                   "<ListBucketResult><Name>\xff\xff\xff</Name>"
                                   "</ListBucketResult>";

static void *parse_bad_encoding(void *arg) {
    aw_listing_page q = {0};
    char err[256];
    int rc = aw_listing_parse(bad_encoding, sizeof bad_encoding - 1, &q, err, sizeof err);
    aw_listing_page_clear(&q);
    *(int *)arg = rc;
    return NULL;
}

int main(void) {

    aw_listing_page p = {0};
    char err[256];
    aw_s3xml_init();

    CASE("ListObjectsV2, encoding-type=url") {
        ASSERT_INT_EQ(parse("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                            "<ListBucketResult" NS "><Name>b</Name><EncodingType>url</EncodingType>"
                            "<IsTruncated>true</IsTruncated>"
                            "<NextContinuationToken>tok+/=</NextContinuationToken>"
                            "<Contents><Key>dir+a/%C3%BC%252F+%2B.txt</Key>"
                            "<LastModified>2026-11-27T07:30:21Z</LastModified>"
                            "<ETag>&quot;764efa883dda1e11db47671c4a3bbd9e&quot;</ETag>"
                            "<Size>3</Size></Contents>"
                            "<Contents><Key>direct.txt</Key><LastModified>2026-11-27T07:30:21.5Z"
                            "</LastModified><ETag></ETag><Size>0</Size></Contents>"
                            "</ListBucketResult>", &p, err), AW_OK);
        ASSERT_INT_EQ(p.n, 2);
        ASSERT_STR_EQ(p.items[0].key, "dir a/\xc3\xbc%2F +.txt");
        ASSERT_STR_EQ(p.items[0].etag, "764efa883dda1e11db47671c4a3bbd9e");
        ASSERT_STR_EQ(p.items[0].last_modified, "2026-11-27T07:30:21Z");
        ASSERT_INT_EQ(p.items[0].size, 3);
        ASSERT(p.items[0].version_id == NULL && !p.items[0].delete_marker);
        ASSERT(p.items[1].etag == NULL); /* a file put behind the gateway's back */
        ASSERT_INT_EQ(p.items[1].size, 0);
        ASSERT(p.truncated);
        ASSERT_STR_EQ(p.next_token, "tok+/=");
        ASSERT_INT_EQ(p.refused, 0);
    }

    CASE("without EncodingType a key is taken as it is") {
        ASSERT_INT_EQ(parse("<ListBucketResult><IsTruncated>false</IsTruncated><Contents>"
                            "<Key>a%2Fb+c</Key><Size>1</Size></Contents></ListBucketResult>",
                            &p, err), AW_OK);
        ASSERT_STR_EQ(p.items[0].key, "a%2Fb+c");
        ASSERT(!p.truncated && p.next_token == NULL);
    }

    CASE("entries that are not keys are counted and left out, never guessed") {
        ASSERT_INT_EQ(parse("<ListBucketResult><EncodingType>url</EncodingType>"
                            "<Contents><Key>bad%00nul</Key><Size>1</Size></Contents>"
                            "<Contents><Key>%ZZ</Key><Size>1</Size></Contents>"
                            "<Contents><Key>%FF%FE</Key><Size>1</Size></Contents>"
                            "<Contents><Size>1</Size></Contents>"
                            "<Contents><Key>nosize</Key></Contents>"
                            "<Contents><Key>neg</Key><Size>-4</Size></Contents>"
                            "<Contents><Key>huge</Key><Size>9007199254740993</Size></Contents>"
                            "<Contents><Key>wraps</Key><Size>99999999999999999999</Size></Contents>"
                            "<Contents><Key>ok</Key><Size>12</Size></Contents>"
                            "<Contents><Key>max</Key><Size>9007199254740992</Size></Contents>"
                            "</ListBucketResult>", &p, err), AW_OK);
        ASSERT_INT_EQ(p.n, 2);
        ASSERT_STR_EQ(p.items[0].key, "ok");
        ASSERT_STR_EQ(p.items[1].key, "max");
        ASSERT(p.items[1].size == INT64_C(9007199254740992));
        ASSERT_INT_EQ(p.refused, 8);
        ASSERT(strlen(p.refused_why) > 0);
    }

    CASE("an ETag that If-Match could not carry is none, as an empty one is") {
        ASSERT_INT_EQ(parse("<ListBucketResult><Contents><Key>a</Key><ETag>&quot;e1/quot;</ETag>"
                            "<Size>1</Size></Contents><Contents><Key>b</Key><ETag>\"e 2\"</ETag>"
                            "<Size>1</Size></Contents><Contents><Key>c</Key><ETag>\"\"</ETag>"
                            "<Size>1</Size></Contents></ListBucketResult>", &p, err), AW_OK);
        ASSERT_INT_EQ(p.n, 3);
        ASSERT(p.items[0].etag == NULL && p.items[1].etag == NULL && p.items[2].etag == NULL);
    }

    CASE("a version id that is not one an event could carry is refused") {
        ASSERT_INT_EQ(parse("<ListVersionsResult><Version><Key>a</Key><VersionId>v 1</VersionId>"
                            "<Size>1</Size></Version><Version><Key>b</Key><VersionId>v2"
                            "</VersionId><Size>1</Size></Version></ListVersionsResult>", &p, err),
                      AW_OK);
        ASSERT_INT_EQ(p.n, 1);
        ASSERT_STR_EQ(p.items[0].version_id, "v2");
        ASSERT_INT_EQ(p.refused, 1);
        ASSERT_CONTAINS(p.refused_why, "version id");
    }

    CASE("ListObjectVersions: versions, a delete marker, the 'null' version") {
        /* ListObjectVersions: versions, a delete marker, the "null" version */
        ASSERT_INT_EQ(parse("<ListVersionsResult" NS "><EncodingType>url</EncodingType>"
                            "<IsTruncated>true</IsTruncated><NextKeyMarker>k%20x</NextKeyMarker>"
                            "<NextVersionIdMarker>v2</NextVersionIdMarker>"
                            "<Version><Key>k%20x</Key><VersionId>v3</VersionId>"
                            "<IsLatest>true</IsLatest><ETag>\"e3\"</ETag><Size>5</Size></Version>"
                            "<DeleteMarker><Key>gone</Key><VersionId>d1</VersionId>"
                            "<LastModified>2026-01-01T00:00:00Z</LastModified></DeleteMarker>"
                            "<Version><Key>old</Key><VersionId>null</VersionId><Size>0</Size>"
                            "</Version></ListVersionsResult>", &p, err), AW_OK);
        ASSERT_INT_EQ(p.n, 3);
        ASSERT(p.items[0].delete_marker); /* grouped by key: gone, k x, old */
        ASSERT_INT_EQ(p.items[0].size, -1);
        ASSERT_STR_EQ(p.items[0].version_id, "d1");
        ASSERT_STR_EQ(p.items[1].key, "k x");
        ASSERT_STR_EQ(p.items[1].version_id, "v3");
        ASSERT_STR_EQ(p.items[1].etag, "e3");
        ASSERT(p.items[1].is_latest);
        ASSERT(!p.items[0].is_latest);
        ASSERT(p.items[2].version_id == NULL);
        ASSERT_STR_EQ(p.next_key_marker, "k x");
        ASSERT_STR_EQ(p.next_version_marker, "v2");

        /* versitygw lists every delete marker of a page before the first version:
         * a key's entries come out newest first all the same (the IsLatest one,
         * then versions as listed, a marker above the first version older than it) */
        ASSERT_INT_EQ(parse("<ListVersionsResult>"
                            "<DeleteMarker><Key>b</Key><VersionId>m2</VersionId><IsLatest>true"
                            "</IsLatest><LastModified>2026-01-01T00:00:09.5Z</LastModified>"
                            "</DeleteMarker>"
                            "<DeleteMarker><Key>a</Key><VersionId>m1</VersionId><IsLatest>false"
                            "</IsLatest><LastModified>2026-01-01T00:00:05.25Z</LastModified>"
                            "</DeleteMarker>"
                            "<Version><Key>a</Key><VersionId>a3</VersionId><IsLatest>true</IsLatest>"
                            "<LastModified>2026-01-01T00:00:07Z</LastModified><Size>1</Size></Version>"
                            "<Version><Key>a</Key><VersionId>a2</VersionId><IsLatest>false"
                            "</IsLatest><LastModified>2026-01-01T00:00:05Z</LastModified>"
                            "<Size>1</Size></Version>"
                            "<Version><Key>a</Key><VersionId>a1</VersionId><IsLatest>false"
                            "</IsLatest><LastModified>2026-01-01T00:00:05Z</LastModified>"
                            "<Size>1</Size></Version>"
                            "<Version><Key>b</Key><VersionId>b1</VersionId><IsLatest>false"
                            "</IsLatest><LastModified>2026-01-01T00:00:08Z</LastModified>"
                            "<Size>1</Size></Version></ListVersionsResult>", &p, err), AW_OK);
        ASSERT_INT_EQ(p.n, 6);
        char order[64] = "";
        for (size_t i = 0; i < p.n; i++) {
            strcat(order, p.items[i].version_id);
            strcat(order, i + 1 < p.n ? " " : "");
        }
        ASSERT_STR_EQ(order, "a3 m1 a2 a1 m2 b1");
        ASSERT(p.items[1].delete_marker && p.items[1].size == -1);
    }

    CASE("ListBuckets: names that cannot be buckets are left out") {
        ASSERT_INT_EQ(parse("<ListAllMyBucketsResult><Buckets><Bucket><Name>one</Name></Bucket>"
                            "<Bucket><Name>../etc</Name></Bucket><Bucket><Name>two</Name></Bucket>"
                            "</Buckets></ListAllMyBucketsResult>", &p, err), AW_OK);
        ASSERT_INT_EQ(p.nbuckets, 2);
        ASSERT_STR_EQ(p.buckets[1], "two");
        ASSERT_INT_EQ(p.refused, 1);
    }

    CASE("failures say what they are") {
        ASSERT_INT_EQ(parse("<Error><Code>NoSuchBucket</Code><Message>The specified bucket does "
                            "not exist</Message></Error>", &p, err), AW_EPARSE);
        ASSERT_STR_EQ(err, "NoSuchBucket: The specified bucket does not exist");
        ASSERT_INT_EQ(parse("{\"not\": \"xml\"}", &p, err), AW_EPARSE);
        ASSERT_CONTAINS(err, "not XML");
        ASSERT_INT_EQ(parse("<ListBucketResult><Contents>", &p, err), AW_EPARSE);
        ASSERT_INT_EQ(parse("<Other/>", &p, err), AW_EPARSE);
        ASSERT_STR_EQ(err, "<Other> is not a listing");
        ASSERT_INT_EQ(aw_listing_parse("", 0, &p, err, sizeof err), AW_EPARSE);
    }

    CASE("entities are not expanded: no file is read, nothing grows") {
        ASSERT_INT_EQ(parse("<!DOCTYPE l [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                            "<ListBucketResult><Contents><Key>&x;</Key><Size>1</Size></Contents>"
                            "</ListBucketResult>", &p, err), AW_OK);
        ASSERT(p.n == 0 || strstr(p.items[0].key, "root:") == NULL);
        char *bomb = malloc(1 << 16);
        ASSERT(bomb != NULL);
        int n = snprintf(bomb, 1 << 16, "<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\">");
        for (int i = 1; i < 10; i++)
            n += snprintf(bomb + n, (size_t)(1 << 16) - (size_t)n,
                          "<!ENTITY %c \"&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;\">", 'a' + i,
                          'a' + i - 1, 'a' + i - 1, 'a' + i - 1, 'a' + i - 1, 'a' + i - 1,
                          'a' + i - 1, 'a' + i - 1, 'a' + i - 1, 'a' + i - 1, 'a' + i - 1);
        snprintf(bomb + n, (size_t)(1 << 16) - (size_t)n,
                 "]><ListBucketResult><Contents><Key>&j;</Key><Size>1</Size></Contents>"
                 "</ListBucketResult>");
        int rc = parse(bomb, &p, err);
        ASSERT(rc == AW_EPARSE || (rc == AW_OK && (p.n == 0 || strlen(p.items[0].key) <= 1024)));
        free(bomb);
    }

    CASE("GetBucketVersioning") {
        bool v = true;
        const char *off = "<VersioningConfiguration" NS "/>";
        ASSERT_INT_EQ(aw_listing_versioning(off, strlen(off), &v, err, sizeof err), AW_OK);
        ASSERT(!v);
        const char *on = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
        ASSERT_INT_EQ(aw_listing_versioning(on, strlen(on), &v, err, sizeof err), AW_OK);
        ASSERT(v);
        const char *sus = "<VersioningConfiguration><Status>Suspended</Status>"
                          "</VersioningConfiguration>";
        ASSERT_INT_EQ(aw_listing_versioning(sus, strlen(sus), &v, err, sizeof err), AW_OK);
        ASSERT(v);
        ASSERT_INT_EQ(aw_listing_versioning("<ListBucketResult/>", 19, &v, err, sizeof err),
                      AW_EPARSE);

        /* nothing of libxml2's own reaches stderr, on this thread or another
         * (backfill lists on a thread of its own) */
        fflush(stderr);
        FILE *cap = tmpfile();
        ASSERT(cap != NULL);
        int saved = dup(2);
        ASSERT(saved >= 0 && dup2(fileno(cap), 2) == 2);
        int rc_here = 0, rc_thread = 0;
        parse_bad_encoding(&rc_here);
        pthread_t t;
        int started = pthread_create(&t, NULL, parse_bad_encoding, &rc_thread);
        if (started == 0)
            pthread_join(t, NULL);
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        ASSERT_INT_EQ(started, 0);
        ASSERT_INT_EQ(rc_here, AW_EPARSE);
        ASSERT_INT_EQ(rc_thread, AW_EPARSE);
        ASSERT_INT_EQ((int)lseek(fileno(cap), 0, SEEK_END), 0); /* bytes written there */
        fclose(cap);

        aw_listing_page_clear(&p);
    }
    TEST_DONE();
}

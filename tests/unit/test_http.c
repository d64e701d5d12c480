/*
 * The S3 client's rules that need no server (common/s3url.c and the outcome
 * of a finished transfer in common/http.c): request URLs, path-style and
 * virtual-hosted, with hostile keys; and what each status or transport end
 * means for the object and for the batch.
 */
#include <string.h>

#include "http_internal.h"
#include "test.h"

static void url_is(const char *ep, bool path_style, const char *bucket, const char *key,
                   const char *version, const char *want) {
    char buf[512];
    ASSERT_INT_EQ(aw_s3_object_url(ep, path_style, bucket, key, version, buf, sizeof buf),
                  AW_OK);
    ASSERT_STR_EQ(buf, want);
}

static void verdict_is(aw_xfer_end end, long status, int64_t len, int64_t got,
                       aw_verdict want_v, aw_fetch_outcome want_o, const char *want_err) {
    aw_fetch_outcome o = AW_FETCH_OK;
    char err[128] = "unset";
    ASSERT_INT_EQ(aw_fetch_classify(end, status, len, got, &o, err, sizeof err), want_v);
    ASSERT_INT_EQ(o, want_o);
    if (want_err)
        ASSERT_CONTAINS(err, want_err);
}

int main(void) {
    /* path-style: the key is URI-encoded with '/' kept, the bucket in the path */
    url_is("http://127.0.0.1:7070", true, "ml", "a b/c+d%2F.csv", NULL,
           "http://127.0.0.1:7070/ml/a%20b/c%2Bd%252F.csv");
    url_is("http://h", true, "ml", "caf\xc3\xa9/\xe6\x95\xb0", NULL,
           "http://h/ml/caf%C3%A9/%E6%95%B0");
    url_is("http://h", true, "ml", "k", "3/L4+kq=", "http://h/ml/k?versionId=3%2FL4%2Bkq%3D");
    url_is("http://h", true, "ml", "k", "", "http://h/ml/k");
    /* '..' and '.' segments go out as they are; the server must not fold them
     * (curl is told PATH_AS_IS) */
    url_is("http://h", true, "ml", "a/../b/./c", NULL, "http://h/ml/a/../b/./c");
    /* virtual-hosted: the bucket becomes part of the host */
    url_is("https://s3.us-east-1.amazonaws.com", false, "ml", "x/y", NULL,
           "https://ml.s3.us-east-1.amazonaws.com/x/y");
    /* too long for the buffer: refused, never cut */
    char small[24];
    ASSERT_INT_EQ(aw_s3_object_url("http://h", true, "bucket", "a-long-key-that-does-not-fit",
                                   NULL, small, sizeof small), AW_EINVAL);

    /* a 2xx with the whole body is the object */
    verdict_is(AW_XFER_COMPLETE, 200, 10, 10, AW_VERDICT_DONE, AW_FETCH_OK, "");
    verdict_is(AW_XFER_COMPLETE, 206, -1, 3, AW_VERDICT_DONE, AW_FETCH_OK, "");
    /* a short body is retried */
    verdict_is(AW_XFER_COMPLETE, 200, 10, 4, AW_VERDICT_RETRY, AW_FETCH_FAILED,
               "short body: 4 of 10 bytes");
    /* gone, overwritten: final answers about this object */
    verdict_is(AW_XFER_COMPLETE, 404, -1, 0, AW_VERDICT_DONE, AW_FETCH_NOT_FOUND, "HTTP 404");
    verdict_is(AW_XFER_COMPLETE, 412, -1, 0, AW_VERDICT_DONE, AW_FETCH_PRECONDITION, "HTTP 412");
    /* throttling and server errors are retried, other 4xx are not */
    verdict_is(AW_XFER_COMPLETE, 503, -1, 0, AW_VERDICT_RETRY, AW_FETCH_FAILED, "HTTP 503");
    verdict_is(AW_XFER_COMPLETE, 429, -1, 0, AW_VERDICT_RETRY, AW_FETCH_FAILED, "HTTP 429");
    verdict_is(AW_XFER_COMPLETE, 408, -1, 0, AW_VERDICT_RETRY, AW_FETCH_FAILED, "HTTP 408");
    verdict_is(AW_XFER_COMPLETE, 400, -1, 0, AW_VERDICT_DONE, AW_FETCH_FAILED, "HTTP 400");
    /* credentials refused: the store, not the object */
    verdict_is(AW_XFER_COMPLETE, 403, -1, 0, AW_VERDICT_RETRY_UNAVAILABLE,
               AW_FETCH_UNAVAILABLE, "refuses our credentials");
    /* below HTTP */
    verdict_is(AW_XFER_UNREACHABLE, 0, -1, 0, AW_VERDICT_RETRY_UNAVAILABLE,
               AW_FETCH_UNAVAILABLE, NULL);
    verdict_is(AW_XFER_BROKEN, 200, 100, 50, AW_VERDICT_RETRY, AW_FETCH_FAILED, NULL);
    verdict_is(AW_XFER_REFUSED, 0, -1, 0, AW_VERDICT_DONE, AW_FETCH_FAILED, NULL);
    verdict_is(AW_XFER_CONSUMER, 200, -1, 0, AW_VERDICT_DONE, AW_FETCH_FAILED, NULL);
    TEST_DONE();
}

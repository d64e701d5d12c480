/*
 * The S3 client's rules that need no server (common/store/s3url.c and the outcome
 * of a finished transfer in common/store/http.c): request URLs, path-style and
 * virtual-hosted, with hostile keys; and what each status or transport end
 * means for the object and for the batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "test.h"

static void url_is(const char *ep, bool path_style, const char *bucket, const char *key,
                   const char *version, const char *want) {
    char buf[512];
    ASSERT_INT_EQ(aw_s3_object_url(ep, path_style, bucket, key, version, buf, sizeof buf),
                  AW_OK);
    ASSERT_STR_EQ(buf, want);
}

static void verdict_code(aw_xfer_end end, long status, const char *code, int64_t len,
                         int64_t got, aw_verdict want_v, aw_fetch_outcome want_o,
                         const char *want_err) {
    aw_fetch_outcome o = AW_FETCH_OK;
    char err[128] = "unset";
    ASSERT_INT_EQ(aw_fetch_classify(end, status, code, len, got, &o, err, sizeof err), want_v);
    ASSERT_INT_EQ(o, want_o);
    if (want_err)
        ASSERT_CONTAINS(err, want_err);
}

static void verdict_is(aw_xfer_end end, long status, int64_t len, int64_t got,
                       aw_verdict want_v, aw_fetch_outcome want_o, const char *want_err) {
    verdict_code(end, status, "", len, got, want_v, want_o, want_err);
}

static void code_of(const char *body, const char *want) {
    char code[64];
    aw_s3_error_code(body, strlen(body), code, sizeof code);
    ASSERT_STR_EQ(code, want);
}

static char cred_path[] = "/tmp/aw-test-creds-XXXXXX";

static int creds_from(const char *text, const char *profile, aw_s3_creds *c, char *err,
                      size_t n) {
    FILE *f = fopen(cred_path, "w");
    ASSERT(f != NULL);
    fputs(text, f);
    fclose(f);
    return aw_s3_creds_read_file(cred_path, profile, c, err, n);
}

int main(void) {
    aw_s3_creds c;
    char err[256];
    CASE("path-style: the key is URI-encoded with '/' kept, the bucket in the path") {
        url_is("http://127.0.0.1:7070", true, "mlb", "a b/c+d%2F.csv", NULL,
               "http://127.0.0.1:7070/mlb/a%20b/c%2Bd%252F.csv");
        url_is("http://h", true, "mlb", "caf\xc3\xa9/\xe6\x95\xb0", NULL,
               "http://h/mlb/caf%C3%A9/%E6%95%B0");
        url_is("http://h", true, "mlb", "k", "3/L4+kq=", "http://h/mlb/k?versionId=3%2FL4%2Bkq%3D");
        url_is("http://h", true, "mlb", "k", "", "http://h/mlb/k");
    }

    CASE("SigV4 as curl sends it signs the query as written: names in order") {
        char qb[256];
        ASSERT_INT_EQ(aw_s3_url("http://h", true, "mlb", "k", "v1", "partNumber=1", qb, sizeof qb),
                      AW_OK);
        ASSERT_STR_EQ(qb, "http://h/mlb/k?partNumber=1&versionId=v1");
        ASSERT_INT_EQ(aw_s3_url("http://h", true, "mlb", "k", NULL, "partNumber=1", qb, sizeof qb),
                      AW_OK);
        ASSERT_STR_EQ(qb, "http://h/mlb/k?partNumber=1");
        ASSERT_INT_EQ(aw_s3_url("http://h", true, "mlb", "k", "v1", "x-id=GetObject", qb, sizeof qb),
                      AW_OK);
        ASSERT_STR_EQ(qb, "http://h/mlb/k?versionId=v1&x-id=GetObject");
        /* '..' and '.' segments go out as they are; the server must not fold them
         * (curl is told PATH_AS_IS) */
        url_is("http://h", true, "mlb", "a/../b/./c", NULL, "http://h/mlb/a/../b/./c");
    }

    CASE("virtual-hosted: the bucket becomes part of the host") {
        url_is("https://s3.us-east-1.amazonaws.com", false, "mlb", "x/y", NULL,
               "https://mlb.s3.us-east-1.amazonaws.com/x/y");
    }

    CASE("a bucket name is never pasted into a host or path unchecked") {
        char buf[256];
        ASSERT_INT_EQ(aw_s3_object_url("https://s3.amazonaws.com", false, "evil.com/x", "k", NULL,
                                       buf, sizeof buf), AW_EINVALID);
        ASSERT_INT_EQ(aw_s3_object_url("https://s3.amazonaws.com", false, "attacker.net:443@ml",
                                       "k", NULL, buf, sizeof buf), AW_EINVALID);
        ASSERT_INT_EQ(aw_s3_object_url("https://s3.amazonaws.com", false, "Legacy_Name", "k", NULL,
                                       buf, sizeof buf), AW_EINVALID);
        url_is("http://h", true, "Legacy_Name", "k", NULL, "http://h/Legacy_Name/k");
        ASSERT_INT_EQ(aw_s3_object_url("http://h", true, "../x", "k", NULL, buf, sizeof buf),
                      AW_EINVALID);
    }

    CASE("too long for the buffer: refused, never cut") {
        char small[24];
        ASSERT_INT_EQ(aw_s3_object_url("http://h", true, "bucket", "a-long-key-that-does-not-fit",
                                       NULL, small, sizeof small), AW_EINVAL);
    }

    CASE("a 2xx with the whole body is the object") {
        verdict_is(AW_XFER_COMPLETE, 200, 10, 10, AW_VERDICT_DONE, AW_FETCH_OK, "");
        verdict_is(AW_XFER_COMPLETE, 206, -1, 3, AW_VERDICT_DONE, AW_FETCH_OK, "");
    }

    CASE("a short body is retried") {
        verdict_is(AW_XFER_COMPLETE, 200, 10, 4, AW_VERDICT_RETRY, AW_FETCH_FAILED,
                   "short body: 4 of 10 bytes");
    }

    CASE("gone, overwritten: final answers about this object") {
        verdict_is(AW_XFER_COMPLETE, 404, -1, 0, AW_VERDICT_DONE, AW_FETCH_NOT_FOUND, "HTTP 404");
        verdict_is(AW_XFER_COMPLETE, 412, -1, 0, AW_VERDICT_DONE, AW_FETCH_PRECONDITION, "HTTP 412");
    }

    CASE("throttling and server errors are retried, other 4xx are not") {
        verdict_is(AW_XFER_COMPLETE, 503, -1, 0, AW_VERDICT_RETRY, AW_FETCH_FAILED, "HTTP 503");
        verdict_is(AW_XFER_COMPLETE, 429, -1, 0, AW_VERDICT_RETRY, AW_FETCH_FAILED, "HTTP 429");
        verdict_is(AW_XFER_COMPLETE, 408, -1, 0, AW_VERDICT_RETRY, AW_FETCH_FAILED, "HTTP 408");
        verdict_is(AW_XFER_COMPLETE, 400, -1, 0, AW_VERDICT_DONE, AW_FETCH_FAILED, "HTTP 400");
    }

    CASE("403 that says nothing: decided over the batch") {
        verdict_is(AW_XFER_COMPLETE, 403, -1, 0, AW_VERDICT_RETRY_UNAVAILABLE,
                   AW_FETCH_UNAVAILABLE, "refuses our credentials");
    }

    CASE("credentials refused: the store, not the object") {
        verdict_code(AW_XFER_COMPLETE, 403, "SignatureDoesNotMatch", -1, 0,
                     AW_VERDICT_RETRY_UNAVAILABLE, AW_FETCH_UNAVAILABLE,
                     "HTTP 403 SignatureDoesNotMatch: the store refuses our credentials");
        verdict_code(AW_XFER_COMPLETE, 400, "ExpiredToken", -1, 0, AW_VERDICT_DONE,
                     AW_FETCH_FAILED, "HTTP 400 ExpiredToken");
        verdict_code(AW_XFER_COMPLETE, 403, "ExpiredToken", -1, 0, AW_VERDICT_RETRY_UNAVAILABLE,
                     AW_FETCH_UNAVAILABLE, NULL);
    }

    CASE("a refusal of this object with valid credentials is this object's") {
        verdict_code(AW_XFER_COMPLETE, 403, "AccessDenied", -1, 0, AW_VERDICT_RETRY,
                     AW_FETCH_DENIED, "HTTP 403 AccessDenied");
        verdict_code(AW_XFER_COMPLETE, 403, "InvalidObjectState", -1, 0, AW_VERDICT_RETRY,
                     AW_FETCH_DENIED, "InvalidObjectState");
        code_of("<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>x</Message>",
                "AccessDenied");
        code_of("<Error><Code>SignatureDoesNot", ""); /* cut off */
        code_of("<html>503</html>", "");
        code_of("<Code>Two words</Code>", "");
        ASSERT(aw_s3_credential_error("InvalidAccessKeyId"));
        ASSERT(!aw_s3_credential_error("AccessDenied"));
    }

    CASE("credentials: checked before they can reach a header") {
        c = (aw_s3_creds){"AKIA", "secret", "tok\r\nX-Evil: 1"};
        ASSERT_INT_EQ(aw_s3_creds_check(&c, "env", err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "env: the session token");
        c = (aw_s3_creds){"AK:IA", "secret", NULL};
        ASSERT_INT_EQ(aw_s3_creds_check(&c, "env", err, sizeof err), AW_ECONFIG);
        c = (aw_s3_creds){"AKIA", NULL, NULL};
        ASSERT_INT_EQ(aw_s3_creds_check(&c, "env", err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "no secret access key");
        c = (aw_s3_creds){NULL, NULL, NULL};
        ASSERT_INT_EQ(aw_s3_creds_check(&c, "env", err, sizeof err), AW_OK);
    }

    CASE("the shared credentials file") {
        int fd = mkstemp(cred_path);
        ASSERT(fd >= 0);
        close(fd);
        ASSERT_INT_EQ(creds_from("# rotated by the agent\n[default]\naws_access_key_id = AKIA1\n"
                                 "aws_secret_access_key=s1\n\n[profile ci]\n"
                                 "aws_access_key_id=AKIA2\naws_secret_access_key = s2\n"
                                 "aws_session_token = t2\r\n", "ci", &c, err, sizeof err), AW_OK);
        ASSERT_STR_EQ(c.access_key, "AKIA2");
        ASSERT_STR_EQ(c.secret_key, "s2");
        ASSERT_STR_EQ(c.session_token, "t2");
        aw_s3_creds_clear(&c);
        ASSERT_INT_EQ(creds_from("[default]\naws_access_key_id=AKIA1\naws_secret_access_key=s1\n",
                                 NULL, &c, err, sizeof err), AW_OK);
        ASSERT_STR_EQ(c.access_key, "AKIA1");
        ASSERT(c.session_token == NULL);
        aw_s3_creds_clear(&c);
        ASSERT_INT_EQ(creds_from("[default]\naws_access_key_id=AKIA1\n", NULL, &c, err, sizeof err),
                      AW_ECONFIG);
        ASSERT_CONTAINS(err, "lacks aws_access_key_id or aws_secret_access_key");
        ASSERT_INT_EQ(creds_from("[other]\n", "prod", &c, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "has no profile [prod]");
        ASSERT_INT_EQ(creds_from("[default]\naws_access_key_id=AK IA\naws_secret_access_key=s\n",
                                 NULL, &c, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "the access key id");
        unlink(cred_path);
        ASSERT_INT_EQ(aw_s3_creds_read_file(cred_path, NULL, &c, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "cannot open credentials file");
    }

    CASE("below HTTP") {
        verdict_is(AW_XFER_UNREACHABLE, 0, -1, 0, AW_VERDICT_RETRY_UNAVAILABLE,
                   AW_FETCH_UNAVAILABLE, NULL);
        verdict_is(AW_XFER_BROKEN, 200, 100, 50, AW_VERDICT_RETRY, AW_FETCH_FAILED, NULL);
        verdict_is(AW_XFER_REFUSED, 0, -1, 0, AW_VERDICT_DONE, AW_FETCH_FAILED, NULL);
        verdict_is(AW_XFER_CONSUMER, 200, -1, 0, AW_VERDICT_DONE, AW_FETCH_FAILED, NULL);
    }
    TEST_DONE();
}

/*
 * Azure Blob without a server (common/store/azure.c, s3url.c, s3xml.c):
 * the Shared Key string and signature against a request Azurite accepted,
 * URLs of containers and blobs, and List Blobs / List Containers answers
 * as Azurite and Azure send them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/hash.h"
#include "internal.h"
#include "test.h"

/* the emulator's published development account key */
static const char *const dev_key =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

static const char *const list_blobs =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><EnumerationResults "
    "ServiceEndpoint=\"http://127.0.0.1:10077/devstoreaccount1\" ContainerName=\"probe\">"
    "<Prefix/><Marker/><MaxResults>2</MaxResults><Blobs>"
    "<Blob><Name>a&amp;b&lt;c&gt;\"q'.txt</Name><Properties><Creation-Time>Mon, 07 Dec 2026 "
    "13:21:27 GMT</Creation-Time><Last-Modified>Mon, 07 Dec 2026 13:21:27 GMT</Last-Modified>"
    "<Etag>0x2035CA96D51F300</Etag><Content-Length>39</Content-Length><Content-Type>"
    "application/octet-stream</Content-Type><Content-MD5>y+hVy9NDKjwKmck931T7Uw==</Content-MD5>"
    "<BlobType>BlockBlob</BlobType></Properties></Blob>"
    "<Blob><Name>dir/\xc3\xbcn\xc3\xaf \xe2\x82\xac.bin</Name><Properties><Last-Modified>Mon, 07 "
    "Dec 2026 13:21:28 GMT</Last-Modified><Etag>\"0x23CF9898C3AC9E0\"</Etag><Content-Length>51"
    "</Content-Length></Properties></Blob>"
    "<Blob><Name Encoded=\"true\">odd%01name</Name><Properties><Content-Length>1"
    "</Content-Length></Properties></Blob>"
    "<Blob><Name>no-size</Name><Properties></Properties></Blob>"
    "</Blobs><NextMarker>dir/\xc3\xbcn\xc3\xaf \xe2\x82\xac.bin</NextMarker></EnumerationResults>";

int main(void) {
    uint8_t key[96];
    size_t keylen = 0;
    char out[2048];
    CASE("Shared Key signs what Azurite checked: the account twice in an emulator's path, "
         "the query decoded and sorted") {
        ASSERT_INT_EQ(aw_unbase64(dev_key, key, sizeof key, &keylen), AW_OK);
        ASSERT_INT_EQ((int)keylen, 64);
        aw_azure_req r = {.method = "GET", .date = "Fri, 06 Jan 2023 12:00:00 GMT",
                          .version = "2021-08-06", .account = "devstoreaccount1",
                          .path = "/devstoreaccount1/vectors",
                          .query = "restype=container&comp=list&maxresults=2&marker=a%20b%2Bc"};
        ASSERT_INT_EQ(aw_azure_string_to_sign(&r, out, sizeof out), AW_OK);
        ASSERT_STR_EQ(out, "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Fri, 06 Jan 2023 12:00:00 GMT\n"
                           "x-ms-version:2021-08-06\n/devstoreaccount1/devstoreaccount1/vectors\n"
                           "comp:list\nmarker:a b+c\nmaxresults:2\nrestype:container");
        ASSERT_INT_EQ(aw_azure_authorization(&r, key, keylen, out, sizeof out), AW_OK);
        ASSERT_STR_EQ(out, "Authorization: SharedKey devstoreaccount1:"
                           "MbLlhdan7MeClfr0cEL4xnSDZWFYK0ztt71C27p24Jo=");
    }

    CASE("If-Match and Range take their places; the path is signed as sent (encoded)") {
        aw_azure_req r = {.method = "DELETE", .if_match = "\"0x2105509DEE23F40\"",
                          .range = "bytes=0-4", .date = "D", .version = "V", .account = "acct",
                          .path = "/c/my%20blob.txt"};
        ASSERT_INT_EQ(aw_azure_string_to_sign(&r, out, sizeof out), AW_OK);
        ASSERT_STR_EQ(out, "DELETE\n\n\n\n\n\n\n\n\"0x2105509DEE23F40\"\n\n\nbytes=0-4\n"
                           "x-ms-date:D\nx-ms-version:V\n/acct/c/my%20blob.txt");
    }

    CASE("a bad account key, a key-less account or no endpoint is refused at start") {
        aw_s3 *s3 = NULL;
        char err[256];
        aw_s3_opts o = {.kind = AW_STORE_AZURE, .endpoint = "http://127.0.0.1:1/acct",
                        .account = "acct", .account_key = "not base64!"};
        ASSERT_INT_EQ(aw_s3_new(&o, &s3, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "account_key");
        o.account_key = dev_key;
        o.account = NULL;
        ASSERT_INT_EQ(aw_s3_new(&o, &s3, err, sizeof err), AW_ECONFIG);
        o.account = "acct";
        o.endpoint = NULL;
        ASSERT_INT_EQ(aw_s3_new(&o, &s3, err, sizeof err), AW_ECONFIG);
        o.endpoint = "http://127.0.0.1:1/acct";
        ASSERT_INT_EQ(aw_s3_new(&o, &s3, err, sizeof err), AW_OK);
        ASSERT_INT_EQ(aw_s3_kind(s3), AW_STORE_AZURE);
        aw_s3_destroy(s3);
    }

    CASE("URLs: container without a trailing slash, blob encoded, version and SAS after") {
        char u[512];
        ASSERT_INT_EQ(aw_azure_url("http://h/acct", "c1x", "a b/c+d.csv", NULL, NULL, NULL, u,
                                   sizeof u), AW_OK);
        ASSERT_STR_EQ(u, "http://h/acct/c1x/a%20b/c%2Bd.csv");
        ASSERT_INT_EQ(aw_azure_url("http://h/acct", "c1x", NULL, NULL,
                                   "comp=list&restype=container", "sv=1&sig=x", u, sizeof u),
                      AW_OK);
        ASSERT_STR_EQ(u, "http://h/acct/c1x?comp=list&restype=container&sv=1&sig=x");
        ASSERT_INT_EQ(aw_azure_url("http://h/acct", "c1x", "k", "2024-01-01T00:00:00Z", NULL,
                                   NULL, u, sizeof u), AW_OK);
        ASSERT_STR_EQ(u, "http://h/acct/c1x/k?versionid=2024-01-01T00%3A00%3A00Z");
        ASSERT_INT_EQ(aw_azure_url("http://h/acct", NULL, NULL, NULL, "comp=list", NULL, u,
                                   sizeof u), AW_OK);
        ASSERT_STR_EQ(u, "http://h/acct/?comp=list");
        ASSERT_INT_EQ(aw_azure_url("http://h/acct", "../x", "k", NULL, NULL, NULL, u, sizeof u),
                      AW_EINVALID);
    }

    CASE("List Blobs: names XML-escaped or percent-encoded, ETags unquoted, dates ISO") {
        aw_listing_page pg = {0};
        char err[256];
        ASSERT_INT_EQ(aw_listing_parse(list_blobs, strlen(list_blobs), &pg, err, sizeof err),
                      AW_OK);
        ASSERT_INT_EQ((int)pg.n, 3);
        ASSERT_STR_EQ(pg.items[0].key, "a&b<c>\"q'.txt");
        ASSERT_STR_EQ(pg.items[0].etag, "0x2035CA96D51F300");
        ASSERT_STR_EQ(pg.items[0].last_modified, "2026-12-07T13:21:27.000Z");
        ASSERT_INT_EQ(pg.items[0].size, 39);
        ASSERT(pg.items[0].is_latest);
        ASSERT_STR_EQ(pg.items[1].key, "dir/\xc3\xbcn\xc3\xaf \xe2\x82\xac.bin");
        ASSERT_STR_EQ(pg.items[1].etag, "0x23CF9898C3AC9E0");
        ASSERT_STR_EQ(pg.items[2].key, "odd\001name");
        ASSERT_INT_EQ((int)pg.refused, 1);
        ASSERT_CONTAINS(pg.refused_why, "no-size");
        ASSERT(pg.truncated);
        ASSERT_STR_EQ(pg.next_token, "dir/\xc3\xbcn\xc3\xaf \xe2\x82\xac.bin");
        const char *last = "<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>";
        ASSERT_INT_EQ(aw_listing_parse(last, strlen(last), &pg, err, sizeof err), AW_OK);
        ASSERT(!pg.truncated && pg.n == 0);
        const char *conts = "<EnumerationResults><Containers><Container><Name>data-1</Name>"
                            "</Container><Container><Name>x/y</Name></Container></Containers>"
                            "<NextMarker/></EnumerationResults>";
        ASSERT_INT_EQ(aw_listing_parse(conts, strlen(conts), &pg, err, sizeof err), AW_OK);
        ASSERT_INT_EQ((int)pg.nbuckets, 1);
        ASSERT_STR_EQ(pg.buckets[0], "data-1");
        const char *e = "<?xml version=\"1.0\"?><Error><Code>ContainerNotFound</Code><Message>"
                        "The specified container does not exist.</Message></Error>";
        ASSERT_INT_EQ(aw_listing_parse(e, strlen(e), &pg, err, sizeof err), AW_EPARSE);
        ASSERT_CONTAINS(err, "ContainerNotFound");
        aw_listing_page_clear(&pg);
    }

    CASE("Azure's refusals of a signature are the store's, not the object's") {
        ASSERT(aw_s3_credential_error("AuthenticationFailed"));
        ASSERT(aw_s3_credential_error("AuthorizationFailure"));
        ASSERT(!aw_s3_credential_error("BlobNotFound"));
        aw_s3_object_info i;
        aw_s3_info_reset(&i);
        const char *h = "x-ms-error-code: BlobNotFound\r\n";
        aw_s3_header(&i, h, strlen(h));
        ASSERT_STR_EQ(i.error_code, "BlobNotFound");
        h = "Content-MD5: b1kCrCNwJL3QwXbLkwY9xA==\r\n";
        aw_s3_header(&i, h, strlen(h));
        ASSERT_STR_EQ(i.content_md5, "b1kCrCNwJL3QwXbLkwY9xA==");
    }
    TEST_DONE();
}

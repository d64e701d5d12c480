/*
 * HTTP that is not the object store: libcurl's process-wide set-up, its
 * version, small bodies kept in memory, and JSON POSTs to webhooks. The
 * object-store client is aw/store.h.
 */
#ifndef AW_HTTP_H
#define AW_HTTP_H

#include <stddef.h>

#include "aw/err.h"

/* A small body kept in memory (a listing, a document): the on_start and
 * on_body of a request whose ud is an aw_membuf. A body longer than max
 * aborts the transfer (AW_EPARSE); free p when done. */
typedef struct aw_membuf {
    char *p;
    size_t len, cap, max;
} aw_membuf;
int aw_membuf_start(void *membuf);
int aw_membuf_put(void *membuf, const void *data, size_t len);

/* "libcurl 7.88.1" etc., for `artifact-watch version`. */
const char *aw_http_version(void);

/* Once per process, before any thread starts. */
int aw_http_global_init(void) AW_WUR;
void aw_http_global_cleanup(void);

/*
 * POSTs a JSON document to an HTTP(S) URL (not S3: unsigned, for webhooks
 * such as Alertmanager's API). *status is the HTTP status (0 when no
 * response came); the first bytes of the response body go to reply (may be
 * NULL). AW_OK when a response arrived, AW_EHTTP with curl's words.
 */
int aw_http_post_json(const char *url, const char *body, long timeout_ms, long *status,
                      char *reply, size_t reply_size, char *errstr, size_t errstr_size) AW_WUR;

/*
 * One request with a JSON body (NULL for none) to an HTTP(S) URL: method
 * "GET" or "POST", auth a whole header ("Authorization: Bearer ...") or
 * NULL. The answer goes to reply, up to its max: a longer one is AW_EPARSE
 * with its first max bytes kept. *status is the HTTP status, 0 when no
 * response came. AW_OK when a response arrived; AW_EHTTP with curl's words
 * (never the URL) otherwise.
 */
int aw_http_json(const char *method, const char *url, const char *auth, const char *body,
                 long timeout_ms, long *status, aw_membuf *reply, char *errstr,
                 size_t errstr_size) AW_WUR;

#endif

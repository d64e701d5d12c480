/*
 * What the files of integrity/ share:
 *   scrub.c   `scrub`: stored bytes re-read and compared, alerts recorded
 *   alerts.c  `alerts list|show|push`
 *   verify.c  `verify URI...`, the check before a pipeline loads an artifact
 */
#ifndef AW_INTEGRITY_INTERNAL_H
#define AW_INTEGRITY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "aw/config.h"
#include "aw/daemon.h"
#include "aw/store.h"
#include "aw/pg.h"

/* ---- alerts.c and push.c */

#define ALOG "alerts"

/* The columns every command reads, with the artifact's name when known. */
#define ALERT_COLS                                                                             \
    "a.id, a.kind, a.state, a.store, a.bucket, a.key, a.version_id, a.object_version_id,"      \
    " a.expected, a.actual, to_char(a.first_seen_at AT TIME ZONE 'UTC',"                       \
    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), to_char(a.last_seen_at AT TIME ZONE 'UTC',"          \
    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), a.seen_count, to_char(a.resolved_at AT TIME ZONE"    \
    " 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), a.blast_radius,"                              \
    " array_to_json(a.blast_uris)::text, a.detail::text,"                                      \
    " (SELECT ar.name FROM aw.artifacts ar WHERE ar.store = a.store AND ar.bucket = a.bucket"  \
    "   AND ar.folder = aw.dirname(a.key))"
enum { A_ID, A_KIND, A_STATE, A_STORE, A_BUCKET, A_KEY, A_VERSION, A_OVID, A_EXPECTED,
       A_ACTUAL, A_FIRST, A_LAST, A_SEEN, A_RESOLVED, A_RADIUS, A_URIS, A_DETAIL, A_ARTIFACT };

/* `alerts push` (push.c). Exit status. push_check: its settings only,
 * before anything connects (2, said on stderr, or 0). */
int cmd_push(aw_pg *pg, const aw_config *cfg);
int push_check(const aw_config *cfg);
/* Declares push's metrics (every series at 0), before anything waits. */
void push_declare_metrics(void);

/* ---- buckets.c: buckets scrub cannot read at all */

/* Buckets a pass leaves alone. */
typedef struct paused {
    char **v;
    size_t n;
} paused;

int paused_add(paused *p, const char *bucket) AW_WUR;
bool paused_has(const paused *p, const char *bucket);
/* The buckets as a JSON array of strings (malloc'd), for a query. */
char *paused_array(const paused *p);
void paused_free(paused *p);

/* Whether a read failed the way a missing, forbidden or wrongly addressed
 * bucket makes every read fail (NoSuchBucket, a 403, a 404 that is no
 * NoSuchKey). */
bool bucket_failure(const aw_fetch *f);

/* Asks the bucket itself (a listing of one key); why says how it failed. */
bool bucket_readable(aw_s3 *s3, const char *bucket, char *why, size_t why_size);

/* Opens (or sees again) store/bucket's bucket_unreachable alert. */
int bucket_raise(aw_pg *pg, const char *store, const char *bucket, const char *why,
                 char *errstr, size_t errstr_size) AW_WUR;

/* The buckets of store with an open bucket_unreachable alert, each asked
 * again: readable resolves its alert, the others go into *out. */
int buckets_paused(aw_pg *pg, aw_s3 *s3, const char *store, paused *out, char *errstr,
                   size_t errstr_size) AW_WUR;

#endif

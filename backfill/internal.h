/*
 * What the files of backfill/ share:
 *
 *   backfill.c  the command: targets, listing pages, progress saved in
 *               PostgreSQL, the progress line and the summary
 *   list.c      the listing, a page ahead, on a thread of its own
 *   page.c      one page: which entries the index lacks, fetching and
 *               hashing them, reconciling what the index holds that the
 *               page does not show, and writing through the indexer
 */
#ifndef AW_BACKFILL_INTERNAL_H
#define AW_BACKFILL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "aw/config.h"
#include "aw/daemon.h"
#include "aw/store.h"
#include "aw/indexer.h"
#include "aw/pg.h"

#define BLOG "backfill"

typedef struct bf_counts {
    int64_t listed, added, changed, unchanged, deleted, bytes, gone, failed;
} bf_counts;

typedef struct backfill {
    const aw_config *cfg;
    aw_stores *stores;      /* the stores file's, and the default store's */
    aw_s3 *s3;              /* the client of the store backfilled (cfg->s3_store) */
    aw_indexer *ix;
    aw_pg *pg;              /* reads and progress; the indexer has its own */
    aw_fetch_policy pol;
    bool dry_run;
    bool ephemeral;         /* no progress rows (watch's passes start over anyway) */
    bool finished;          /* bf_run_target's last listing reached its end */
    const char *event_name; /* the observations' word: NULL "Listing" */
    /* the target being worked on */
    const char *bucket, *prefix;
    bool versioned;
    bf_counts c;            /* this run's, including a resumed run's earlier part */
    bf_counts shown;        /* of c, what the metrics have already counted */
    aw_rate rate;           /* GETs and HEADs of this process, for the rate limit */
    int64_t started_ms;
} backfill;

/*
 * The key range a page settles: index entries with after < key <= upto
 * (upto_inclusive) or < upto, or every key after `after` when upto is NULL
 * (the last page). after is "" at the start of the bucket. With only, the
 * page settles just those keys of the range (watch: the files that changed).
 */
typedef struct bf_range {
    const char *after, *upto;
    bool upto_inclusive;
    const char *const *only; /* when not NULL: of the range, only these keys */
    size_t nonly;
} bf_range;

/*
 * Settles one page: indexes what the index lacks or holds with other bytes
 * (items; in a versioned bucket every version of each key, newest first),
 * and marks deleted what it holds as present in range but the items do not
 * show (after a HEAD says 404). AW_OK, or AW_EUNAVAILABLE / AW_EPG /
 * AW_EINTERRUPTED with errstr when the page could not be settled (nothing
 * of it may be taken as done).
 */
int bf_page(backfill *bf, const aw_listed *items, size_t n, const bf_range *r, char *errstr,
            size_t errstr_size) AW_WUR;

/* Lists and settles bucket/prefix to the end of its listing, with a
 * summary line; 0 when it got there with nothing failing, else 1. */
int bf_run_target(backfill *bf, const char *bucket, const char *prefix);

/* The listing of bf's target after key `after` ("": from the start), on a
 * thread with a client of its own (list.c). */
typedef struct bf_lister bf_lister;
int bf_lister_start(const backfill *bf, const char *after, bf_lister **out, char *errstr,
                    size_t errstr_size) AW_WUR;
/* The next page, moved into *page; *end once the listing is over. An error
 * of the listing (errstr says which) ends it too. */
int bf_lister_next(bf_lister *l, aw_listing_page *page, bool *end, char *errstr,
                   size_t errstr_size) AW_WUR;
/* Stops and joins the lister; NULL is ignored. */
void bf_lister_stop(bf_lister *l);

/* An ISO 8601 UTC time PostgreSQL will read, as listings send them:
 * YYYY-MM-DDTHH:MM:SS[.fff]Z with a date that exists. */
bool bf_iso_ok(const char *s);

/* Whether the bytes a GET returned are newer than the listed ones: its
 * Last-Modified (an HTTP date) after the listing's. Unknown when either is
 * missing or unreadable: then they are taken as the listed ones. */
bool bf_modified_since(const char *listed, const char *http_date);

/* Now, as ISO 8601 with milliseconds ("...Z"). */
void bf_now_iso(char out[32]);

/* ------------------------------------------------------------ watch's table */

typedef struct bf_hent {
    struct bf_hent *next;
    char *key;
    int root;               /* the root (bucket) it belongs to */
    int64_t due;            /* dirty paths: when to settle it */
    char *dir;              /* watches: the directory's key prefix ("" or "a/b/") */
} bf_hent;

typedef struct bf_htab {
    bf_hent **b;
    size_t nb, n;
} bf_htab;

/* The entry of key, or NULL. */
bf_hent *bf_hfind(const bf_htab *t, const char *key);
/* The entry of key, made (zeroed but for key) if new, *made saying so;
 * NULL when out of memory. */
bf_hent *bf_hget(bf_htab *t, const char *key, bool *made);
/* Removes key's entry, if any. */
void bf_hdel(bf_htab *t, const char *key);
void bf_hfree(bf_htab *t);

#endif

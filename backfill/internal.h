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
 * (the last page). after is "" at the start of the bucket.
 */
typedef struct bf_range {
    const char *after, *upto;
    bool upto_inclusive;
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

/* GETs a bucket-level resource (bucket NULL: the service) into out, a
 * listing-sized body at most. AW_EUNAVAILABLE, AW_EHTTP with errstr. */
int bf_get_xml(aw_s3 *s3, const aw_fetch_policy *pol, const char *bucket, const char *query,
               aw_membuf *out, char *errstr, size_t errstr_size) AW_WUR;

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

#endif

/*
 * The listing of a backfill, on a thread of its own with an S3 client of its
 * own, so the next page is being listed while the current one is fetched,
 * hashed and written. At most two pages wait; the lister stops at the end of
 * the listing, at the first error, or when asked to.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/log.h"
#include "internal.h"

#define QUEUED 2

struct bf_lister {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    aw_s3 *s3;
    aw_fetch_policy pol;
    const aw_config *cfg;
    char *bucket, *prefix, *after;
    bool versioned;
    aw_listing_page q[QUEUED];
    size_t head, n;
    bool finished;          /* the lister will add nothing more */
    bool quit;
    int rc;
    char err[1024];
};

static bool same(const char *a, const char *b) { return a && b ? !strcmp(a, b) : a == b; }

/* Whether page, listed after prev's markers, names those markers again: a
 * store that does so would be listed for ever. */
static bool no_progress(const bf_lister *l, const aw_listing_page *page,
                        const aw_listing_page *prev) {
    return l->versioned ? same(page->next_key_marker, prev->next_key_marker) &&
                              same(page->next_version_marker, prev->next_version_marker)
                        : same(page->next_token, prev->next_token);
}

static void *lister_main(void *arg) {
    bf_lister *l = arg;
    aw_listing_page page = {0}, prev = {0};
    bool first = true;
    int rc = AW_OK;
    char err[1024] = "";
    for (;;) {
        bool after_prev = !first;
        aw_list_req q = {.bucket = l->bucket, .prefix = l->prefix, .start_after = l->after,
                         .prev = first ? NULL : &prev, .versioned = l->versioned,
                         .max_keys = l->cfg->backfill_page_size};
        first = false;
        if ((rc = aw_s3_list(l->s3, &l->pol, &q, &page, err, sizeof err)) != AW_OK)
            break;
        AW_DEBUG(BLOG, "s3://%s: listed a page of %zu entr%s%s", l->bucket, page.n,
                 page.n == 1 ? "y" : "ies", page.truncated ? ", more to come" : "");
        if (page.truncated &&
            !(l->versioned ? page.next_key_marker != NULL : page.next_token != NULL)) {
            snprintf(err, sizeof err, "a truncated listing without a marker to continue from");
            rc = AW_EPARSE;
            break;
        }
        if (page.truncated && after_prev && no_progress(l, &page, &prev)) {
            snprintf(err, sizeof err, "the listing does not advance: the page after a marker "
                                      "names the same marker to continue from");
            rc = AW_EPARSE;
            break;
        }
        /* prev keeps only what the next request needs */
        aw_listing_page_clear(&prev);
        prev.next_token = page.next_token ? strdup(page.next_token) : NULL;
        prev.next_key_marker = page.next_key_marker ? strdup(page.next_key_marker) : NULL;
        prev.next_version_marker =
            page.next_version_marker ? strdup(page.next_version_marker) : NULL;
        if ((page.next_token && !prev.next_token) ||
            (page.next_key_marker && !prev.next_key_marker) ||
            (page.next_version_marker && !prev.next_version_marker)) {
            rc = AW_ENOMEM; /* a copy failed: going on would list from the start */
            break;
        }
        bool more = page.truncated;
        pthread_mutex_lock(&l->mu);
        while (l->n == QUEUED && !l->quit)
            pthread_cond_wait(&l->cv, &l->mu);
        bool quit = l->quit;
        if (!quit) {
            l->q[(l->head + l->n) % QUEUED] = page;
            l->n++;
            memset(&page, 0, sizeof page);
            pthread_cond_broadcast(&l->cv);
        }
        pthread_mutex_unlock(&l->mu);
        if (quit || !more || aw_stop)
            break;
    }
    pthread_mutex_lock(&l->mu);
    l->rc = rc;
    snprintf(l->err, sizeof l->err, "%s", err);
    l->finished = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    aw_listing_page_clear(&page);
    aw_listing_page_clear(&prev);
    return NULL;
}

int bf_lister_start(const backfill *bf, const char *after, bf_lister **out, char *errstr,
                    size_t errn) {
    *out = NULL;
    bf_lister *l = calloc(1, sizeof *l);
    if (!l)
        return AW_ENOMEM;
    l->cfg = bf->cfg;
    l->pol = bf->pol;
    l->pol.concurrency = 1;
    l->versioned = bf->versioned;
    l->bucket = strdup(bf->bucket);
    l->prefix = strdup(bf->prefix);
    l->after = strdup(after);
    int rc = l->bucket && l->prefix && l->after ? AW_OK : AW_ENOMEM;
    if (rc == AW_OK)
        rc = aw_stores_new_client(bf->stores, bf->cfg->s3_store, &l->s3, errstr, errn);
    if (rc == AW_OK) {
        pthread_mutex_init(&l->mu, NULL);
        pthread_cond_init(&l->cv, NULL);
        if (pthread_create(&l->thread, NULL, lister_main, l) != 0) {
            pthread_mutex_destroy(&l->mu);
            pthread_cond_destroy(&l->cv);
            snprintf(errstr, errn, "cannot start the listing thread");
            rc = AW_ENOMEM;
        }
    }
    if (rc != AW_OK) {
        aw_s3_destroy(l->s3);
        free(l->bucket), free(l->prefix), free(l->after), free(l);
        return rc;
    }
    *out = l;
    return AW_OK;
}

int bf_lister_next(bf_lister *l, aw_listing_page *page, bool *end, char *errstr, size_t errn) {
    *end = false;
    pthread_mutex_lock(&l->mu);
    while (!l->n && !l->finished)
        pthread_cond_wait(&l->cv, &l->mu);
    int rc = AW_OK;
    if (l->n) {
        aw_listing_page_clear(page);
        *page = l->q[l->head];
        memset(&l->q[l->head], 0, sizeof l->q[l->head]);
        l->head = (l->head + 1) % QUEUED;
        l->n--;
        pthread_cond_broadcast(&l->cv);
    } else if (l->rc != AW_OK) {
        rc = l->rc;
        snprintf(errstr, errn, "%s", l->err);
    } else {
        *end = true;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void bf_lister_stop(bf_lister *l) {
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->quit = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    for (size_t i = 0; i < QUEUED; i++)
        aw_listing_page_clear(&l->q[i]);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    aw_s3_destroy(l->s3);
    free(l->bucket), free(l->prefix), free(l->after), free(l);
}

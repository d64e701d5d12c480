/*
 * A small string-keyed hash table (chained, doubling) for watch: its
 * watched directories by descriptor and its changed paths by root and key.
 * Both grow with what is watched or waiting, never with the files indexed.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* FNV-1a */
static size_t hash(const char *s) {
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

bf_hent *bf_hfind(const bf_htab *t, const char *key) {
    if (!t->nb)
        return NULL;
    for (bf_hent *e = t->b[hash(key) % t->nb]; e; e = e->next)
        if (!strcmp(e->key, key))
            return e;
    return NULL;
}

static int h_grow(bf_htab *t) {
    size_t nb = t->nb ? t->nb * 2 : 256;
    bf_hent **b = calloc(nb, sizeof *b);
    if (!b)
        return AW_ENOMEM;
    for (size_t i = 0; i < t->nb; i++)
        for (bf_hent *e = t->b[i], *nx; e; e = nx) {
            nx = e->next;
            size_t k = hash(e->key) % nb;
            e->next = b[k];
            b[k] = e;
        }
    free(t->b);
    t->b = b;
    t->nb = nb;
    return AW_OK;
}

/* The entry of key, made if new (*made). NULL: out of memory. */
bf_hent *bf_hget(bf_htab *t, const char *key, bool *made) {
    bf_hent *e = bf_hfind(t, key);
    *made = !e;
    if (e)
        return e;
    if (t->n + 1 > t->nb && h_grow(t) != AW_OK)
        return NULL;
    if (!(e = calloc(1, sizeof *e)) || !(e->key = strdup(key))) {
        free(e);
        return NULL;
    }
    size_t k = hash(key) % t->nb;
    e->next = t->b[k];
    t->b[k] = e;
    t->n++;
    return e;
}

void bf_hdel(bf_htab *t, const char *key) {
    if (!t->nb)
        return;
    for (bf_hent **pp = &t->b[hash(key) % t->nb]; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->key, key)) {
            bf_hent *e = *pp;
            *pp = e->next;
            free(e->key), free(e->dir), free(e);
            t->n--;
            return;
        }
}

void bf_hfree(bf_htab *t) {
    for (size_t i = 0; i < t->nb; i++)
        for (bf_hent *e = t->b[i], *nx; e; e = nx) {
            nx = e->next;
            free(e->key), free(e->dir), free(e);
        }
    free(t->b);
    memset(t, 0, sizeof *t);
}


/*
 * The one file that includes OpenSSL. Its EVP interface is used rather than
 * the deprecated SHA256_* calls so the same code picks up the CPU's own
 * implementations (SHA-NI, AVX2).
 */
#include "aw/hash.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/opensslv.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"

/*
 * Past ASYNC_AFTER bytes since the last reset, a hash moves its work to a
 * thread of its own: aw_hash_update copies into a small ring of slots and
 * returns, the thread hashes full slots, so receiving (the caller's thread)
 * and hashing (this one) run on two cores. A CPU with SHA extensions hashes
 * faster than one thread can also receive; without them hashing was the
 * limit anyway. Small objects never start a thread.
 */
#define ASYNC_AFTER (1u << 20)
#define NSLOTS 4
#define SLOT_BYTES (256u << 10)

typedef struct ring {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t more, room;
    unsigned char *buf[NSLOTS];
    size_t len[NSLOTS];
    int r, w, full;       /* slots ready to hash: full, from r */
    bool closing, failed;
} ring;

struct aw_hash {
    EVP_MD_CTX *sha;
    EVP_MD_CTX *md5;
    uint64_t fed;         /* bytes since the last reset */
    ring *ring;           /* the hashing thread, once started */
};

static bool digest(aw_hash *h, const void *data, size_t len) {
    return EVP_DigestUpdate(h->sha, data, len) == 1 &&
           (!h->md5 || EVP_DigestUpdate(h->md5, data, len) == 1);
}

static void *hasher(void *arg) {
    aw_hash *h = arg;
    ring *g = h->ring;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (!g->full && !g->closing)
            pthread_cond_wait(&g->more, &g->mu);
        if (!g->full)
            break; /* closing, and nothing left */
        int r = g->r;
        pthread_mutex_unlock(&g->mu);
        bool ok = digest(h, g->buf[r], g->len[r]);
        pthread_mutex_lock(&g->mu);
        g->failed = g->failed || !ok;
        g->len[r] = 0;
        g->r = (r + 1) % NSLOTS;
        g->full--;
        pthread_cond_signal(&g->room);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

static void ring_free(ring *g) {
    for (int i = 0; i < NSLOTS; i++)
        free(g->buf[i]);
    free(g);
}

/* Starts the thread; false (and the hash stays synchronous) when it cannot. */
static bool ring_start(aw_hash *h) {
    ring *g = calloc(1, sizeof *g);
    if (!g)
        return false;
    for (int i = 0; i < NSLOTS; i++)
        if (!(g->buf[i] = malloc(SLOT_BYTES))) {
            ring_free(g);
            return false;
        }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->more, NULL);
    pthread_cond_init(&g->room, NULL);
    h->ring = g;
    if (pthread_create(&g->thread, NULL, hasher, h) != 0) {
        pthread_mutex_destroy(&g->mu);
        pthread_cond_destroy(&g->more);
        pthread_cond_destroy(&g->room);
        h->ring = NULL;
        ring_free(g);
        return false;
    }
    return true;
}

/* Hands the slot being filled to the thread, waiting for room. */
static void ring_push(ring *g) {
    pthread_mutex_lock(&g->mu);
    g->full++;
    g->w = (g->w + 1) % NSLOTS;
    pthread_cond_signal(&g->more);
    while (g->full == NSLOTS)
        pthread_cond_wait(&g->room, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* Hashes what is left, stops the thread; false when a digest failed. */
static bool ring_stop(aw_hash *h) {
    ring *g = h->ring;
    if (!g)
        return true;
    if (g->len[g->w])
        ring_push(g);
    pthread_mutex_lock(&g->mu);
    g->closing = true;
    pthread_cond_signal(&g->more);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    bool ok = !g->failed;
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->more);
    pthread_cond_destroy(&g->room);
    ring_free(g);
    h->ring = NULL;
    return ok;
}

int aw_hash_new(bool with_md5, aw_hash **out) {
    *out = NULL;
    aw_hash *h = calloc(1, sizeof *h);
    if (!h)
        return AW_ENOMEM;
    h->sha = EVP_MD_CTX_new();
    if (with_md5)
        h->md5 = EVP_MD_CTX_new();
    if (!h->sha || (with_md5 && !h->md5)) {
        aw_hash_destroy(h);
        return AW_ENOMEM;
    }
    if (aw_hash_reset(h) != AW_OK) {
        aw_hash_destroy(h);
        return AW_ETLS;
    }
    *out = h;
    return AW_OK;
}

int aw_hash_reset(aw_hash *h) {
    (void)ring_stop(h); /* what it was hashing is thrown away with the digest */
    h->fed = 0;
    if (EVP_DigestInit_ex(h->sha, EVP_sha256(), NULL) != 1)
        return AW_ETLS;
    if (h->md5 && EVP_DigestInit_ex(h->md5, EVP_md5(), NULL) != 1)
        return AW_ETLS;
    return AW_OK;
}

/* Waits until the thread has hashed everything handed to it. */
static bool ring_drain(ring *g) {
    if (g->len[g->w])
        ring_push(g);
    pthread_mutex_lock(&g->mu);
    while (g->full)
        pthread_cond_wait(&g->room, &g->mu);
    bool ok = !g->failed;
    pthread_mutex_unlock(&g->mu);
    return ok;
}

int aw_hash_update(aw_hash *h, const void *data, size_t len) {
    h->fed += len;
    /* a buffer larger than the ring (a whole byte range, from a caller
     * already off the receive path) is hashed here: copying it through the
     * ring would only add a copy, the caller waiting on the ring anyway */
    bool here = len >= (size_t)NSLOTS * SLOT_BYTES;
    if (here && h->ring && !ring_drain(h->ring))
        return AW_ETLS;
    if (here || (!h->ring && (h->fed <= ASYNC_AFTER || !ring_start(h))))
        return digest(h, data, len) ? AW_OK : AW_ETLS;
    ring *g = h->ring;
    const unsigned char *p = data;
    while (len) {
        /* only this thread writes slot w; the hasher touches it once pushed */
        size_t take = SLOT_BYTES - g->len[g->w];
        if (take > len)
            take = len;
        memcpy(g->buf[g->w] + g->len[g->w], p, take);
        g->len[g->w] += take;
        p += take;
        len -= take;
        if (g->len[g->w] == SLOT_BYTES)
            ring_push(g);
    }
    return AW_OK;
}

int aw_hash_final(aw_hash *h, uint8_t sha256[32], uint8_t md5[16]) {
    if (!ring_stop(h))
        return AW_ETLS;
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(h->sha, sha256, &n) != 1 || n != 32)
        return AW_ETLS;
    if (h->md5) {
        uint8_t tmp[16];
        if (EVP_DigestFinal_ex(h->md5, md5 ? md5 : tmp, &n) != 1 || n != 16)
            return AW_ETLS;
    }
    return AW_OK;
}

void aw_hash_destroy(aw_hash *h) {
    if (!h)
        return;
    (void)ring_stop(h);
    EVP_MD_CTX_free(h->sha);
    EVP_MD_CTX_free(h->md5);
    free(h);
}

const char *aw_crypto_version(void) { return OPENSSL_VERSION_TEXT; }

int aw_sha256_hex(const void *data, size_t len, char out[65]) {
    uint8_t d[32];
    unsigned int n = 0;
    if (EVP_Digest(data, len, d, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return AW_ETLS;
    aw_hex(d, 32, out);
    return AW_OK;
}

int aw_sha256_b64_hex(const char *b64, char out[65]) {
    size_t l = strlen(b64);
    unsigned char raw[48];
    /* 32 bytes are 44 characters with one '=' of padding */
    if (l != 44 || b64[43] != '=' || b64[42] == '=')
        return AW_EINVAL;
    for (size_t i = 0; i < 43; i++)
        if (!isalnum((unsigned char)b64[i]) && b64[i] != '+' && b64[i] != '/')
            return AW_EINVAL;
    if (EVP_DecodeBlock(raw, (const unsigned char *)b64, 44) != 33)
        return AW_EINVAL;
    aw_hex(raw, 32, out);
    return AW_OK;
}

int aw_base64(const void *in, size_t len, char *out, size_t cap) {
    if (len > (size_t)1 << 20 || cap < 4 * ((len + 2) / 3) + 1)
        return AW_EINVAL;
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    return AW_OK;
}

int aw_unbase64(const char *b64, uint8_t *out, size_t cap, size_t *outlen) {
    size_t l = strlen(b64);
    if (!l || l % 4 || l > (size_t)1 << 20 || cap < l / 4 * 3)
        return AW_EINVAL;
    for (size_t i = 0; i < l; i++)
        if (!isalnum((unsigned char)b64[i]) && b64[i] != '+' && b64[i] != '/' &&
            !(b64[i] == '=' && i >= l - 2 && (i == l - 1 || b64[l - 1] == '=')))
            return AW_EINVAL;
    int n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)l);
    if (n < 0)
        return AW_EINVAL;
    *outlen = (size_t)n - (b64[l - 1] == '=') - (b64[l - 2] == '=');
    return AW_OK;
}

int aw_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
                   uint8_t out[32]) {
    unsigned int n = 32;
    return HMAC(EVP_sha256(), key, (int)keylen, msg, len, out, &n) && n == 32 ? AW_OK
                                                                             : AW_ETLS;
}

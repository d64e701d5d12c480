/*
 * One error space for the whole program. Every fallible function returns an
 * aw_err: AW_OK (0) or a negative code. The table below is the only place a
 * code is declared; aw_err_name() and aw_strerror() are generated from it so
 * names, numbers and messages cannot drift apart.
 */
#ifndef AW_ERR_H
#define AW_ERR_H

#define AW_ERR_MAP(X)                                                           \
    X(NOMEM, "out of memory")                                                  \
    X(INVAL, "invalid argument")                                               \
    X(CONFIG, "configuration error")                                           \
    X(IO, "input/output error")                                                \
    X(PARSE, "malformed input")                                                \
    X(INVALID, "a field is not safe to use")                                   \
    X(UNSUPPORTED, "unsupported input")                                        \
    X(SKIP, "nothing to do for this input")                                    \
    X(NOTFOUND, "not found")                                                   \
    X(PG, "PostgreSQL error")                                                  \
    X(KAFKA, "Kafka error")                                                    \
    X(HTTP, "HTTP error")                                                      \
    X(TLS, "crypto library error")                                             \
    X(CHECKSUM, "checksum mismatch")                                           \
    X(TIMEOUT, "timed out")                                                    \
    X(UNAVAILABLE, "service unavailable")                                      \
    X(INTERRUPTED, "interrupted")                                              \
    X(NOTIMPL, "not implemented yet")

typedef enum aw_err {
    AW_OK = 0,
#define AW_ERR_ENUM_(name, msg) AW_E##name,
    AW_ERR_FIRST_ = -1000,
    AW_ERR_MAP(AW_ERR_ENUM_)
#undef AW_ERR_ENUM_
    AW_ERR_LAST_
} aw_err;

/* "AW_EPARSE" etc.; "AW_OK" for 0; "AW_E?" for a value outside the map. */
const char *aw_err_name(int err);

/* A human sentence for the code; never NULL. */
const char *aw_strerror(int err);

#define AW_WUR __attribute__((warn_unused_result))
#define AW_PRINTF(f, a) __attribute__((format(printf, f, a)))

#endif

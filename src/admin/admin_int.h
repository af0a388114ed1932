/*
 * admin_int.h — internals of the admin subsystem shared between its files:
 * the URI parser and route pattern matcher (route.c, also driven by
 * fuzz/fuzz_admin_route.c), the JSON body parser, and the TOTP secret
 * loader (auth.c). Design: docs/admin.md ("Routing", "Request bodies").
 */
#ifndef GOSR_ADMIN_INT_H
#define GOSR_ADMIN_INT_H

#include "gosr/admin.h"

/* Limits of the URI parser; beyond them the request gets 400 or 414. */
#define ADMIN_MAX_URI 4096    /* bytes of path plus query */
#define ADMIN_MAX_SEGMENTS 16 /* path segments */
#define ADMIN_MAX_QUERY 32    /* query arguments */

/* A parsed request target. All strings point into `buf`. */
typedef struct admin__uri {
    char *buf;                     /* owned storage for every string */
    char *path;                    /* raw path without the query */
    size_t nseg;                   /* number of path segments */
    char *seg[ADMIN_MAX_SEGMENTS]; /* percent-decoded segments */
    size_t nquery;                 /* number of query arguments */
    char *qname[ADMIN_MAX_QUERY];  /* decoded argument names */
    char *qvalue[ADMIN_MAX_QUERY]; /* decoded values ("" without '=') */
} admin__uri;

/* Parses a raw request target "/a/b%20c?x=1&y" (len bytes, no NUL needed).
 * GOSR_EFORMAT with reasons path_malformed, escape_malformed,
 * too_many_segments, too_many_query_args; GOSR_ETOOBIG (uri_too_long).
 * Free with admin__uri_free (also after a failure). */
int admin__uri_parse(const char *raw, size_t len, admin__uri *u,
                     gosr_error *err);
/* Releases the storage of a parsed URI and zeroes it. */
void admin__uri_free(admin__uri *u);

/* A compiled route pattern. */
typedef struct admin__pattern {
    size_t nseg;                           /* number of segments */
    char *seg[ADMIN_MAX_SEGMENTS];         /* literal text, or capture name */
    bool capture[ADMIN_MAX_SEGMENTS];      /* true for a {name} segment */
    size_t ncapture;                       /* number of captures */
    const char *names[ADMIN_MAX_SEGMENTS]; /* capture names, in order */
} admin__pattern;

/* Compiles "/v1/modules/{id}" (literals of [A-Za-z0-9._~-], captures
 * {[A-Za-z_][A-Za-z0-9_]*}, unique names). Free with admin__pattern_free. */
int admin__pattern_compile(const char *pattern, admin__pattern *p,
                           gosr_error *err);
void admin__pattern_free(admin__pattern *p);
/* Matches a parsed URI; on a match fills values[ncapture] (borrowed from
 * u) and returns true. Captures must be non-empty. */
bool admin__pattern_match(const admin__pattern *p, const admin__uri *u,
                          const char **values);
/* True when two patterns match exactly the same paths. */
bool admin__pattern_same(const admin__pattern *a, const admin__pattern *b);

/* Parses a JSON request body: empty or all-whitespace -> *out = NULL;
 * otherwise it must be one JSON object without duplicate keys
 * (GOSR_EFORMAT, json_malformed with line and column, or json_not_object).
 * Caller releases *out with json_decref. */
int admin__json_body(const uint8_t *data, size_t len, json_t **out,
                     gosr_error *err);

/* Loads a base32 TOTP secret file (mode 0600 required) into key[cap]. */
int admin__totp_secret_load(const char *path, uint8_t *key, size_t cap,
                            size_t *keylen, gosr_error *err);

#endif /* GOSR_ADMIN_INT_H */

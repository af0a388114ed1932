/*
 * semver.c — SemVer 2.0.0 versions (strict parse, precedence, format) and
 * version ranges in the npm dialect the module resolver uses: "||" of
 * space-separated comparator sets, operators = > >= < <= ^ ~ and
 * x-wildcards. Ranges are desugared into plain comparators at parse time.
 * Design: docs/manifest.md ("Versions" and "Version ranges").
 */
#include "gosr/gmod.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define RANGE_MAX_LEN 1024       /* longest range string accepted */
#define RANGE_MAX_CMPS 64        /* comparators after desugaring */
#define NUM_MAX (UINT64_MAX / 2) /* bound so that +1 never overflows */

typedef enum cmp_op { OP_EQ, OP_GT, OP_GE, OP_LT, OP_LE } cmp_op;

/* One desugared comparator of a comparator set. */
typedef struct comparator {
    cmp_op op;     /* relation the candidate must have to v */
    uint32_t set;  /* index of its "||" alternative */
    gosr_semver v; /* the bound */
} comparator;

struct gosr_semver_range {
    size_t n;       /* comparators in use */
    uint32_t nsets; /* "||" alternatives */
    comparator c[]; /* comparators, grouped by set in order */
};

/* ---- versions ------------------------------------------------------------ */

static bool is_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '-';
}

/* Parses a numeric part without leading zeros; advances *p. */
static bool parse_num(const char **p, uint64_t *out)
{
    const char *s = *p;
    if (!isdigit((unsigned char)*s))
        return false;
    if (s[0] == '0' && isdigit((unsigned char)s[1]))
        return false;
    uint64_t v = 0;
    while (isdigit((unsigned char)*s)) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (NUM_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        s++;
    }
    *p = s;
    *out = v;
    return true;
}

/* Copies dot-separated identifiers from *p into out[128]; numeric
 * identifiers must not have leading zeros when `strict_num`. */
static bool parse_idents(const char **p, char out[128], bool strict_num)
{
    const char *s = *p, *start = s;
    for (;;) {
        const char *id = s;
        bool numeric = true;
        while (is_ident_char(*s)) {
            numeric = numeric && isdigit((unsigned char)*s);
            s++;
        }
        if (s == id)
            return false;
        if (strict_num && numeric && s - id > 1 && id[0] == '0')
            return false;
        if (*s != '.')
            break;
        s++;
    }
    size_t len = (size_t)(s - start);
    if (len >= 128)
        return false;
    memcpy(out, start, len);
    out[len] = '\0';
    *p = s;
    return true;
}

/* Parses the optional "-pre" and "+build" tails. */
static bool parse_tails(const char **p, gosr_semver *v)
{
    v->pre[0] = v->build[0] = '\0';
    if (**p == '-') {
        (*p)++;
        if (!parse_idents(p, v->pre, true))
            return false;
    }
    if (**p == '+') {
        (*p)++;
        if (!parse_idents(p, v->build, false))
            return false;
    }
    return true;
}

int gosr_semver_parse(const char *s, gosr_semver *out, gosr_error *err)
{
    const char *p = s;
    gosr_semver v;
    if (!s || strlen(s) > GOSR_SEMVER_MAX_LEN)
        goto bad;
    if (!parse_num(&p, &v.major) || *p++ != '.' || !parse_num(&p, &v.minor) ||
        *p++ != '.' || !parse_num(&p, &v.patch) || !parse_tails(&p, &v) ||
        *p != '\0')
        goto bad;
    *out = v;
    return GOSR_OK;
bad:
    return gosr_error_set(err, GOSR_EFORMAT, "semver_invalid",
                          "'%.64s' is not a SemVer 2.0.0 version",
                          s ? s : "(null)");
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return (a > b) - (a < b);
}

/* Compares one prerelease identifier of lengths la, lb. */
static int cmp_ident(const char *a, size_t la, const char *b, size_t lb)
{
    bool na = true, nb = true;
    for (size_t i = 0; i < la; i++)
        na = na && isdigit((unsigned char)a[i]);
    for (size_t i = 0; i < lb; i++)
        nb = nb && isdigit((unsigned char)b[i]);
    if (na && nb) {
        if (la != lb) /* no leading zeros: longer is larger */
            return la < lb ? -1 : 1;
        int c = memcmp(a, b, la);
        return (c > 0) - (c < 0);
    }
    if (na != nb)
        return na ? -1 : 1;
    int c = memcmp(a, b, la < lb ? la : lb);
    if (c)
        return c < 0 ? -1 : 1;
    return cmp_u64(la, lb);
}

static int cmp_pre(const char *a, const char *b)
{
    if (!*a || !*b)
        return *a ? -1 : (*b ? 1 : 0);
    for (;;) {
        size_t la = strcspn(a, "."), lb = strcspn(b, ".");
        int c = cmp_ident(a, la, b, lb);
        if (c)
            return c;
        a += la;
        b += lb;
        if (!*a || !*b)
            return *a ? 1 : (*b ? -1 : 0);
        a++;
        b++;
    }
}

int gosr_semver_compare(const gosr_semver *a, const gosr_semver *b)
{
    int c = cmp_u64(a->major, b->major);
    if (!c)
        c = cmp_u64(a->minor, b->minor);
    if (!c)
        c = cmp_u64(a->patch, b->patch);
    return c ? c : cmp_pre(a->pre, b->pre);
}

void gosr_semver_format(const gosr_semver *v, char *out, size_t n)
{
    if (!n)
        return;
    snprintf(out, n, "%llu.%llu.%llu%s%s%s%s", (unsigned long long)v->major,
             (unsigned long long)v->minor, (unsigned long long)v->patch,
             v->pre[0] ? "-" : "", v->pre, v->build[0] ? "+" : "", v->build);
}

/* ---- ranges -------------------------------------------------------------- */

/* A partial version of a range: nx numbers given (0..3), the rest x. */
typedef struct partial {
    int nx;        /* how many of major, minor, patch are numbers */
    gosr_semver v; /* given parts, missing ones 0 */
} partial;

static bool is_x(char c)
{
    return c == 'x' || c == 'X' || c == '*';
}

/* Parses a partial version ("1", "1.2", "1.x", "*", "1.2.3-rc.1"). */
static bool parse_partial(const char **p, partial *out)
{
    uint64_t *parts[3] = {&out->v.major, &out->v.minor, &out->v.patch};
    memset(out, 0, sizeof *out);
    bool wild = false;
    for (int i = 0; i < 3; i++) {
        if (is_x(**p)) {
            (*p)++;
            wild = true;
        } else if (wild || !parse_num(p, parts[i])) {
            return false;
        } else {
            out->nx++;
        }
        if (i == 2 || **p != '.')
            break;
        (*p)++;
    }
    if (**p == '-' || **p == '+') {
        if (out->nx != 3 || !parse_tails(p, &out->v))
            return false;
    }
    return true;
}

static gosr_semver mkver(uint64_t ma, uint64_t mi, uint64_t pa, bool pre0)
{
    gosr_semver v = {.major = ma, .minor = mi, .patch = pa};
    if (pre0)
        strcpy(v.pre, "0");
    return v;
}

/* Appends a comparator; false when the range has too many. */
static bool add_cmp(gosr_semver_range *r, cmp_op op, gosr_semver v)
{
    if (r->n >= RANGE_MAX_CMPS)
        return false;
    r->c[r->n++] = (comparator){op, r->nsets, v};
    return true;
}

/* The exclusive upper bound of "^" for a partial. */
static gosr_semver caret_upper(const partial *q)
{
    const gosr_semver *v = &q->v;
    if (v->major > 0 || q->nx < 2)
        return mkver(v->major + 1, 0, 0, true);
    if (v->minor > 0 || q->nx < 3)
        return mkver(0, v->minor + 1, 0, true);
    return mkver(0, 0, v->patch + 1, true);
}

/* The exclusive upper bound implied by the last given part ("1.2" ->
 * <1.3.0-0, "1" -> <2.0.0-0). */
static gosr_semver next_upper(const partial *q)
{
    if (q->nx >= 2)
        return mkver(q->v.major, q->v.minor + 1, 0, true);
    return mkver(q->v.major + 1, 0, 0, true);
}

static bool desugar(gosr_semver_range *r, const char *op, const partial *q)
{
    gosr_semver lo = q->v, any = mkver(0, 0, 0, false);
    if (q->nx == 0) { /* "*" family */
        if (!strcmp(op, ">") || !strcmp(op, "<"))
            return add_cmp(r, OP_LT, mkver(0, 0, 0, true));
        return add_cmp(r, OP_GE, any);
    }
    if (!strcmp(op, "^"))
        return add_cmp(r, OP_GE, lo) && add_cmp(r, OP_LT, caret_upper(q));
    if (!strcmp(op, "~"))
        return add_cmp(r, OP_GE, lo) &&
               add_cmp(r, OP_LT,
                       next_upper(&(partial){q->nx < 2 ? 1 : 2, q->v}));
    if (!strcmp(op, ">="))
        return add_cmp(r, OP_GE, lo);
    if (!strcmp(op, "<"))
        return add_cmp(r, OP_LT,
                       q->nx == 3 ? lo : mkver(lo.major, lo.minor, 0, true));
    if (q->nx == 3) {
        cmp_op o = !strcmp(op, ">") ? OP_GT : !strcmp(op, "<=") ? OP_LE : OP_EQ;
        return add_cmp(r, o, lo);
    }
    gosr_semver up = next_upper(q);
    if (!strcmp(op, ">")) /* ">1.2" = ">=1.3.0" */
        return add_cmp(r, OP_GE, mkver(up.major, up.minor, 0, false));
    if (!strcmp(op, "<="))
        return add_cmp(r, OP_LT, up);
    return add_cmp(r, OP_GE, lo) && add_cmp(r, OP_LT, up); /* "=" */
}

/* Reads an operator ("", "=", ">", ">=", "<", "<=", "^", "~") into op[3]. */
static void read_op(const char **p, char op[3])
{
    size_t n = 0;
    if (**p == '^' || **p == '~' || **p == '=') {
        op[n++] = *(*p)++;
    } else if (**p == '>' || **p == '<') {
        op[n++] = *(*p)++;
        if (**p == '=')
            op[n++] = *(*p)++;
    }
    op[n] = '\0';
    while (**p == ' ')
        (*p)++;
}

/* Parses one "||" alternative from *p up to "||" or the end. */
static bool parse_set(gosr_semver_range *r, const char **p)
{
    size_t before = r->n;
    for (;;) {
        while (**p == ' ' || **p == '\t')
            (*p)++;
        if (**p == '\0' || (**p == '|' && (*p)[1] == '|'))
            break;
        char op[3];
        partial q;
        read_op(p, op);
        if (!parse_partial(p, &q) || !desugar(r, op, &q))
            return false;
        if (**p != '\0' && **p != ' ' && **p != '\t' && **p != '|')
            return false;
    }
    if (r->n == before) /* empty alternative = any version */
        return add_cmp(r, OP_GE, mkver(0, 0, 0, false));
    return true;
}

int gosr_semver_range_parse(const char *s, gosr_semver_range **out,
                            gosr_error *err)
{
    *out = NULL;
    if (!s || strlen(s) > RANGE_MAX_LEN)
        goto bad;
    gosr_semver_range *r =
        gosr_calloc(1, sizeof *r + RANGE_MAX_CMPS * sizeof(comparator));
    if (!r)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory",
                              "no memory for a version range");
    const char *p = s;
    for (;;) {
        if (!parse_set(r, &p)) {
            gosr_free(r);
            goto bad;
        }
        r->nsets++;
        if (*p == '\0')
            break;
        p += 2; /* "||" */
    }
    *out = r;
    return GOSR_OK;
bad:
    return gosr_error_set(err, GOSR_EFORMAT, "semver_range_invalid",
                          "'%.64s' is not a version range", s ? s : "(null)");
}

void gosr_semver_range_free(gosr_semver_range *r)
{
    gosr_free(r);
}

static bool cmp_holds(const comparator *c, const gosr_semver *v)
{
    int k = gosr_semver_compare(v, &c->v);
    switch (c->op) {
    case OP_EQ:
        return k == 0;
    case OP_GT:
        return k > 0;
    case OP_GE:
        return k >= 0;
    case OP_LT:
        return k < 0;
    case OP_LE:
        return k <= 0;
    }
    return false;
}

static bool same_tuple(const gosr_semver *a, const gosr_semver *b)
{
    return a->major == b->major && a->minor == b->minor && a->patch == b->patch;
}

/* Tests comparators [i, j) of one set. */
static bool set_holds(const gosr_semver_range *r, size_t i, size_t j,
                      const gosr_semver *v)
{
    bool pre_ok = v->pre[0] == '\0';
    for (size_t k = i; k < j; k++) {
        if (!cmp_holds(&r->c[k], v))
            return false;
        /* Synthetic "-0" upper bounds do not admit prereleases. */
        bool synthetic =
            (r->c[k].op == OP_LT && strcmp(r->c[k].v.pre, "0") == 0);
        if (!synthetic && r->c[k].v.pre[0] && same_tuple(&r->c[k].v, v))
            pre_ok = true;
    }
    return pre_ok;
}

bool gosr_semver_range_satisfies(const gosr_semver_range *r,
                                 const gosr_semver *v)
{
    size_t i = 0;
    while (i < r->n) {
        size_t j = i;
        while (j < r->n && r->c[j].set == r->c[i].set)
            j++;
        if (set_holds(r, i, j, v))
            return true;
        i = j;
    }
    return false;
}

bool gosr_semver_satisfies(const char *range, const char *version)
{
    gosr_semver v;
    gosr_semver_range *r;
    if (gosr_semver_parse(version, &v, NULL) != GOSR_OK ||
        gosr_semver_range_parse(range, &r, NULL) != GOSR_OK)
        return false;
    bool ok = gosr_semver_range_satisfies(r, &v);
    gosr_semver_range_free(r);
    return ok;
}

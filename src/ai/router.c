/*
 * router.c — the AI router: admission on the caller's thread (input size
 * and schema, kill switches for user and session, rate tiers, queue bound),
 * then on the router's own thread a curl multi loop that walks the
 * capability's fallback chain: skip deployments the tier may not use, that
 * are cooling down or whose breaker is open; call the next one with its
 * timeout; accept its output only after schema, semantic and policy
 * checks; on any failure try the next; the ghost tier always answers last.
 * Every answer is recorded in the provenance log and delivered through the
 * caller's callback on the router thread. Retries happen only here, as
 * failover to the next deployment.
 *
 * Design: docs/ai.md ("Router", "Kill switches").
 * Sections: types, admission, transfers, chain walk, thread, public API.
 */
#include "ai/ai_int.h"
#include "gosr/crypto.h"

#include <curl/curl.h>
#include <pthread.h>
#include <string.h>

/* ---- types -------------------------------------------------------------- */

typedef struct provider {
    gosr_ai_provider_config cfg; /* copied config (strings owned) */
    char *endpoint;              /* full URL of the chat endpoint */
    gosr_ai_cooldown cool;       /* router thread only */
    uint64_t calls, failures;    /* router thread writes, status reads */
} provider;

typedef struct job job;

/* One in-flight HTTP exchange. */
typedef struct xfer {
    CURL *easy;              /* the transfer */
    struct curl_slist *hdrs; /* request headers */
    char *body;              /* request body */
    gosr_buf resp;           /* response bytes (non-stream) */
    ai_stream stream;        /* stream parser (stream mode) */
    bool too_big;            /* response exceeded the cap */
    size_t max;              /* response cap in bytes */
    uint64_t retry_after_ns; /* from a Retry-After header */
    uint64_t t0;             /* start time */
    int prov;                /* provider index */
    job *j;                  /* owning job */
} xfer;

struct job {
    job *next;                    /* queue link */
    job *anext, *aprev;           /* active (in-flight) list, router thread */
    uint64_t id;                  /* request id */
    gosr_ai_cap cap;              /* capability */
    gosr_ai_tier tier;            /* tier */
    char user[GOSR_AI_MAX_ID + 1]; /* user id */
    char session[GOSR_AI_MAX_ID + 1]; /* session id or "" */
    json_t *input;                /* validated input with defaults */
    uint64_t seed;                /* seed */
    gosr_ai_result_fn cb;         /* completion callback */
    void *ud;                     /* its argument */
    uint64_t t_submit;            /* submit time */
    int pos;                      /* next chain position */
    uint32_t attempts;            /* providers tried */
    char fails[256];              /* "prov:reason;" list */
    ai_prompt prompt;             /* built on first provider call */
    bool have_prompt;             /* prompt is built */
    xfer x;                       /* the current transfer */
};

#define MAX_KILLS 1024

struct gosr_ai_router {
    gosr_ai_router_config cfg;            /* copy (strings below owned) */
    provider prov[GOSR_AI_MAX_PROVIDERS]; /* deployments */
    int nprov;                            /* used entries */
    int chain[GOSR_AI_CAP_COUNT][GOSR_AI_MAX_CHAIN]; /* provider indices */
    int chain_len[GOSR_AI_CAP_COUNT];     /* entries per chain */
    gosr_ai_breaker *br[GOSR_AI_CAP_COUNT][GOSR_AI_MAX_PROVIDERS]; /* own */
    gosr_ai_limiter *lim;                 /* rate tiers */
    gosr_ai_userstate *us;                /* per-user state */
    gosr_ai_provenance *prov_log;         /* provenance or NULL */
    CURLM *multi;                         /* router thread only */
    job *active;                          /* jobs with a transfer running */
    pthread_t thread;                     /* the router thread */
    pthread_mutex_t mu;                   /* guards queue, kills, counters */
    job *qhead, *qtail;                   /* submitted, not yet started */
    uint32_t pending;                     /* queued + in flight */
    bool stop;                            /* destroy requested */
    uint64_t next_id;                     /* request ids */
    char *killed_users[MAX_KILLS];        /* killed user ids (owned) */
    char *killed_sessions[MAX_KILLS];     /* killed session ids (owned) */
    bool killed_caps[GOSR_AI_CAP_COUNT];  /* killed capabilities */
    uint64_t n_submitted, n_refused, n_answered, n_ghost, n_failed; /* counters */
};

static uint64_t now_ns(gosr_ai_router *r)
{
    return ai__now(r->cfg.clock, r->cfg.clock_ud);
}

static bool in_set(char *const *set, const char *id)
{
    for (int i = 0; i < MAX_KILLS; i++)
        if (set[i] && !strcmp(set[i], id))
            return true;
    return false;
}

/* ---- delivery ----------------------------------------------------------- */

static void record(gosr_ai_router *r, job *j, const char *prov,
                   const char *model, const char *out)
{
    if (!r->prov_log)
        return;
    gosr_ai_provenance_rec rec = {.capability = gosr_ai_cap_name(j->cap),
                                  .provider = prov, .model = model,
                                  .user = j->user, .session = j->session};
    gosr_blake3 h;
    gosr_blake3_init(&h);
    if (j->have_prompt && strcmp(prov, "ghost")) {
        gosr_blake3_update(&h, j->prompt.system, strlen(j->prompt.system) + 1);
        gosr_blake3_update(&h, j->prompt.user, strlen(j->prompt.user));
    } else {
        char *c = json_dumps(j->input, JSON_COMPACT | JSON_SORT_KEYS);
        gosr_blake3_update(&h, c ? c : "", c ? strlen(c) : 0);
        gosr_blake3_update(&h, &j->seed, sizeof j->seed);
        free(c);
    }
    gosr_blake3_finalize(&h, rec.prompt_hash, 32);
    gosr_hash oh;
    gosr_blake3_hash(out, strlen(out), &oh);
    memcpy(rec.output_hash, oh.b, 32);
    gosr_error e;
    if (gosr_ai_provenance_append(r->prov_log, &rec, &e))
        gosr_log(GOSR_LOG_ERROR, "ai", "provenance: %s", e.detail);
}

static void finish_job(gosr_ai_router *r, job *j, int status,
                       const char *reason, const char *out, const char *prov,
                       const char *model)
{
    gosr_ai_result res = {.status = status, .cap = j->cap, .output = out,
                          .provider = prov, .model = model,
                          .attempts = j->attempts, .request_id = j->id,
                          .latency_ns = now_ns(r) - j->t_submit};
    snprintf(res.reason, sizeof res.reason, "%s", reason ? reason : "");
    snprintf(res.fail_reasons, sizeof res.fail_reasons, "%s", j->fails);
    if (status == GOSR_OK)
        record(r, j, prov, model, out);
    pthread_mutex_lock(&r->mu);
    if (status == GOSR_OK)
        r->n_answered++, r->n_ghost += !strcmp(prov, "ghost");
    else
        r->n_failed++;
    pthread_mutex_unlock(&r->mu);
    j->cb(j->ud, &res);
    gosr_ai_limiter_release(r->lim, j->user);
    pthread_mutex_lock(&r->mu);
    r->pending--;
    pthread_mutex_unlock(&r->mu);
    if (j->have_prompt)
        ai__prompt_free(&j->prompt);
    json_decref(j->input);
    gosr_free(j);
}

static void answer_ghost(gosr_ai_router *r, job *j)
{
    char *out = NULL, *ok = NULL;
    gosr_error e;
    gosr_error_clear(&e);
    int rc = gosr_ai_ghost_generate(j->cap, j->input, j->seed, &out, &e);
    if (!rc)
        rc = ai__accept_output(j->cap, j->input, out, NULL, &ok, &e);
    finish_job(r, j, rc, rc ? e.reason : NULL, ok, "ghost", "ghost-v1");
    gosr_free(out);
    gosr_free(ok);
}

/* ---- transfers ---------------------------------------------------------- */

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = sz * n;
    if (x->resp.len + len > x->max) {
        x->too_big = true;
        return 0;
    }
    x->resp.len += x->stream.max ? len : 0; /* streams count bytes only */
    if (x->stream.max)
        return ai__stream_feed(&x->stream, p, len) ? 0 : len;
    return gosr_buf_append(&x->resp, p, len) ? 0 : len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = sz * n;
    if (len > 12 && !strncasecmp(p, "Retry-After:", 12)) {
        long s = strtol(p + 12, NULL, 10);
        if (s > 0 && s < 3600)
            x->retry_after_ns = (uint64_t)s * 1000000000ull;
    }
    return len;
}

static int start_xfer(gosr_ai_router *r, job *j, int pi, gosr_error *e)
{
    provider *p = &r->prov[pi];
    xfer *x = &j->x;
    memset(x, 0, sizeof *x);
    x->j = j;
    x->prov = pi;
    x->max = r->cfg.max_response_bytes;
    if (p->cfg.stream)
        ai__stream_init(&x->stream, p->cfg.kind == GOSR_AI_PROVIDER_OLLAMA,
                        r->cfg.max_response_bytes);
    int rc = ai__provider_body(&p->cfg, &j->prompt, j->seed, &x->body, e);
    if (rc)
        return rc;
    x->easy = curl_easy_init();
    x->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (!x->easy || !x->hdrs)
        return gosr_error_set(e, GOSR_ENOMEM, "out_of_memory", "curl");
    if (p->cfg.api_key) {
        char auth[600];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", p->cfg.api_key);
        x->hdrs = curl_slist_append(x->hdrs, auth);
    }
    CURL *c = x->easy;
    curl_easy_setopt(c, CURLOPT_URL, p->endpoint);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)p->cfg.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)p->cfg.timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_PRIVATE, j);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)r->cfg.max_response_bytes);
    x->t0 = gosr_time_mono_ns();
    if (curl_multi_add_handle(r->multi, c) != CURLM_OK)
        return gosr_error_set(e, GOSR_EIO, "transport", "curl_multi_add_handle");
    return GOSR_OK;
}

static void end_xfer(gosr_ai_router *r, xfer *x)
{
    if (x->easy) {
        curl_multi_remove_handle(r->multi, x->easy);
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->hdrs);
    gosr_free(x->body);
    gosr_buf_free(&x->resp);
    ai__stream_free(&x->stream);
    memset(x, 0, sizeof *x);
}

/* ---- chain walk --------------------------------------------------------- */

static void add_fail(job *j, const char *prov, const char *reason)
{
    size_t n = strlen(j->fails);
    snprintf(j->fails + n, sizeof j->fails - n, "%s:%s;", prov, reason);
}

static bool build_prompt(gosr_ai_router *r, job *j, gosr_error *e)
{
    if (j->have_prompt)
        return true;
    gosr_ai_tuning t = {"neutral", 2, "en"};
    gosr_ai_user *u = NULL;
    if (gosr_ai_user_open(r->us, j->user, &u, NULL) == GOSR_OK) {
        gosr_ai_user_tuning_get(u, &t, NULL);
        gosr_ai_user_release(u);
    }
    j->have_prompt = ai__prompt_build(j->cap, &t, j->input, &j->prompt, e) == GOSR_OK;
    return j->have_prompt;
}

/* Starts the next usable provider, or answers from the ghost tier. */
static void next_attempt(gosr_ai_router *r, job *j)
{
    bool killed;
    pthread_mutex_lock(&r->mu);
    killed = r->killed_caps[j->cap];
    pthread_mutex_unlock(&r->mu);
    const gosr_ai_tier_limits *lim = gosr_ai_tier_limits_get(j->tier);
    while (!killed && j->pos < r->chain_len[j->cap]) {
        int pi = r->chain[j->cap][j->pos++];
        provider *p = &r->prov[pi];
        gosr_error e;
        if (p->cfg.size > lim->max_size)
            continue; /* not for this tier: not a failure */
        if (gosr_ai_cooldown_active(&p->cool, now_ns(r))) {
            add_fail(j, p->cfg.name, "cooldown");
            continue;
        }
        if (!gosr_ai_breaker_allow(r->br[j->cap][pi])) {
            add_fail(j, p->cfg.name, "breaker_open");
            continue;
        }
        if (!build_prompt(r, j, &e) || start_xfer(r, j, pi, &e)) {
            gosr_ai_breaker_record(r->br[j->cap][pi], true, 0); /* not its fault */
            add_fail(j, p->cfg.name, e.reason);
            end_xfer(r, &j->x);
            continue;
        }
        j->attempts++;
        __atomic_add_fetch(&p->calls, 1, __ATOMIC_RELAXED);
        j->anext = r->active;
        j->aprev = NULL;
        if (r->active)
            r->active->aprev = j;
        r->active = j;
        return;
    }
    answer_ghost(r, j);
}

/* Turns a finished transfer into provider text or a failure reason. */
static int read_answer(gosr_ai_router *r, xfer *x, CURLcode cc, char **text,
                       gosr_error *e)
{
    long code = 0;
    provider *p = &r->prov[x->prov];
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return gosr_error_set(e, GOSR_ETIMEOUT, "timeout", "after %u ms",
                              p->cfg.timeout_ms);
    if (cc == CURLE_WRITE_ERROR && p->cfg.stream && x->stream.status)
        return ai__stream_finish(&x->stream, text, e);
    if (x->too_big || cc == CURLE_FILESIZE_EXCEEDED)
        return gosr_error_set(e, GOSR_ETOOBIG, "response_too_large", "cap");
    if (cc == CURLE_PARTIAL_FILE || cc == CURLE_RECV_ERROR)
        return gosr_error_set(e, GOSR_EPROTO, "response_truncated", "%s",
                              curl_easy_strerror(cc));
    if (cc != CURLE_OK)
        return gosr_error_set(e, GOSR_EIO, "transport", "%s",
                              curl_easy_strerror(cc));
    if (code == 429)
        return gosr_error_set(e, GOSR_EAGAIN, "http_429", "rate limited");
    if (code >= 500)
        return gosr_error_set(e, GOSR_EPROTO, "http_5xx", "status %ld", code);
    if (code != 200)
        return gosr_error_set(e, GOSR_EPROTO, "http_status", "status %ld", code);
    if (p->cfg.stream)
        return ai__stream_finish(&x->stream, text, e);
    const char *b = x->resp.data ? (char *)x->resp.data : "";
    return p->cfg.kind == GOSR_AI_PROVIDER_OPENAI
               ? ai__openai_parse(b, x->resp.len, text, e)
               : ai__ollama_parse(b, x->resp.len, text, e);
}

static void unlink_active(gosr_ai_router *r, job *j)
{
    if (j->aprev)
        j->aprev->anext = j->anext;
    else
        r->active = j->anext;
    if (j->anext)
        j->anext->aprev = j->aprev;
    j->anext = j->aprev = NULL;
}

static void on_done(gosr_ai_router *r, job *j, CURLcode cc)
{
    unlink_active(r, j);
    xfer *x = &j->x;
    provider *p = &r->prov[x->prov];
    uint64_t dur = gosr_time_mono_ns() - x->t0;
    char *text = NULL, *out = NULL;
    gosr_error e;
    gosr_error_clear(&e);
    int rc = read_answer(r, x, cc, &text, &e);
    if (!rc)
        rc = ai__accept_output(j->cap, j->input, text, j->prompt.token, &out, &e);
    gosr_free(text);
    gosr_ai_breaker_record(r->br[j->cap][x->prov], rc == GOSR_OK, dur);
    gosr_ai_cooldown_record(&p->cool, rc == GOSR_OK,
                            rc == GOSR_EAGAIN ? (x->retry_after_ns ? x->retry_after_ns : 1)
                                              : 0,
                            now_ns(r));
    end_xfer(r, x);
    if (rc == GOSR_OK) {
        finish_job(r, j, GOSR_OK, NULL, out, p->cfg.name, p->cfg.model);
        gosr_free(out);
        return;
    }
    __atomic_add_fetch(&p->failures, 1, __ATOMIC_RELAXED);
    add_fail(j, p->cfg.name, e.reason[0] ? e.reason : "failed");
    next_attempt(r, j);
}

/* ---- thread ------------------------------------------------------------- */

static job *pop_all(gosr_ai_router *r, bool *stop)
{
    pthread_mutex_lock(&r->mu);
    job *h = r->qhead;
    r->qhead = r->qtail = NULL;
    *stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    return h;
}

static void drain_done(gosr_ai_router *r)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(r->multi, &left)))
        if (m->msg == CURLMSG_DONE) {
            job *j = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            on_done(r, j, m->data.result);
        }
}

/* Cancels everything still running at shutdown. */
static void cancel_all(gosr_ai_router *r, job *queued)
{
    while (r->active) {
        job *j = r->active;
        unlink_active(r, j);
        end_xfer(r, &j->x);
        finish_job(r, j, GOSR_ECLOSED, "router_closed", NULL, "", "");
    }
    for (job *j = queued, *n; j; j = n) {
        n = j->next;
        finish_job(r, j, GOSR_ECLOSED, "router_closed", NULL, "", "");
    }
}

static void *router_main(void *arg)
{
    gosr_ai_router *r = arg;
    bool stop = false;
    for (;;) {
        job *q = pop_all(r, &stop);
        if (stop) {
            cancel_all(r, q);
            break;
        }
        for (job *j = q, *n; j; j = n) {
            n = j->next;
            next_attempt(r, j);
        }
        int running = 0;
        curl_multi_perform(r->multi, &running);
        drain_done(r);
        curl_multi_poll(r->multi, NULL, 0, 100, NULL);
    }
    return NULL;
}

/* ---- public API --------------------------------------------------------- */

static int copy_provider(provider *p, const gosr_ai_provider_config *c,
                         gosr_error *err)
{
    p->cfg = *c;
    p->cfg.name = gosr_strdup(c->name ? c->name : "");
    p->cfg.url = gosr_strdup(c->url ? c->url : "");
    p->cfg.model = gosr_strdup(c->model ? c->model : "");
    p->cfg.api_key = c->api_key ? gosr_strdup(c->api_key) : NULL;
    if (!p->cfg.timeout_ms)
        p->cfg.timeout_ms = 10000;
    size_t n = strlen(p->cfg.url ? p->cfg.url : "");
    while (n && p->cfg.url[n - 1] == '/')
        n--;
    p->endpoint = gosr_asprintf("%.*s%s", (int)n, p->cfg.url,
                                c->kind == GOSR_AI_PROVIDER_OPENAI
                                    ? "/v1/chat/completions" : "/api/chat");
    if (!p->cfg.name || !p->cfg.url || !p->cfg.model || !p->endpoint)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "provider");
    if (!c->name || !*c->name || strncmp(p->cfg.url, "http", 4))
        return gosr_error_set(err, GOSR_EINVAL, "config_provider",
                              "provider needs a name and an http(s) URL");
    return GOSR_OK;
}

static int find_provider(gosr_ai_router *r, const char *name)
{
    for (int i = 0; i < r->nprov; i++)
        if (!strcmp(r->prov[i].cfg.name, name))
            return i;
    return -1;
}

static int setup_chains(gosr_ai_router *r, const gosr_ai_router_config *cfg,
                        gosr_error *err)
{
    for (int c = 0; c < GOSR_AI_CAP_COUNT; c++) {
        bool any = cfg->chains[c][0] != NULL;
        for (int k = 0; k < GOSR_AI_MAX_CHAIN; k++) {
            if (!any) { /* default chain: every provider in order */
                if (k >= r->nprov) break;
                r->chain[c][r->chain_len[c]++] = k;
                continue;
            }
            if (!cfg->chains[c][k]) break;
            int pi = find_provider(r, cfg->chains[c][k]);
            if (pi < 0)
                return gosr_error_set(err, GOSR_EINVAL, "config_chain",
                                      "chain of %s names unknown provider %s",
                                      gosr_ai_cap_name((gosr_ai_cap)c),
                                      cfg->chains[c][k]);
            r->chain[c][r->chain_len[c]++] = pi;
        }
        for (int p = 0; p < r->nprov; p++) {
            gosr_ai_breaker_config bc = cfg->breaker;
            if (!bc.clock) bc.clock = cfg->clock, bc.clock_ud = cfg->clock_ud;
            if (gosr_ai_breaker_create(&bc, &r->br[c][p]))
                return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "breaker");
        }
    }
    return GOSR_OK;
}

static int setup(gosr_ai_router *r, const gosr_ai_router_config *cfg,
                 gosr_error *err)
{
    int rc;
    if (cfg->nproviders > GOSR_AI_MAX_PROVIDERS)
        return gosr_error_set(err, GOSR_EINVAL, "config_providers", "too many");
    for (uint32_t i = 0; i < cfg->nproviders; i++, r->nprov++) {
        if ((rc = copy_provider(&r->prov[i], &cfg->providers[i], err)))
            return r->nprov++, rc;
        r->prov[i].cool = cfg->cooldown;
        r->prov[i].cool.consecutive = 0;
        r->prov[i].cool.until_ns = 0;
    }
    if ((rc = setup_chains(r, cfg, err)))
        return rc;
    gosr_ai_limiter_config lc = {.clock = cfg->clock, .clock_ud = cfg->clock_ud};
    if (gosr_ai_limiter_create(&lc, &r->lim))
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "limiter");
    if ((rc = gosr_ai_userstate_open(cfg->userstate_path, &r->us, err)))
        return rc;
    if (cfg->provenance_path &&
        (rc = gosr_ai_provenance_open(cfg->provenance_path, false, &r->prov_log, err)))
        return rc;
    if (!(r->multi = curl_multi_init()))
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "curl multi");
    curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
    return GOSR_OK;
}

static void teardown(gosr_ai_router *r)
{
    for (int i = 0; i < r->nprov; i++) {
        gosr_free((char *)r->prov[i].cfg.name);
        gosr_free((char *)r->prov[i].cfg.url);
        gosr_free((char *)r->prov[i].cfg.model);
        gosr_free((char *)r->prov[i].cfg.api_key);
        gosr_free(r->prov[i].endpoint);
    }
    for (int c = 0; c < GOSR_AI_CAP_COUNT; c++)
        for (int p = 0; p < GOSR_AI_MAX_PROVIDERS; p++)
            gosr_ai_breaker_destroy(r->br[c][p]);
    for (int i = 0; i < MAX_KILLS; i++) {
        gosr_free(r->killed_users[i]);
        gosr_free(r->killed_sessions[i]);
    }
    if (r->multi)
        curl_multi_cleanup(r->multi);
    gosr_ai_limiter_destroy(r->lim);
    gosr_ai_userstate_close(r->us);
    gosr_ai_provenance_close(r->prov_log);
    pthread_mutex_destroy(&r->mu);
    gosr_free(r);
}

static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

int gosr_ai_router_create(const gosr_ai_router_config *cfg,
                          gosr_ai_router **out, gosr_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    static const gosr_ai_router_config zero;
    pthread_once(&once, curl_init_once);
    gosr_ai_router *r = gosr_calloc(1, sizeof *r);
    if (!r)
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "router");
    if (!cfg)
        cfg = &zero;
    r->cfg = *cfg;
    if (!r->cfg.max_queue) r->cfg.max_queue = 1024;
    if (!r->cfg.max_input_bytes) r->cfg.max_input_bytes = 16384;
    if (!r->cfg.max_response_bytes) r->cfg.max_response_bytes = 1u << 20;
    /* borrowed strings of the caller are not kept */
    memset(r->cfg.providers, 0, sizeof r->cfg.providers);
    memset(r->cfg.chains, 0, sizeof r->cfg.chains);
    r->cfg.userstate_path = r->cfg.provenance_path = NULL;
    pthread_mutex_init(&r->mu, NULL);
    int rc = setup(r, cfg, err);
    if (!rc && pthread_create(&r->thread, NULL, router_main, r))
        rc = gosr_error_set(err, GOSR_EIO, "thread", "cannot start router thread");
    if (rc) {
        teardown(r);
        return rc;
    }
    *out = r;
    return GOSR_OK;
}

void gosr_ai_router_destroy(gosr_ai_router *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_mutex_unlock(&r->mu);
    curl_multi_wakeup(r->multi);
    pthread_join(r->thread, NULL);
    teardown(r);
}

/* Parses, fills and validates the input on the caller's thread. */
static int admit_input(gosr_ai_router *r, const gosr_ai_request *q,
                       json_t **out, gosr_error *err)
{
    const char *text = q->input && *q->input ? q->input : "{}";
    size_t n = strlen(text);
    json_error_t je;
    if (n > r->cfg.max_input_bytes)
        return gosr_error_set(err, GOSR_ETOOBIG, "input_too_large",
                              "%zu bytes > %u", n, r->cfg.max_input_bytes);
    json_t *in = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    if (!in)
        return gosr_error_set(err, GOSR_EFORMAT, "input_not_json", "%s", je.text);
    int rc = gosr_ai_cap_fill_defaults(q->cap, in, err);
    if (!rc)
        rc = gosr_ai_schema_validate(gosr_ai_cap_input_schema(q->cap), in, err);
    if (rc) {
        json_decref(in);
        return rc == GOSR_ENOMEM ? rc : GOSR_EFORMAT;
    }
    *out = in;
    return GOSR_OK;
}

static int admit_ids(gosr_ai_router *r, const gosr_ai_request *q, gosr_error *err)
{
    size_t un = q->user ? strlen(q->user) : 0;
    size_t sn = q->session ? strlen(q->session) : 0;
    if ((unsigned)q->cap >= GOSR_AI_CAP_COUNT || un == 0 || un > GOSR_AI_MAX_ID ||
        sn > GOSR_AI_MAX_ID || (unsigned)q->tier >= GOSR_AI_TIER_COUNT)
        return gosr_error_set(err, GOSR_EINVAL, "bad_request",
                              "capability, user (1..%d bytes), session or tier invalid",
                              GOSR_AI_MAX_ID);
    pthread_mutex_lock(&r->mu);
    bool ku = in_set(r->killed_users, q->user);
    bool ks = sn && in_set(r->killed_sessions, q->session);
    pthread_mutex_unlock(&r->mu);
    if (ku || ks)
        return gosr_error_set(err, GOSR_EDENIED, ku ? "killed_user" : "killed_session",
                              "AI is switched off for this %s", ku ? "user" : "session");
    return GOSR_OK;
}

static int enqueue(gosr_ai_router *r, job *j, uint64_t *request_id,
                   gosr_error *err)
{
    pthread_mutex_lock(&r->mu);
    if (r->pending >= r->cfg.max_queue || r->stop) {
        bool stopping = r->stop;
        r->n_refused++;
        pthread_mutex_unlock(&r->mu);
        return stopping ? gosr_error_set(err, GOSR_ECLOSED, "router_closed", "closing")
                        : gosr_error_set(err, GOSR_EBUSY, "queue_full",
                                         "%u requests pending", r->cfg.max_queue);
    }
    j->id = ++r->next_id;
    if (request_id)
        *request_id = j->id; /* before the router thread can see j */
    r->pending++;
    r->n_submitted++;
    if (r->qtail)
        r->qtail->next = j;
    else
        r->qhead = j;
    r->qtail = j;
    pthread_mutex_unlock(&r->mu);
    curl_multi_wakeup(r->multi);
    return GOSR_OK;
}

int gosr_ai_router_submit(gosr_ai_router *r, const gosr_ai_request *q,
                          gosr_ai_result_fn cb, void *ud, uint64_t *request_id,
                          gosr_error *err)
{
    json_t *in = NULL;
    int rc = admit_ids(r, q, err);
    if (!rc)
        rc = admit_input(r, q, &in, err);
    if (!rc)
        rc = gosr_ai_limiter_take(r->lim, q->user, q->cap, q->tier, NULL, err);
    if (rc) {
        json_decref(in);
        pthread_mutex_lock(&r->mu);
        r->n_refused++;
        pthread_mutex_unlock(&r->mu);
        return rc;
    }
    job *j = gosr_calloc(1, sizeof *j);
    if (!j) {
        json_decref(in);
        gosr_ai_limiter_release(r->lim, q->user);
        return gosr_error_set(err, GOSR_ENOMEM, "out_of_memory", "job");
    }
    *j = (job){.cap = q->cap, .tier = q->tier, .input = in, .seed = q->seed,
               .cb = cb, .ud = ud, .t_submit = now_ns(r)};
    snprintf(j->user, sizeof j->user, "%s", q->user);
    snprintf(j->session, sizeof j->session, "%s", q->session ? q->session : "");
    if ((rc = enqueue(r, j, request_id, err))) {
        gosr_ai_limiter_release(r->lim, q->user);
        json_decref(in);
        gosr_free(j);
        return rc;
    }
    return GOSR_OK;
}

/* ---- synchronous ask ---------------------------------------------------- */

typedef struct waiter {
    pthread_mutex_t mu;  /* guards the fields below */
    pthread_cond_t cv;   /* signalled on completion */
    bool done;           /* the callback ran */
    int status;          /* result status */
    char reason[64];     /* result reason */
    char *output;        /* copied output */
    char provider[64];   /* copied provider name */
} waiter;

static void wake(void *ud, const gosr_ai_result *res)
{
    waiter *w = ud;
    pthread_mutex_lock(&w->mu);
    w->status = res->status;
    snprintf(w->reason, sizeof w->reason, "%s", res->reason);
    w->output = res->output ? gosr_strdup(res->output) : NULL;
    snprintf(w->provider, sizeof w->provider, "%s", res->provider ? res->provider : "");
    if (res->status == GOSR_OK && !w->output)
        w->status = GOSR_ENOMEM;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int gosr_ai_router_ask(gosr_ai_router *r, const gosr_ai_request *q,
                       char **output, char prov_out[64], gosr_error *err)
{
    waiter w = {.done = false};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rc = gosr_ai_router_submit(r, q, wake, &w, NULL, err);
    if (!rc) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = w.status;
        if (rc)
            gosr_error_set(err, rc, w.reason, "request failed");
        if (prov_out)
            snprintf(prov_out, 64, "%s", w.provider);
        if (output)
            *output = w.output;
        else
            gosr_free(w.output);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

/* ---- kill switches and status ------------------------------------------- */

static int set_member(char **set, const char *id, bool on)
{
    int free_slot = -1;
    for (int i = 0; i < MAX_KILLS; i++) {
        if (set[i] && !strcmp(set[i], id)) {
            if (!on) {
                gosr_free(set[i]);
                set[i] = NULL;
            }
            return GOSR_OK;
        }
        if (!set[i] && free_slot < 0)
            free_slot = i;
    }
    if (!on)
        return GOSR_OK;
    if (free_slot < 0)
        return GOSR_ENOSPC;
    return (set[free_slot] = gosr_strdup(id)) ? GOSR_OK : GOSR_ENOMEM;
}

int gosr_ai_router_kill(gosr_ai_router *r, gosr_ai_kill_scope scope,
                        const char *id, bool killed)
{
    gosr_ai_cap cap;
    int rc = GOSR_OK;
    if (!id || !*id || strlen(id) > GOSR_AI_MAX_ID)
        return GOSR_EINVAL;
    pthread_mutex_lock(&r->mu);
    switch (scope) {
    case GOSR_AI_KILL_USER: rc = set_member(r->killed_users, id, killed); break;
    case GOSR_AI_KILL_SESSION: rc = set_member(r->killed_sessions, id, killed); break;
    case GOSR_AI_KILL_CAPABILITY:
        rc = gosr_ai_cap_from_name(id, &cap);
        if (!rc)
            r->killed_caps[cap] = killed;
        break;
    default: rc = GOSR_EINVAL;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

gosr_ai_userstate *gosr_ai_router_userstate(gosr_ai_router *r) { return r->us; }

static json_t *provider_json(gosr_ai_router *r, int i)
{
    provider *p = &r->prov[i];
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:I, s:I}", "name",
                     p->cfg.name, "kind",
                     p->cfg.kind == GOSR_AI_PROVIDER_OPENAI ? "openai" : "ollama",
                     "url", p->cfg.url, "model", p->cfg.model, "size",
                     gosr_ai_model_size_name(p->cfg.size), "timeout_ms",
                     (json_int_t)p->cfg.timeout_ms, "cooling_down",
                     gosr_ai_cooldown_active(&p->cool, now_ns(r)), "calls",
                     (json_int_t)__atomic_load_n(&p->calls, __ATOMIC_RELAXED),
                     "failures",
                     (json_int_t)__atomic_load_n(&p->failures, __ATOMIC_RELAXED));
}

static json_t *cap_json(gosr_ai_router *r, int c)
{
    json_t *chain = json_array(), *brs = json_object();
    for (int k = 0; k < r->chain_len[c]; k++) {
        int pi = r->chain[c][k];
        gosr_ai_breaker_stats st;
        gosr_ai_breaker_stats_get(r->br[c][pi], &st);
        json_array_append_new(chain, json_string(r->prov[pi].cfg.name));
        json_object_set_new(brs, r->prov[pi].cfg.name,
            json_pack("{s:s, s:i, s:i, s:i, s:I, s:I}", "state",
                      gosr_ai_breaker_state_name(st.state), "calls", st.calls,
                      "failures", st.failures, "slow", st.slow, "rejected",
                      (json_int_t)st.rejected, "opened", (json_int_t)st.opened));
    }
    json_array_append_new(chain, json_string("ghost"));
    return json_pack("{s:o, s:o, s:b}", "chain", chain, "breakers", brs,
                     "killed", r->killed_caps[c]);
}

static json_t *tiers_json(void)
{
    json_t *t = json_object();
    for (int i = 0; i < GOSR_AI_TIER_COUNT; i++) {
        const gosr_ai_tier_limits *l = gosr_ai_tier_limits_get((gosr_ai_tier)i);
        json_object_set_new(t, gosr_ai_tier_name((gosr_ai_tier)i),
            json_pack("{s:f, s:f, s:f, s:f, s:i, s:s}", "user_rate", l->user_rate,
                      "user_burst", l->user_burst, "cap_rate", l->cap_rate,
                      "cap_burst", l->cap_burst, "concurrency", l->concurrency,
                      "max_model_size", gosr_ai_model_size_name(l->max_size)));
    }
    return t;
}

json_t *gosr_ai_router_status(gosr_ai_router *r)
{
    json_t *provs = json_array(), *caps = json_object();
    for (int i = 0; i < r->nprov; i++)
        json_array_append_new(provs, provider_json(r, i));
    pthread_mutex_lock(&r->mu);
    for (int c = 0; c < GOSR_AI_CAP_COUNT; c++)
        json_object_set_new(caps, gosr_ai_cap_name((gosr_ai_cap)c), cap_json(r, c));
    int ku = 0, ks = 0;
    for (int i = 0; i < MAX_KILLS; i++)
        ku += r->killed_users[i] != NULL, ks += r->killed_sessions[i] != NULL;
    json_t *counters = json_pack("{s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:i}",
        "submitted", (json_int_t)r->n_submitted, "refused", (json_int_t)r->n_refused,
        "answered", (json_int_t)r->n_answered, "answered_by_ghost",
        (json_int_t)r->n_ghost, "failed", (json_int_t)r->n_failed, "pending",
        r->pending, "killed_users", ku, "killed_sessions", ks);
    pthread_mutex_unlock(&r->mu);
    json_object_set_new(counters, "users_tracked",
                        json_integer((json_int_t)gosr_ai_limiter_users(r->lim)));
    return json_pack("{s:o, s:o, s:o, s:o}", "providers", provs, "capabilities",
                     caps, "tiers", tiers_json(), "counters", counters);
}

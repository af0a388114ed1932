/*
 * watchdog.c — the process-wide watchdog that enforces wall-clock
 * deadlines. One thread sleeps until the earliest armed deadline; when a
 * call overruns it marks the sandbox killed and sends SIGURG to the thread
 * running it. The signal handler (on that thread, like lua.c's SIGINT
 * handler) installs the every-instruction kill hook with lua_sethook on the
 * sandbox's running Lua thread and its main thread. Because lua_sethook runs
 * on the runner's own thread, it never races with Lua freeing CallInfo
 * records. Production mode therefore keeps no hook installed until a kill.
 * Design: docs/sandbox.md ("Watchdog").
 */
#include "sandbox/sb_int.h"

#include <errno.h>
#include <stddef.h>
#include <time.h>

#define SB_SIGNAL SIGURG
#define RESIGNAL_NS 5000000ull /* re-signal a still-running killed call */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond;          /* wakes the watchdog; CLOCK_MONOTONIC */
static sb_arm *g_list;                 /* armed calls; g_lock */
static uint64_t g_next_wake = UINT64_MAX; /* when the watchdog wakes; g_lock */
static bool g_started;                 /* thread running; g_lock */

/* The sandbox the calling thread runs now (chain through ->outer). Written
 * only by its thread; read by that thread's signal handler. */
static __thread gosr_sandbox *volatile tls_active
    __attribute__((tls_model("initial-exec")));

static gosr_sandbox *arm_owner(sb_arm *a)
{
    return (gosr_sandbox *)((char *)a - offsetof(gosr_sandbox, arm));
}

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    for (gosr_sandbox *sb = tls_active; sb; sb = sb->outer) {
        if (!atomic_load_explicit(&sb->killed, memory_order_relaxed))
            continue;
        lua_State *T = sb->cur;
        if (T)
            sb__hook_kill(T);
        sb__hook_kill(sb->L);
    }
    errno = saved;
}

/* Marks overdue calls killed and signals their threads; returns when to
 * wake next. Called with g_lock held. */
static uint64_t scan(uint64_t now)
{
    uint64_t next = UINT64_MAX;
    for (sb_arm *a = g_list; a; a = a->next) {
        if (a->deadline > now) {
            next = a->deadline < next ? a->deadline : next;
            continue;
        }
        gosr_sandbox *sb = arm_owner(a);
        int expected = 0;
        atomic_compare_exchange_strong(&sb->killed, &expected,
                                       GOSR_SB_DEADLINE);
        if (now - a->last_signal >= RESIGNAL_NS) {
            pthread_kill(a->runner, SB_SIGNAL);
            a->last_signal = now;
        }
        if (now + RESIGNAL_NS < next)
            next = now + RESIGNAL_NS;
    }
    return next;
}

static void *watch_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_lock);
    for (;;) {
        uint64_t next = scan(gosr_time_mono_ns());
        g_next_wake = next;
        if (next == UINT64_MAX) {
            pthread_cond_wait(&g_cond, &g_lock);
            continue;
        }
        struct timespec ts = {(time_t)(next / 1000000000ull),
                              (long)(next % 1000000000ull)};
        pthread_cond_timedwait(&g_cond, &g_lock, &ts);
    }
    return NULL;
}

/* Starts the thread and installs the handler; g_lock held. */
static int start_locked(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SB_SIGNAL, &sa, NULL) != 0)
        return GOSR_EINTERNAL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the watchdog takes none */
    pthread_t t;
    int rc = pthread_create(&t, &at, watch_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&at);
    if (rc != 0)
        return GOSR_EINTERNAL;
    g_started = true;
    return GOSR_OK;
}

int sb__watch_start(void)
{
    pthread_mutex_lock(&g_lock);
    int rc = g_started ? GOSR_OK : start_locked();
    pthread_mutex_unlock(&g_lock);
    return rc;
}

int sb__watch_arm(gosr_sandbox *sb, uint64_t deadline)
{
    sb_arm *a = &sb->arm;
    pthread_mutex_lock(&g_lock);
    int rc = g_started ? GOSR_OK : start_locked();
    if (rc == GOSR_OK) {
        a->deadline = deadline;
        a->last_signal = 0;
        a->runner = pthread_self();
        a->prev = NULL;
        a->next = g_list;
        if (g_list)
            g_list->prev = a;
        g_list = a;
        a->linked = true;
        if (deadline < g_next_wake) {
            g_next_wake = deadline;
            pthread_cond_signal(&g_cond);
        }
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

void sb__watch_disarm(gosr_sandbox *sb)
{
    sb_arm *a = &sb->arm;
    pthread_mutex_lock(&g_lock);
    if (a->linked) {
        if (a->prev)
            a->prev->next = a->next;
        else
            g_list = a->next;
        if (a->next)
            a->next->prev = a->prev;
        a->linked = false;
    }
    pthread_mutex_unlock(&g_lock);
}

gosr_sandbox *sb__watch_enter(gosr_sandbox *sb)
{
    gosr_sandbox *prev = tls_active;
    sb->outer = prev;
    atomic_signal_fence(memory_order_seq_cst);
    tls_active = sb;
    return prev;
}

void sb__watch_leave(gosr_sandbox *prev)
{
    atomic_signal_fence(memory_order_seq_cst);
    tls_active = prev;
}

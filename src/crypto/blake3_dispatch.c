/*
 * blake3_dispatch.c — runtime choice of the BLAKE3 implementation path:
 * CPU feature detection (cpuid feature bits via __builtin_cpu_supports,
 * plus the OS's XSAVE state via xgetbv, since AVX and AVX-512 registers are
 * only usable when the kernel saves them), the per-path kernel tables, and
 * forcing a path for tests and benches. Design: docs/blake3.md ("Dispatch").
 */
#include "crypto/blake3_impl.h"

#include <stdatomic.h>

#if CRYPTO__B3_X86
#include <cpuid.h>
#endif

static const crypto__b3_ops OPS_PORTABLE = {
    GOSR_BLAKE3_PORTABLE, crypto__b3_compress_portable,
    crypto__b3_xof_portable, crypto__b3_lanes_portable, 1};

#if CRYPTO__B3_X86
static const crypto__b3_ops OPS_SSE41 = {
    GOSR_BLAKE3_SSE41, crypto__b3_compress_sse41, crypto__b3_xof_sse41,
    crypto__b3_lanes_sse41, 4};
static const crypto__b3_ops OPS_AVX2 = {
    GOSR_BLAKE3_AVX2, crypto__b3_compress_sse41, crypto__b3_xof_sse41,
    crypto__b3_lanes_avx2, 8};
static const crypto__b3_ops OPS_AVX512 = {
    GOSR_BLAKE3_AVX512, crypto__b3_compress_avx512, crypto__b3_xof_avx512,
    crypto__b3_lanes_avx512, 16};
#endif

/* The table in force; NULL until the first use detects the CPU. Any
 * thread may read it; set_path and the first detection store it (racing
 * detections store the same value). */
static _Atomic(const crypto__b3_ops *) g_ops;

#if CRYPTO__B3_X86
/* XCR0: which register states the OS saves on context switch. */
static uint64_t read_xcr0(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
        return 0;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}
#endif

bool gosr_blake3_path_supported(gosr_blake3_path path)
{
    if (path == GOSR_BLAKE3_PORTABLE)
        return true;
#if CRYPTO__B3_X86
    __builtin_cpu_init();
    uint64_t xcr0 = read_xcr0();
    bool sse41 = __builtin_cpu_supports("sse4.1");
    bool avx_os = (xcr0 & 0x6) == 0x6;     /* XMM and YMM state */
    bool avx512_os = (xcr0 & 0xE6) == 0xE6; /* plus opmask, ZMM halves */
    bool avx2 = sse41 && avx_os && __builtin_cpu_supports("avx2");
    switch (path) {
    case GOSR_BLAKE3_SSE41:
        return sse41;
    case GOSR_BLAKE3_AVX2:
        return avx2;
    case GOSR_BLAKE3_AVX512:
        return avx2 && avx512_os && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512vl");
    default:
        return false;
    }
#else
    return false;
#endif
}

static const crypto__b3_ops *ops_for(gosr_blake3_path path)
{
    switch (path) {
#if CRYPTO__B3_X86
    case GOSR_BLAKE3_SSE41:
        return &OPS_SSE41;
    case GOSR_BLAKE3_AVX2:
        return &OPS_AVX2;
    case GOSR_BLAKE3_AVX512:
        return &OPS_AVX512;
#endif
    default:
        return &OPS_PORTABLE;
    }
}

static const crypto__b3_ops *detect(void)
{
    static const gosr_blake3_path best_first[] = {
        GOSR_BLAKE3_AVX512, GOSR_BLAKE3_AVX2, GOSR_BLAKE3_SSE41};
    for (size_t i = 0; i < sizeof best_first / sizeof best_first[0]; i++)
        if (gosr_blake3_path_supported(best_first[i]))
            return ops_for(best_first[i]);
    return &OPS_PORTABLE;
}

const crypto__b3_ops *crypto__b3_ops_current(void)
{
    const crypto__b3_ops *ops =
        atomic_load_explicit(&g_ops, memory_order_acquire);
    if (!ops) {
        ops = detect();
        atomic_store_explicit(&g_ops, ops, memory_order_release);
    }
    return ops;
}

int gosr_blake3_set_path(gosr_blake3_path path)
{
    if (path == GOSR_BLAKE3_AUTO) {
        atomic_store_explicit(&g_ops, detect(), memory_order_release);
        return GOSR_OK;
    }
    if ((unsigned)path > GOSR_BLAKE3_AVX512 || !gosr_blake3_path_supported(path))
        return GOSR_EUNSUPPORTED;
    atomic_store_explicit(&g_ops, ops_for(path), memory_order_release);
    return GOSR_OK;
}

gosr_blake3_path gosr_blake3_get_path(void)
{
    return crypto__b3_ops_current()->path;
}

const char *gosr_blake3_path_name(gosr_blake3_path path)
{
    static const char *const names[] = {"auto", "portable", "sse41", "avx2",
                                        "avx512"};
    return (unsigned)path < 5 ? names[path] : "unknown";
}

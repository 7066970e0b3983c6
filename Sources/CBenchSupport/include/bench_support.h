#ifndef STARBLOOM_BENCH_SUPPORT_H
#define STARBLOOM_BENCH_SUPPORT_H
#include <stdint.h>
#include <starbloom/plugin.h>

typedef sb_health (*sb_bench_health_fn)(void *instance, sb_message *detail);

/* ns per call of a no-op with the `health` signature defined in this binary (the baseline). */
double sb_bench_direct_ns(uint64_t iterations);
/* ns per call of `fn` (a plugin's health function, across the dlopen boundary). */
double sb_bench_indirect_ns(sb_bench_health_fn fn, void *instance, uint64_t iterations);
/* Returns the address of the local no-op, so Swift can call it through a pointer too. */
sb_bench_health_fn sb_bench_local_fn(void);
#endif

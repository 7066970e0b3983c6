#define _POSIX_C_SOURCE 199309L
#include "bench_support.h"
#include <time.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

__attribute__((noinline)) static sb_health local_health(void *instance, sb_message *detail) {
    (void)detail;
    __asm__ volatile("" ::: "memory");
    return instance == NULL ? SB_HEALTH_FAILING : SB_HEALTH_OK;
}

double sb_bench_direct_ns(uint64_t iterations) {
    sb_message message;
    int sink = 0;
    int token = 1;
    double start = now_ns();
    for (uint64_t i = 0; i < iterations; i++) sink += (int)local_health(&token, &message);
    double elapsed = now_ns() - start;
    __asm__ volatile("" : : "r"(sink));
    return elapsed / (double)iterations;
}

double sb_bench_indirect_ns(sb_bench_health_fn fn, void *instance, uint64_t iterations) {
    sb_message message;
    int sink = 0;
    sb_bench_health_fn volatile target = fn; /* keep the call indirect, as the host makes it */
    double start = now_ns();
    for (uint64_t i = 0; i < iterations; i++) sink += (int)target(instance, &message);
    double elapsed = now_ns() - start;
    __asm__ volatile("" : : "r"(sink));
    return elapsed / (double)iterations;
}

sb_bench_health_fn sb_bench_local_fn(void) { return local_health; }

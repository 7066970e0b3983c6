/*
 * bench_calls.c — used by `starbloom-bench` to measure the cost of crossing the ABI.
 *
 * Kind PROCESSOR (so the host runs no loop of its own). `health` is a no-op the host calls in a
 * tight loop (host → plugin). Commands time loops inside the plugin:
 *   callback-loop N : N calls of host->should_stop (plugin → host), ns per call in the reply
 *   direct-loop N   : N calls of a no-op function in this library (the same-binary baseline)
 */
#define _POSIX_C_SOURCE 199309L
#include <starbloom/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    const sb_host_api *host;
    sb_host_ctx *ctx;
} bench_state;

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

__attribute__((noinline)) static int32_t local_noop(sb_host_ctx *ctx) {
    __asm__ volatile("" ::: "memory");
    return ctx == NULL;
}

static sb_status bench_create(const sb_host_api *host, sb_host_ctx *ctx, const sb_config *config,
                              void **out, sb_message *error) {
    (void)config;
    bench_state *s = calloc(1, sizeof *s);
    if (!s) { snprintf(error->text, SB_MESSAGE_CAPACITY, "out of memory"); return SB_ERR_INTERNAL; }
    s->host = host;
    s->ctx = ctx;
    *out = s;
    return SB_OK;
}

static sb_status bench_process(void *instance, const sb_record *records, size_t count,
                               const sb_emitter *emitter, sb_message *error) {
    (void)instance; (void)records; (void)count; (void)emitter; (void)error;
    return SB_OK;
}

static void bench_destroy(void *instance) { free(instance); }

static sb_health bench_health(void *instance, sb_message *detail) {
    (void)detail;
    __asm__ volatile("" ::: "memory");
    return instance == NULL ? SB_HEALTH_FAILING : SB_HEALTH_OK;
}

static sb_status cmd_callback_loop(void *instance, sb_message *reply, int64_t n) {
    bench_state *s = instance;
    int32_t sink = 0;
    double start = now_ns();
    for (int64_t i = 0; i < n; i++) sink += s->host->should_stop(s->ctx);
    double elapsed = now_ns() - start;
    snprintf(reply->text, SB_MESSAGE_CAPACITY, "ns_per_call=%.3f sink=%d", elapsed / (double)n, sink);
    return SB_OK;
}

static sb_status cmd_direct_loop(void *instance, sb_message *reply, int64_t n) {
    bench_state *s = instance;
    int32_t sink = 0;
    double start = now_ns();
    for (int64_t i = 0; i < n; i++) sink += local_noop(s->ctx);
    double elapsed = now_ns() - start;
    snprintf(reply->text, SB_MESSAGE_CAPACITY, "ns_per_call=%.3f sink=%d", elapsed / (double)n, sink);
    return SB_OK;
}

static const sb_command_param n_param[] = { { "n", SB_TYPE_INT, "iterations" } };
static const sb_command commands[] = {
    { "callback-loop", "time N calls of host->should_stop", n_param, 1, (void (*)(void))cmd_callback_loop },
    { "direct-loop", "time N calls of a local no-op", n_param, 1, (void (*)(void))cmd_direct_loop },
};

static const sb_plugin_descriptor descriptor = {
    SB_DESCRIPTOR_HEADER,
    "bench-calls", "1.0.0", SB_KIND_PROCESSOR, "ABI call-cost benchmark fixture",
    NULL, 0,
    bench_create, NULL, NULL, bench_process, NULL, bench_destroy, bench_health,
    commands, 2,
};

SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void) { return &descriptor; }

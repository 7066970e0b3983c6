/*
 * hang_in_stop.c — PROVES: the host's stop timeout. This source misbehaves
 * on purpose:
 *   - run ignores should_stop and host->wait: it sleeps in 10 ms steps until
 *     a global flag that nothing ever sets;
 *   - stop (which the host calls on another thread) sleeps forever.
 * A correct host gives up after the instance's stop timeout, marks the
 * instance failed, and stays responsive (other instances, CLI, API). The two
 * threads stay blocked for the life of the process, so the host must never
 * call destroy nor unload this library. Name "fixture-hang-in-stop".
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep under -std=c99 */
#include <starbloom/plugin.h>

#include <time.h>

static int never_set; /* read with __atomic so the loop cannot be optimized into nothing */

static void sleep_10ms(void)
{
    struct timespec t;
    t.tv_sec = 0;
    t.tv_nsec = 10 * 1000 * 1000;
    nanosleep(&t, NULL);
}

static sb_status fx_create(const sb_host_api *host, sb_host_ctx *ctx, const sb_config *config,
                           void **out_instance, sb_message *error)
{
    static int state;
    (void)host; (void)ctx; (void)config; (void)error;
    *out_instance = &state;
    return SB_OK;
}

static sb_status fx_run(void *instance, sb_message *error)
{
    (void)instance; (void)error;
    while (!__atomic_load_n(&never_set, __ATOMIC_RELAXED)) {
        sleep_10ms();
    }
    return SB_OK;
}

static sb_status fx_stop(void *instance, sb_message *error)
{
    (void)instance; (void)error;
    while (!__atomic_load_n(&never_set, __ATOMIC_RELAXED)) {
        sleep_10ms();
    }
    return SB_OK;
}

static void fx_destroy(void *instance) { (void)instance; }

static const sb_plugin_descriptor descriptor = {
    SB_DESCRIPTOR_HEADER,
    "fixture-hang-in-stop", "1.0.0", SB_KIND_SOURCE, "Test fixture: never stops",
    NULL, 0,
    fx_create, NULL, fx_run, NULL, fx_stop, fx_destroy, NULL,
    NULL, 0,
};

SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void)
{
    return &descriptor;
}

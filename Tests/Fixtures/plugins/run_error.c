/*
 * run_error.c — PROVES: a source whose run returns an error is treated as
 * failed: the host shows "run failed: fixture" as the last error and applies
 * the restart policy (on-failure / always restart it, never does not).
 * Setting delay_ms (INT, default 0): run first waits that long with
 * host->wait; if a stop is requested during the wait, run returns SB_OK
 * (a requested stop is not a failure). Name "fixture-run-error".
 */
#include <starbloom/plugin.h>

#include <stdio.h>
#include <stdlib.h>

static const sb_config_field fields[] = {
    { "delay_ms", SB_TYPE_INT, 0, "0", "milliseconds to wait before failing" },
};

typedef struct { const sb_host_api *host; sb_host_ctx *ctx; int64_t delay_ms; } fixture;

static sb_status fx_create(const sb_host_api *host, sb_host_ctx *ctx, const sb_config *config,
                           void **out_instance, sb_message *error)
{
    fixture *f = malloc(sizeof *f);
    if (f == NULL) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "out of memory");
        return SB_ERR_INTERNAL;
    }
    f->host = host;
    f->ctx = ctx;
    f->delay_ms = config->values[0].as.integer;
    *out_instance = f;
    return SB_OK;
}

static sb_status fx_run(void *instance, sb_message *error)
{
    fixture *f = instance;
    if (f->delay_ms > 0 && f->host->wait(f->ctx, (uint64_t)f->delay_ms * 1000000u)) {
        return SB_OK; /* stopped while waiting */
    }
    snprintf(error->text, SB_MESSAGE_CAPACITY, "run failed: fixture");
    return SB_ERR_PLUGIN;
}

static void fx_destroy(void *instance) { free(instance); }

static const sb_plugin_descriptor descriptor = {
    SB_DESCRIPTOR_HEADER,
    "fixture-run-error", "1.0.0", SB_KIND_SOURCE, "Test fixture: run fails after delay_ms",
    fields, 1,
    fx_create, NULL, fx_run, NULL, NULL, fx_destroy, NULL,
    NULL, 0,
};

SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void)
{
    return &descriptor;
}

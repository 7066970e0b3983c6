/*
 * start_error.c — PROVES: a failing `start` is a failed start: the host shows
 * the plugin's message verbatim as the instance's last error
 * ("start refused: fixture"), calls destroy, never calls run, and applies the
 * restart policy. Name "fixture-start-error".
 */
#include <starbloom/plugin.h>

#include <stdio.h>
#include <stdlib.h>

typedef struct { const sb_host_api *host; sb_host_ctx *ctx; } fixture;

static sb_status fx_create(const sb_host_api *host, sb_host_ctx *ctx, const sb_config *config,
                           void **out_instance, sb_message *error)
{
    fixture *f = malloc(sizeof *f);
    (void)config;
    if (f == NULL) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "out of memory");
        return SB_ERR_INTERNAL;
    }
    f->host = host;
    f->ctx = ctx;
    *out_instance = f;
    return SB_OK;
}

static sb_status fx_start(void *instance, sb_message *error)
{
    (void)instance;
    snprintf(error->text, SB_MESSAGE_CAPACITY, "start refused: fixture");
    return SB_ERR_PLUGIN;
}

/* Never reached; logs so a test can assert that it did not run. */
static sb_status fx_run(void *instance, sb_message *error)
{
    fixture *f = instance;
    (void)error;
    f->host->log(f->ctx, SB_LOG_ERROR, SB_STR("start_error: run was called after a failed start"));
    return SB_OK;
}

static void fx_destroy(void *instance) { free(instance); }

static const sb_plugin_descriptor descriptor = {
    SB_DESCRIPTOR_HEADER,
    "fixture-start-error", "1.0.0", SB_KIND_SOURCE, "Test fixture: start always fails",
    NULL, 0,
    fx_create, fx_start, fx_run, NULL, NULL, fx_destroy, NULL,
    NULL, 0,
};

SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void)
{
    return &descriptor;
}

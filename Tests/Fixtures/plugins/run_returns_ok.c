/*
 * run_returns_ok.c — PROVES: a source whose run returns SB_OK without a stop
 * request has "finished": not a failure (restart policy on-failure leaves it
 * finished), but restart policy `always` restarts it. Every run adds 1 to the
 * counter metric `runs_total` and logs "run-returns-ok: finished", so a test
 * can count restarts. Name "fixture-run-returns-ok".
 */
#include <starbloom/plugin.h>

#include <stdio.h>
#include <stdlib.h>

typedef struct { const sb_host_api *host; sb_host_ctx *ctx; sb_metric_id runs; } fixture;

static sb_status fx_create(const sb_host_api *host, sb_host_ctx *ctx, const sb_config *config,
                           void **out_instance, sb_message *error)
{
    fixture *f = malloc(sizeof *f);
    sb_status status;
    (void)config;
    if (f == NULL) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "out of memory");
        return SB_ERR_INTERNAL;
    }
    f->host = host;
    f->ctx = ctx;
    status = host->metric_register(ctx, SB_METRIC_COUNTER, SB_STR("runs_total"),
                                   SB_STR("Times run was called"), &f->runs);
    if (status != SB_OK) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "metric_register: %s", host->last_error(ctx));
        free(f);
        return status;
    }
    *out_instance = f;
    return SB_OK;
}

static sb_status fx_run(void *instance, sb_message *error)
{
    fixture *f = instance;
    (void)error;
    f->host->counter_add(f->ctx, f->runs, 1);
    f->host->log(f->ctx, SB_LOG_INFO, SB_STR("run-returns-ok: finished"));
    return SB_OK;
}

static void fx_destroy(void *instance) { free(instance); }

static const sb_plugin_descriptor descriptor = {
    SB_DESCRIPTOR_HEADER,
    "fixture-run-returns-ok", "1.0.0", SB_KIND_SOURCE, "Test fixture: run finishes at once",
    NULL, 0,
    fx_create, NULL, fx_run, NULL, NULL, fx_destroy, NULL,
    NULL, 0,
};

SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void)
{
    return &descriptor;
}

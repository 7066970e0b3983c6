/*
 * wrong_abi_major.c — PROVES: the host refuses a plugin built for another ABI
 * major (abi_major = SB_ABI_MAJOR + 1) before calling any of its functions.
 * Everything else in the descriptor is valid. Name "fixture-wrong-abi-major".
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

static sb_status fx_run(void *instance, sb_message *error)
{
    fixture *f = instance;
    (void)error;
    while (!f->host->wait(f->ctx, 1000000000u)) { }
    return SB_OK;
}

static void fx_destroy(void *instance) { free(instance); }

static const sb_plugin_descriptor descriptor = {
    sizeof(sb_plugin_descriptor), SB_ABI_MAJOR + 1, SB_ABI_MINOR,
    "fixture-wrong-abi-major", "1.0.0", SB_KIND_SOURCE, "Test fixture: built for the next ABI major",
    NULL, 0,
    fx_create, NULL, fx_run, NULL, NULL, fx_destroy, NULL,
    NULL, 0,
};

SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void)
{
    return &descriptor;
}

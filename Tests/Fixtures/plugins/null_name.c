/*
 * null_name.c — PROVES: the host refuses a descriptor whose name is NULL (a required field).
 * Everything else in the descriptor is valid.
 */
#include <starbloom/plugin.h>

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
    return SB_OK;
}

static void fx_destroy(void *instance) { (void)instance; }

static const sb_plugin_descriptor descriptor = {
    sizeof(sb_plugin_descriptor), SB_ABI_MAJOR, SB_ABI_MINOR,
    NULL,                              /* <- name = NULL */
    "1.0.0", SB_KIND_SOURCE, "Test fixture",
    NULL, 0,
    fx_create, NULL, fx_run, NULL, NULL, fx_destroy, NULL,
    NULL, 0,
};

SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void)
{
    return &descriptor;
}

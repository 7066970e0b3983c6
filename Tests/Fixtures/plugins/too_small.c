/*
 * too_small.c — PROVES: the host refuses a descriptor whose struct_size is
 * smaller than the ABI 1.0 descriptor. It claims 8 bytes: a size and version
 * prefix that passes the first check, so the refusal must come from the
 * minimum-size check. The entry returns a pointer to a complete, otherwise
 * valid descriptor (name "fixture-too-small"), so a host that wrongly read
 * past 8 bytes would not crash; it would load the plugin, and the test would
 * catch that.
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
    8, SB_ABI_MAJOR, SB_ABI_MINOR,   /* <- struct_size = 8 */
    "fixture-too-small", "1.0.0", SB_KIND_SOURCE, "Test fixture",
    NULL, 0,
    fx_create, NULL, fx_run, NULL, NULL, fx_destroy, NULL,
    NULL, 0,
};

SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void)
{
    return &descriptor;
}

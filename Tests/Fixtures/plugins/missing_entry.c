/*
 * missing_entry.c — PROVES: the host refuses a valid ELF shared library that
 * does not export SB_PLUGIN_ENTRY_SYMBOL ("starbloom_plugin_entry"). It
 * exports a near miss, "starbloom_plugin_entry_v0", returning a valid
 * descriptor, so only the exact symbol name is missing.
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
    SB_DESCRIPTOR_HEADER,
    "fixture-missing-entry", "1.0.0", SB_KIND_SOURCE, "Test fixture: wrong entry symbol name",
    NULL, 0,
    fx_create, NULL, fx_run, NULL, NULL, fx_destroy, NULL,
    NULL, 0,
};

/* Exported, but not under the name the host looks for. */
SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry_v0(void)
{
    return &descriptor;
}

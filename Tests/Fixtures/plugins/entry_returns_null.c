/*
 * entry_returns_null.c — PROVES: the host refuses a library whose entry
 * function exists but returns NULL ("returning NULL refuses loading").
 */
#include <starbloom/plugin.h>

SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void)
{
    return NULL;
}

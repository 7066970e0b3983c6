/*
 * good_source.c — PROVES: a well-formed SOURCE loads, validates every config
 * field type, runs, publishes, stops promptly, reports health and answers
 * commands with typed parameters (STRING, INT, FLOAT, BOOL via libffi).
 *
 * Name and version come from macros so tests can build "replaced" versions
 * of the same plugin (the macro value must be a C string literal):
 *     -DFIXTURE_NAME='"fixture-source"' -DFIXTURE_VERSION='"2.0.0"'
 *
 * Settings: topic (STRING, required), interval_ms (INT, default 10, >= 1),
 *           ratio (FLOAT, 0.5), verbose (BOOL, false), tags (STRING_LIST, "a,b").
 * run: publishes "<version>:<seq>" (seq from 0) to `topic` every interval_ms,
 *      logs "<name> <version> config: ..." once at start (shows every value),
 *      and with verbose=true logs each published payload.
 * health: DEGRADED "told to degrade" after `degrade on=1`, OK after `degrade on=0`.
 * command echo(text STRING, n INT, f FLOAT, b BOOL) replies exactly
 *      "text=<text> n=<n> f=<%g of f> b=<0|1>".
 */
#include <starbloom/plugin.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FIXTURE_NAME
#define FIXTURE_NAME "fixture-source"
#endif
#ifndef FIXTURE_VERSION
#define FIXTURE_VERSION "1.0.0"
#endif

enum { F_TOPIC, F_INTERVAL_MS, F_RATIO, F_VERBOSE, F_TAGS, F_COUNT };

static const sb_config_field fields[F_COUNT] = {
    { "topic", SB_TYPE_STRING, 1, NULL, "topic to publish to" },
    { "interval_ms", SB_TYPE_INT, 0, "10", "milliseconds between records (>= 1)" },
    { "ratio", SB_TYPE_FLOAT, 0, "0.5", "unused; shows FLOAT handling" },
    { "verbose", SB_TYPE_BOOL, 0, "false", "log every published payload" },
    { "tags", SB_TYPE_STRING_LIST, 0, "a,b", "unused; shows STRING_LIST handling" },
};

typedef struct {
    const sb_host_api *host;
    sb_host_ctx *ctx;
    const sb_config *config;
    int32_t degraded; /* set by the `degrade` command, read by health: __atomic */
} fixture;

static sb_status fx_create(const sb_host_api *host, sb_host_ctx *ctx, const sb_config *config,
                           void **out_instance, sb_message *error)
{
    fixture *f;
    if (config->count != F_COUNT) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "expected %d config values, got %lu", F_COUNT,
                 (unsigned long)config->count);
        return SB_ERR_INVALID_ARGUMENT;
    }
    if (config->values[F_INTERVAL_MS].as.integer < 1) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "interval_ms must be at least 1, got %" PRId64,
                 config->values[F_INTERVAL_MS].as.integer);
        return SB_ERR_INVALID_ARGUMENT;
    }
    f = calloc(1, sizeof *f);
    if (f == NULL) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "out of memory");
        return SB_ERR_INTERNAL;
    }
    f->host = host;
    f->ctx = ctx;
    f->config = config; /* host-owned, valid until destroy */
    *out_instance = f;
    return SB_OK;
}

static void fx_log(fixture *f, const char *text, size_t len)
{
    sb_str message;
    message.ptr = text;
    message.len = len;
    f->host->log(f->ctx, SB_LOG_INFO, message);
}

static sb_status fx_run(void *instance, sb_message *error)
{
    fixture *f = instance;
    const sb_config_value *v = f->config->values;
    sb_str topic = v[F_TOPIC].as.string;
    uint64_t seq;
    char line[512];
    size_t i;
    int n;

    /* One line with every setting, e.g.
     * "fixture-source 1.0.0 config: topic=t interval_ms=10 ratio=0.5 verbose=0 tags=[a,b]" */
    n = snprintf(line, sizeof line, "%s %s config: topic=%.*s interval_ms=%" PRId64 " ratio=%g verbose=%d tags=[",
                 FIXTURE_NAME, FIXTURE_VERSION, (int)topic.len, topic.ptr, v[F_INTERVAL_MS].as.integer,
                 v[F_RATIO].as.number, v[F_VERBOSE].as.boolean ? 1 : 0);
    for (i = 0; i < v[F_TAGS].as.list.count && n > 0 && (size_t)n < sizeof line; i++) {
        sb_str tag = v[F_TAGS].as.list.items[i];
        n += snprintf(line + n, sizeof line - (size_t)n, "%s%.*s", i ? "," : "", (int)tag.len, tag.ptr);
    }
    if (n > 0 && (size_t)n < sizeof line) {
        n += snprintf(line + n, sizeof line - (size_t)n, "]");
    }
    fx_log(f, line, n > 0 && (size_t)n < sizeof line ? (size_t)n : strlen(line));

    for (seq = 0; !f->host->should_stop(f->ctx); seq++) {
        char payload[64];
        sb_record record;
        sb_status status;

        memset(&record, 0, sizeof record);
        record.topic = topic;
        record.payload.ptr = (const uint8_t *)payload;
        record.payload.len = (size_t)snprintf(payload, sizeof payload, "%s:%" PRIu64, FIXTURE_VERSION, seq);
        status = f->host->publish(f->ctx, &record, NULL);
        if (status == SB_ERR_STOPPING) {
            break;
        }
        if (status != SB_OK) {
            snprintf(error->text, SB_MESSAGE_CAPACITY, "publish failed: %s", f->host->last_error(f->ctx));
            return status;
        }
        if (v[F_VERBOSE].as.boolean) {
            fx_log(f, payload, record.payload.len);
        }
        if (f->host->wait(f->ctx, (uint64_t)v[F_INTERVAL_MS].as.integer * 1000000u)) {
            break;
        }
    }
    return SB_OK;
}

static void fx_destroy(void *instance)
{
    free(instance);
}

static sb_health fx_health(void *instance, sb_message *detail)
{
    fixture *f = instance;
    if (__atomic_load_n(&f->degraded, __ATOMIC_RELAXED)) {
        snprintf(detail->text, SB_MESSAGE_CAPACITY, "told to degrade");
        return SB_HEALTH_DEGRADED;
    }
    return SB_HEALTH_OK;
}

static sb_status fx_cmd_degrade(void *instance, sb_message *reply, int32_t on)
{
    fixture *f = instance;
    __atomic_store_n(&f->degraded, on ? 1 : 0, __ATOMIC_RELAXED);
    snprintf(reply->text, SB_MESSAGE_CAPACITY, "degraded=%d", on ? 1 : 0);
    return SB_OK;
}

static sb_status fx_cmd_echo(void *instance, sb_message *reply, const char *text, int64_t n, double f, int32_t b)
{
    (void)instance;
    snprintf(reply->text, SB_MESSAGE_CAPACITY, "text=%s n=%" PRId64 " f=%g b=%d", text, n, f, b ? 1 : 0);
    return SB_OK;
}

static const sb_command_param degrade_params[] = {
    { "on", SB_TYPE_BOOL, "1: report DEGRADED, 0: report OK" },
};

static const sb_command_param echo_params[] = {
    { "text", SB_TYPE_STRING, NULL },
    { "n", SB_TYPE_INT, NULL },
    { "f", SB_TYPE_FLOAT, NULL },
    { "b", SB_TYPE_BOOL, NULL },
};

static const sb_command commands[] = {
    { "degrade", "make health report DEGRADED (on=1) or OK (on=0)", degrade_params, 1,
      (void (*)(void))fx_cmd_degrade },
    { "echo", "reply with the arguments as received", echo_params, 4, (void (*)(void))fx_cmd_echo },
};

static const sb_plugin_descriptor descriptor = {
    SB_DESCRIPTOR_HEADER,
    FIXTURE_NAME,
    FIXTURE_VERSION,
    SB_KIND_SOURCE,
    "Test fixture: a well-behaved source",
    fields, F_COUNT,
    fx_create, NULL, fx_run, NULL, NULL, fx_destroy, fx_health,
    commands, sizeof commands / sizeof commands[0],
};

SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void)
{
    return &descriptor;
}

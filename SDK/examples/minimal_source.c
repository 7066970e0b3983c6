/*
 * minimal_source.c — the smallest useful Starbloom SOURCE plugin.
 *
 * Publishes "count=1", "count=2", ... to `topic` every `interval_ms`.
 * Copy it as the starting point for your own source.
 *
 *   cc -std=c99 -shared -fPIC -O2 -fvisibility=hidden -I SDK/include \
 *      SDK/examples/minimal_source.c -o libminimal_source.so
 */
#include <starbloom/plugin.h>

#include <stdio.h>
#include <stdlib.h>

/* 1. Settings. The host validates them and fills in defaults before create;
 *    config->values[i] belongs to fields[i]. */
enum { F_TOPIC, F_INTERVAL_MS, F_COUNT };

static const sb_config_field fields[F_COUNT] = {
    /* name           type           required default            doc */
    { "topic",        SB_TYPE_STRING, 0,      "example.counter", "topic to publish to" },
    { "interval_ms",  SB_TYPE_INT,    0,      "1000",            "milliseconds between messages (>= 1)" },
};

/* 2. Per-instance state. The host may run several instances of one plugin,
 *    so keep everything here, not in globals. */
typedef struct {
    const sb_host_api *host; /* the host's functions */
    sb_host_ctx *ctx;        /* pass back on every host call */
    sb_str topic;            /* points into the host's config: valid until destroy */
    int64_t interval_ms;
} example_source;

static void log_line(example_source *s, sb_log_level level, const char *text)
{
    char line[256];
    int n = snprintf(line, sizeof line, "%s", text);
    sb_str message = { line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1 };
    s->host->log(s->ctx, level, message);
}

/* 3. create: check settings, allocate state. On error write a reason to
 *    `error`; the host shows it to the operator. */
static sb_status source_create(const sb_host_api *host, sb_host_ctx *ctx, const sb_config *config,
                               void **out_instance, sb_message *error)
{
    example_source *s;
    int64_t interval_ms = config->values[F_INTERVAL_MS].as.integer;

    if (interval_ms < 1) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "interval_ms must be at least 1, got %lld",
                 (long long)interval_ms);
        return SB_ERR_INVALID_ARGUMENT;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "out of memory");
        return SB_ERR_INTERNAL;
    }
    s->host = host;
    s->ctx = ctx;
    s->topic = config->values[F_TOPIC].as.string;
    s->interval_ms = interval_ms;
    *out_instance = s;
    return SB_OK;
}

/* 4. run: the source's loop, on its own host thread. Return SB_OK when the
 *    host asks to stop; return an error (with a message) on failure. */
static sb_status source_run(void *instance, sb_message *error)
{
    example_source *s = instance;
    const sb_host_api *host = s->host;
    uint64_t count = 0;

    log_line(s, SB_LOG_INFO, "example-source: running");
    while (!host->should_stop(s->ctx)) {
        char text[32];
        sb_record record = { 0 };  /* unused fields must be zero */
        sb_status status;

        count++;
        record.topic = s->topic;
        record.payload.ptr = (const uint8_t *)text;
        record.payload.len = (size_t)snprintf(text, sizeof text, "count=%llu", (unsigned long long)count);
        /* event_time_ns = 0 means "now". The host copies the record: `text`
         * may go away as soon as publish returns. */
        status = host->publish(s->ctx, &record, NULL);
        if (status == SB_ERR_STOPPING) {
            break;                      /* stop requested while publishing */
        }
        if (status != SB_OK) {
            snprintf(error->text, SB_MESSAGE_CAPACITY, "publish failed: %s", host->last_error(s->ctx));
            return status;
        }

        /* Sleep with host->wait, never sleep(): it returns early (non-zero)
         * as soon as a stop is requested. */
        if (host->wait(s->ctx, (uint64_t)s->interval_ms * 1000000u)) {
            break;
        }
    }
    log_line(s, SB_LOG_INFO, "example-source: stopped");
    return SB_OK;
}

/* 5. destroy: free the state. No host calls after this returns. */
static void source_destroy(void *instance)
{
    free(instance);
}

/* 6. The descriptor: static, constant, describes everything above. */
static const sb_plugin_descriptor descriptor = {
    SB_DESCRIPTOR_HEADER,               /* struct_size, abi_major, abi_minor */
    "example-source",                   /* name: [a-z0-9_-], unique */
    "1.0.0",                            /* version */
    SB_KIND_SOURCE,
    "Publishes a counter message every interval_ms",
    fields, F_COUNT,
    source_create,
    NULL,                               /* start (optional) */
    source_run,
    NULL,                               /* process: processors and sinks only */
    NULL,                               /* stop (optional: run already honours should_stop) */
    source_destroy,
    NULL,                               /* health (optional: always OK) */
    NULL, 0                             /* no commands */
};

/* 7. The one exported symbol. It must only return the pointer. */
SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void)
{
    return &descriptor;
}

/*
 * synthetic-source — a bundled Starbloom SOURCE plugin that generates synthetic
 * events as fast as the host accepts them (or at a configured rate). Used by
 * the benchmarks, so the publish loop is kept tight:
 *
 *   - every buffer (records, keys, payloads) is allocated once in `create`;
 *     per record the loop only rewrites the sequence number and key digits;
 *   - records go out with host->publish_batch, one call per batch;
 *   - per batch (not per record): one should_stop, one now_unix_ns, one
 *     monotonic_ns, one counter_add; the checkpoint is saved at most every
 *     100 ms and once more when run ends.
 *
 * Payload of record `seq`: a JSON object padded with 'x' to exactly
 * payload_size bytes:
 *
 *     {"seq":123,"key":"key-3","pad":"xxxxxxxx…"}
 *
 * When that object does not fit (payload_size below ~40 bytes), the payload is
 * the 16 lowercase hex digits of seq followed by '.' up to payload_size.
 * Record key: "key-<seq % key_count>". Header: "source: synthetic".
 *
 * The checkpoint holds the next sequence number as decimal text, so a
 * restarted instance continues where it stopped (at-least-once: records
 * published after the last save are generated again with the same seq).
 *
 * Build (standalone): cc -std=c99 -shared -fPIC -O2 -fvisibility=hidden \
 *     -I SDK/include synthetic_source.c -o libsynthetic_source.so
 */
#include <starbloom/plugin.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SS_VERSION "1.0.0"

/* Limits enforced in create. */
#define SS_PAYLOAD_MIN 16
#define SS_PAYLOAD_MAX 1048576
#define SS_BATCH_MIN 1
#define SS_BATCH_MAX 65536
/* batch_size * payload_size is allocated up front; refuse absurd products. */
#define SS_ARENA_MAX ((int64_t)256 * 1024 * 1024)

#define SS_CHECKPOINT_EVERY_NS ((int64_t)100 * 1000 * 1000) /* 100 ms */
#define SS_FULL_BACKOFF_NS ((uint64_t)1000 * 1000)          /* 1 ms when the queue is FULL */
#define SS_MAX_LAG_NS ((int64_t)1000 * 1000 * 1000)         /* rate mode: never burst to catch up more than 1 s */
#define SS_PACED_BATCHES_PER_S 100                          /* rate mode: aim for ~100 batches/s */

/* "key-" + up to 20 digits. */
#define SS_KEY_CAP 24
/* Longest JSON prefix: {"seq": + 20 digits + ,"key":"key- + 20 digits + ","pad":" */
#define SS_PREFIX_CAP 80

/* ------------------------------------------------------------------------ */
/* Settings                                                                 */
/* ------------------------------------------------------------------------ */

/* Indexes into config->values; they must match the table below. */
enum {
    F_TOPIC,
    F_RATE,
    F_PAYLOAD_SIZE,
    F_BATCH_SIZE,
    F_MAX_RECORDS,
    F_KEY_COUNT,
    F_COUNT
};

static const sb_config_field ss_fields[F_COUNT] = {
    [F_TOPIC] = { "topic", SB_TYPE_STRING, 0, "synthetic.events",
                  "topic the events are published to" },
    [F_RATE] = { "rate", SB_TYPE_INT, 0, "1000",
                 "records per second; 0 = as fast as the host accepts them" },
    [F_PAYLOAD_SIZE] = { "payload_size", SB_TYPE_INT, 0, "200",
                         "exact payload size in bytes (16..1048576)" },
    [F_BATCH_SIZE] = { "batch_size", SB_TYPE_INT, 0, "256",
                       "records per publish_batch call (1..65536)" },
    [F_MAX_RECORDS] = { "max_records", SB_TYPE_INT, 0, "0",
                        "stop (finished) after this many records per run; 0 = unlimited" },
    [F_KEY_COUNT] = { "key_count", SB_TYPE_INT, 0, "16",
                      "number of distinct keys: key-0 .. key-<key_count-1>" },
};

/* ------------------------------------------------------------------------ */
/* Instance                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct ss_instance {
    const sb_host_api *host;
    sb_host_ctx *ctx;

    /* Settings (immutable after create, except `rate`). */
    sb_str topic;
    size_t payload_size;
    size_t batch_size;
    uint64_t max_records;
    uint64_t key_count;

    /* Shared with commands: read/written with __atomic builtins only. */
    int64_t rate;      /* records/s, 0 = unlimited */
    uint64_t next_seq; /* for `status` */

    sb_metric_id m_generated;
    sb_metric_id m_rate;

    /* Prebuilt batch: batch_size records pointing into the arenas below. */
    sb_record *records;
    uint8_t *payloads; /* batch_size * payload_size */
    char *keys;        /* batch_size * SS_KEY_CAP, each starting with "key-" */
    size_t *dirty;     /* per slot: leading bytes that may differ from the 'x' template */
} ss_instance;

static const sb_header ss_headers[1] = {
    { { "source", 6 }, { (const uint8_t *)"synthetic", 9 } },
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static void ss_log(const ss_instance *s, sb_log_level level, const char *text)
{
    sb_str message;
    message.ptr = text;
    message.len = strlen(text);
    s->host->log(s->ctx, level, message);
}

/* Writes the decimal digits of v at out (no NUL); returns how many. */
static size_t ss_put_u64(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[sizeof tmp - 1 - n] = (char)('0' + (int)(v % 10));
        v /= 10;
        n++;
    } while (v != 0);
    memcpy(out, tmp + sizeof tmp - n, n);
    return n;
}

static int64_t ss_setting_int(const sb_config *config, int index, int64_t fallback)
{
    const sb_config_value *v = &config->values[index];
    return (v->type == SB_TYPE_INT && v->is_set) ? v->as.integer : fallback;
}

/* Resets one payload slot to the template: 'x' * (size - 2) followed by "}. */
static void ss_template_slot(uint8_t *slot, size_t size)
{
    memset(slot, 'x', size - 2);
    slot[size - 2] = '"';
    slot[size - 1] = '}';
}

/*
 * Writes record `seq` with key index `k` into slot `i` of the batch.
 * Only the JSON prefix is rewritten; the 'x' padding and the closing "} are
 * already in place from the template (dirty[i] tracks what to re-pad).
 */
static void ss_fill_slot(ss_instance *s, size_t i, uint64_t seq, uint64_t k)
{
    const size_t size = s->payload_size;
    uint8_t *slot = s->payloads + i * size;
    char *key = s->keys + i * SS_KEY_CAP;
    char prefix[SS_PREFIX_CAP];
    size_t len = 0, key_digits;

    /* Key: "key-" is already in place. */
    key_digits = ss_put_u64(key + 4, k);
    s->records[i].key.len = 4 + key_digits;

    memcpy(prefix, "{\"seq\":", 7);
    len = 7;
    len += ss_put_u64(prefix + len, seq);
    memcpy(prefix + len, ",\"key\":\"", 8);
    len += 8;
    memcpy(prefix + len, key, 4 + key_digits);
    len += 4 + key_digits;
    memcpy(prefix + len, "\",\"pad\":\"", 9);
    len += 9;

    if (len + 2 <= size) {
        if (s->dirty[i] >= size) {
            ss_template_slot(slot, size);      /* slot held the fallback format */
        } else if (s->dirty[i] > len) {
            memset(slot + len, 'x', s->dirty[i] - len);
        }
        memcpy(slot, prefix, len);
        s->dirty[i] = len;
    } else {
        /* Too small for JSON: 16 hex digits of seq, then '.' padding. */
        static const char hex[] = "0123456789abcdef";
        int d;
        for (d = 0; d < 16; d++) {
            slot[d] = (uint8_t)hex[(seq >> (60 - 4 * d)) & 0xF];
        }
        memset(slot + 16, '.', size - 16);
        s->dirty[i] = size;
    }
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                */
/* ------------------------------------------------------------------------ */

static void ss_destroy(void *instance)
{
    ss_instance *s = instance;
    if (s == NULL) {
        return;
    }
    free(s->records);
    free(s->payloads);
    free(s->keys);
    free(s->dirty);
    free(s);
}

static sb_status ss_create(const sb_host_api *host, sb_host_ctx *ctx, const sb_config *config,
                           void **out_instance, sb_message *error)
{
    ss_instance *s;
    int64_t rate, payload_size, batch_size, max_records, key_count;
    const sb_config_value *topic;
    size_t i;
    sb_status st;

    if (config == NULL || config->count != F_COUNT) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "synthetic-source: expected %d settings, got %lu",
                 (int)F_COUNT, config == NULL ? 0UL : (unsigned long)config->count);
        return SB_ERR_INVALID_ARGUMENT;
    }
    rate = ss_setting_int(config, F_RATE, 1000);
    payload_size = ss_setting_int(config, F_PAYLOAD_SIZE, 200);
    batch_size = ss_setting_int(config, F_BATCH_SIZE, 256);
    max_records = ss_setting_int(config, F_MAX_RECORDS, 0);
    key_count = ss_setting_int(config, F_KEY_COUNT, 16);

    if (rate < 0) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "rate must be >= 0 (0 = unlimited), got %" PRId64, rate);
        return SB_ERR_INVALID_ARGUMENT;
    }
    if (payload_size < SS_PAYLOAD_MIN || payload_size > SS_PAYLOAD_MAX) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "payload_size must be between %d and %d bytes, got %" PRId64,
                 SS_PAYLOAD_MIN, SS_PAYLOAD_MAX, payload_size);
        return SB_ERR_INVALID_ARGUMENT;
    }
    if (batch_size < SS_BATCH_MIN || batch_size > SS_BATCH_MAX) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "batch_size must be between %d and %d, got %" PRId64,
                 SS_BATCH_MIN, SS_BATCH_MAX, batch_size);
        return SB_ERR_INVALID_ARGUMENT;
    }
    if (batch_size * payload_size > SS_ARENA_MAX) {
        snprintf(error->text, SB_MESSAGE_CAPACITY,
                 "batch_size * payload_size must be at most %" PRId64 " bytes, got %" PRId64 " * %" PRId64,
                 SS_ARENA_MAX, batch_size, payload_size);
        return SB_ERR_INVALID_ARGUMENT;
    }
    if (max_records < 0) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "max_records must be >= 0 (0 = unlimited), got %" PRId64,
                 max_records);
        return SB_ERR_INVALID_ARGUMENT;
    }
    if (key_count < 1) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "key_count must be >= 1, got %" PRId64, key_count);
        return SB_ERR_INVALID_ARGUMENT;
    }

    s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "synthetic-source: out of memory");
        return SB_ERR_INTERNAL;
    }
    s->host = host;
    s->ctx = ctx;
    topic = &config->values[F_TOPIC];
    if (topic->type == SB_TYPE_STRING && topic->is_set) {
        s->topic = topic->as.string; /* valid until destroy: no copy needed */
    } else {
        s->topic.ptr = "synthetic.events";
        s->topic.len = strlen(s->topic.ptr);
    }
    s->rate = rate;
    s->payload_size = (size_t)payload_size;
    s->batch_size = (size_t)batch_size;
    s->max_records = (uint64_t)max_records;
    s->key_count = (uint64_t)key_count;

    s->records = calloc(s->batch_size, sizeof *s->records);
    s->payloads = malloc(s->batch_size * s->payload_size);
    s->keys = malloc(s->batch_size * SS_KEY_CAP);
    s->dirty = calloc(s->batch_size, sizeof *s->dirty);
    if (s->records == NULL || s->payloads == NULL || s->keys == NULL || s->dirty == NULL) {
        ss_destroy(s);
        snprintf(error->text, SB_MESSAGE_CAPACITY,
                 "synthetic-source: out of memory allocating %" PRId64 " payload bytes", batch_size * payload_size);
        return SB_ERR_INTERNAL;
    }
    for (i = 0; i < s->batch_size; i++) {
        sb_record *r = &s->records[i];
        ss_template_slot(s->payloads + i * s->payload_size, s->payload_size);
        memcpy(s->keys + i * SS_KEY_CAP, "key-", 4);
        r->topic = s->topic;
        r->key.ptr = (const uint8_t *)(s->keys + i * SS_KEY_CAP);
        r->payload.ptr = s->payloads + i * s->payload_size;
        r->payload.len = s->payload_size;
        r->headers = ss_headers;
        r->header_count = 1;
    }

    st = host->metric_register(ctx, SB_METRIC_COUNTER, SB_STR("records_generated"),
                               SB_STR("Records published by synthetic-source"), &s->m_generated);
    if (st == SB_OK) {
        st = host->metric_register(ctx, SB_METRIC_GAUGE, SB_STR("rate_target"),
                                   SB_STR("Target rate in records/s (0 = unlimited)"), &s->m_rate);
    }
    if (st != SB_OK) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "synthetic-source: metric_register failed: %s",
                 host->last_error(ctx));
        ss_destroy(s);
        return st;
    }
    host->gauge_set(ctx, s->m_rate, (double)rate);

    *out_instance = s;
    return SB_OK;
}

/* Loads the next seq from the checkpoint; 0 when there is none. */
static sb_status ss_load_seq(ss_instance *s, uint64_t *out_seq, sb_message *error)
{
    sb_buffer buf = { NULL, 0 };
    sb_status st = s->host->checkpoint_load(s->ctx, &buf);
    uint64_t seq = 0;
    size_t i;

    if (st == SB_ERR_NOT_FOUND) {
        *out_seq = 0;
        return SB_OK;
    }
    if (st != SB_OK) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "checkpoint_load failed: %s", s->host->last_error(s->ctx));
        return st;
    }
    for (i = 0; i < buf.len; i++) {
        unsigned d = (unsigned)buf.ptr[i] - '0';
        if (d > 9 || seq > (UINT64_MAX - d) / 10) {
            break;
        }
        seq = seq * 10 + d;
    }
    if (buf.len == 0 || i != buf.len) {
        snprintf(error->text, SB_MESSAGE_CAPACITY,
                 "checkpoint is not a sequence number (%lu bytes); delete the instance's checkpoint to start over",
                 (unsigned long)buf.len);
        s->host->buffer_free(s->ctx, &buf);
        return SB_ERR_PLUGIN;
    }
    s->host->buffer_free(s->ctx, &buf);
    *out_seq = seq;
    return SB_OK;
}

static void ss_save_seq(ss_instance *s, uint64_t seq)
{
    char text[20];
    sb_bytes state;
    state.ptr = (const uint8_t *)text;
    state.len = ss_put_u64(text, seq);
    if (s->host->checkpoint_save(s->ctx, state) != SB_OK) {
        char line[SB_MESSAGE_CAPACITY];
        snprintf(line, sizeof line, "checkpoint_save failed: %s", s->host->last_error(s->ctx));
        ss_log(s, SB_LOG_WARN, line);
    }
}

static sb_status ss_run(void *instance, sb_message *error)
{
    ss_instance *s = instance;
    const sb_host_api *h = s->host;
    sb_host_ctx *ctx = s->ctx;
    uint64_t seq, k, produced = 0, paced = 0;
    int64_t rate = -1, anchor = 0, last_save, now;
    sb_status st = ss_load_seq(s, &seq, error);

    if (st != SB_OK) {
        return st;
    }
    __atomic_store_n(&s->next_seq, seq, __ATOMIC_RELAXED);
    k = seq % s->key_count;
    last_save = h->monotonic_ns(ctx);

    while (!h->should_stop(ctx)) {
        int64_t r = __atomic_load_n(&s->rate, __ATOMIC_RELAXED);
        size_t n = s->batch_size, i;
        int64_t event_time;

        if (r != rate) { /* first batch, or changed by `set-rate`: restart pacing */
            rate = r;
            h->gauge_set(ctx, s->m_rate, (double)rate);
            anchor = h->monotonic_ns(ctx);
            paced = 0;
        }
        if (s->max_records != 0) {
            uint64_t left = s->max_records - produced;
            if (left == 0) {
                break; /* finished */
            }
            if (left < n) {
                n = (size_t)left;
            }
        }
        if (rate > 0) {
            /* Small batches at low rates so output is smooth, not bursty. */
            int64_t per_tick = rate / SS_PACED_BATCHES_PER_S;
            int64_t due;
            if (per_tick < 1) {
                per_tick = 1;
            }
            if ((uint64_t)per_tick < n) {
                n = (size_t)per_tick;
            }
            due = anchor + (int64_t)((double)paced * 1e9 / (double)rate);
            now = h->monotonic_ns(ctx);
            if (now < due) {
                if (h->wait(ctx, (uint64_t)(due - now))) {
                    break; /* stop requested */
                }
            } else if (now - due > SS_MAX_LAG_NS) {
                anchor = now; /* fell far behind (backpressure): don't burst */
                paced = 0;
            }
        }

        /* Hot loop: rewrite seq and key digits only. */
        event_time = h->now_unix_ns(ctx);
        for (i = 0; i < n; i++) {
            ss_fill_slot(s, i, seq + i, k);
            s->records[i].event_time_ns = event_time;
            if (++k == s->key_count) {
                k = 0;
            }
        }

        for (;;) {
            st = h->publish_batch(ctx, s->records, n, NULL);
            if (st != SB_ERR_FULL) {
                break;
            }
            if (h->wait(ctx, SS_FULL_BACKOFF_NS)) { /* queue full: back off, retry the same batch */
                st = SB_ERR_STOPPING;
                break;
            }
        }
        if (st == SB_ERR_STOPPING) {
            break; /* nothing of this batch was published */
        }
        if (st != SB_OK) {
            snprintf(error->text, SB_MESSAGE_CAPACITY, "publish_batch to '%.*s' failed: %s",
                     (int)s->topic.len, s->topic.ptr == NULL ? "" : s->topic.ptr, h->last_error(ctx));
            ss_save_seq(s, seq);
            return st;
        }

        seq += n;
        produced += n;
        paced += n;
        __atomic_store_n(&s->next_seq, seq, __ATOMIC_RELAXED);
        h->counter_add(ctx, s->m_generated, n);

        now = h->monotonic_ns(ctx);
        if (now - last_save >= SS_CHECKPOINT_EVERY_NS) {
            ss_save_seq(s, seq);
            last_save = now;
        }
    }

    ss_save_seq(s, seq);
    return SB_OK;
}

static sb_health ss_health(void *instance, sb_message *detail)
{
    (void)instance;
    (void)detail;
    return SB_HEALTH_OK;
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */
/* ------------------------------------------------------------------------ */

static sb_status ss_cmd_set_rate(void *instance, sb_message *reply, int64_t rate)
{
    ss_instance *s = instance;
    int64_t old;
    if (rate < 0) {
        snprintf(reply->text, SB_MESSAGE_CAPACITY, "rate must be >= 0 (0 = unlimited), got %" PRId64, rate);
        return SB_ERR_INVALID_ARGUMENT;
    }
    old = __atomic_exchange_n(&s->rate, rate, __ATOMIC_RELAXED);
    /* run picks the new value up before its next batch (and updates rate_target). */
    snprintf(reply->text, SB_MESSAGE_CAPACITY, "rate changed from %" PRId64 " to %" PRId64 " records/s", old, rate);
    return SB_OK;
}

static sb_status ss_cmd_status(void *instance, sb_message *reply)
{
    ss_instance *s = instance;
    snprintf(reply->text, SB_MESSAGE_CAPACITY, "seq=%" PRIu64 " rate=%" PRId64,
             __atomic_load_n(&s->next_seq, __ATOMIC_RELAXED), __atomic_load_n(&s->rate, __ATOMIC_RELAXED));
    return SB_OK;
}

static const sb_command_param ss_set_rate_params[] = {
    { "rate", SB_TYPE_INT, "records per second; 0 = as fast as possible" },
};

static const sb_command ss_commands[] = {
    { "set-rate", "change the target rate while running", ss_set_rate_params, 1,
      (void (*)(void))ss_cmd_set_rate },
    { "status", "show the next sequence number and the target rate", NULL, 0,
      (void (*)(void))ss_cmd_status },
};

/* ------------------------------------------------------------------------ */
/* Descriptor                                                               */
/* ------------------------------------------------------------------------ */

static const sb_plugin_descriptor ss_descriptor = {
    SB_DESCRIPTOR_HEADER,
    "synthetic-source",
    SS_VERSION,
    SB_KIND_SOURCE,
    "Generates synthetic JSON events at a configurable rate (benchmarks, demos)",
    ss_fields,
    F_COUNT,
    ss_create,
    NULL,        /* start: nothing to prepare; the checkpoint is read by run */
    ss_run,
    NULL,        /* process: sources only run */
    NULL,        /* stop: run polls should_stop and waits with host->wait */
    ss_destroy,
    ss_health,
    ss_commands,
    sizeof ss_commands / sizeof ss_commands[0],
};

SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void)
{
    return &ss_descriptor;
}

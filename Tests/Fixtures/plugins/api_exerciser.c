/*
 * api_exerciser.c — PROVES: every host API function of ABI 1.0 works as the
 * header describes, called from a real plugin on the run thread.
 *
 * Name "api-exerciser", SOURCE. Setting `topic` (STRING, default "exercise.out").
 * run performs these checks in order (the name in [] is what is reported on
 * failure):
 *   [host_table]      host->abi_major == SB_ABI_MAJOR and SB_HOST_HAS(host, buffer_free)
 *   log               INFO line "api-exerciser: hello"
 *   [metric_register] counter "exercised_total", gauge "exercised_gauge",
 *                     histogram "exercised_hist" register with non-zero ids;
 *                     then counter_add 3, gauge_set 2.5, histogram_observe 0.25
 *   [kv_put]          "k1" = "v1" -> OK, version >= 1
 *   [kv_get]          "k1" reads back "v1" with the same version
 *   [buffer_free]     the buffer is {NULL, 0} afterwards
 *   [kv_cas]          CAS "k1" with the current version -> OK, "v2", higher version
 *   [kv_cas_conflict] CAS "k1" with the old (now wrong) version -> SB_ERR_CONFLICT
 *   [kv_cas_value]    "k1" reads back "v2"
 *   [kv_delete]       put "k2", delete "k2" -> OK
 *   [kv_delete_missing] delete "k2" again -> SB_ERR_NOT_FOUND
 *   [last_error]      right after that failure: non-NULL and non-empty
 *   [checkpoint_load_empty] first checkpoint_load -> SB_ERR_NOT_FOUND
 *                     (so the instance must start with no checkpoint)
 *   [checkpoint_save] save "cp-1" -> OK
 *   [checkpoint_load] load -> OK, "cp-1"
 *   [now_unix_ns]     after 2020-01-01
 *   [timeseries_write] "exercise.points" {chain=test} = 42 at now_unix_ns -> OK
 *   [monotonic_ns]    two successive reads do not decrease
 *   [wait]            host->wait(1 ms) without a stop returns 0 after >= 0.5 ms
 *   [publish]         one record, payload "single" -> OK
 *   [publish_batch]   three records "batch-0".."batch-2" -> OK, *out_published == 3
 * Then it publishes "RESULT ok", or "RESULT fail: <names, comma-separated>",
 * logs the same text as "api-exerciser: RESULT ...", and waits (host->wait,
 * 1 s steps) until should_stop. So `topic` receives exactly, in order:
 *     single, batch-0, batch-1, batch-2, RESULT ...
 * Each published record has key "exercise" and header "fixture: api-exerciser".
 */
#include <starbloom/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sb_config_field fields[] = {
    { "topic", SB_TYPE_STRING, 0, "exercise.out", "topic for the records and the RESULT line" },
};

typedef struct {
    const sb_host_api *host;
    sb_host_ctx *ctx;
    sb_str topic;
} exerciser;

/* Names of failed checks, comma-separated. */
typedef struct {
    char text[900];
    size_t len;
} failures;

static void check(failures *f, int ok, const char *name)
{
    size_t n = strlen(name);
    if (ok) {
        return;
    }
    if (f->len + n + 2 < sizeof f->text) {
        if (f->len > 0) {
            f->text[f->len++] = ',';
        }
        memcpy(f->text + f->len, name, n);
        f->len += n;
        f->text[f->len] = '\0';
    }
}

static int buffer_equals(const sb_buffer *b, const char *s)
{
    size_t n = strlen(s);
    return b->len == n && (n == 0 || (b->ptr != NULL && memcmp(b->ptr, s, n) == 0));
}

static sb_bytes bytes_of(const char *s)
{
    sb_bytes b;
    b.ptr = (const uint8_t *)s;
    b.len = strlen(s);
    return b;
}

static const sb_header record_headers[] = {
    { { "fixture", 7 }, { (const uint8_t *)"api-exerciser", 13 } },
};

static sb_record make_record(const exerciser *x, const char *payload)
{
    sb_record r;
    memset(&r, 0, sizeof r);
    r.topic = x->topic;
    r.key = bytes_of("exercise");
    r.payload = bytes_of(payload);
    r.headers = record_headers;
    r.header_count = 1;
    return r;
}

static sb_status ex_create(const sb_host_api *host, sb_host_ctx *ctx, const sb_config *config,
                           void **out_instance, sb_message *error)
{
    exerciser *x = malloc(sizeof *x);
    if (x == NULL) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "out of memory");
        return SB_ERR_INTERNAL;
    }
    x->host = host;
    x->ctx = ctx;
    x->topic = config->values[0].as.string;
    *out_instance = x;
    return SB_OK;
}

static sb_status ex_run(void *instance, sb_message *error)
{
    exerciser *x = instance;
    const sb_host_api *h = x->host;
    sb_host_ctx *ctx = x->ctx;
    failures f;
    sb_status st;
    sb_buffer buf = { NULL, 0 };
    uint64_t version = 0, version2 = 0, read_version = 0, offset = 0;
    sb_metric_id counter = 0, gauge = 0, hist = 0;
    int64_t now, t0, t1;
    char result[940]; /* "RESULT fail: " + failures.text always fits */
    int result_len;

    f.len = 0;
    f.text[0] = '\0';

    check(&f, h->abi_major == SB_ABI_MAJOR && SB_HOST_HAS(h, buffer_free), "host_table");

    h->log(ctx, SB_LOG_INFO, SB_STR("api-exerciser: hello"));

    /* Metrics. */
    st = h->metric_register(ctx, SB_METRIC_COUNTER, SB_STR("exercised_total"), SB_STR("exerciser counter"), &counter);
    check(&f, st == SB_OK && counter != 0, "metric_register");
    st = h->metric_register(ctx, SB_METRIC_GAUGE, SB_STR("exercised_gauge"), SB_STR("exerciser gauge"), &gauge);
    check(&f, st == SB_OK && gauge != 0, "metric_register");
    st = h->metric_register(ctx, SB_METRIC_HISTOGRAM, SB_STR("exercised_hist"), SB_STR("exerciser histogram"), &hist);
    check(&f, st == SB_OK && hist != 0, "metric_register");
    h->counter_add(ctx, counter, 3);
    h->gauge_set(ctx, gauge, 2.5);
    h->histogram_observe(ctx, hist, 0.25);

    /* Key-value. */
    st = h->kv_put(ctx, bytes_of("k1"), bytes_of("v1"), &version);
    check(&f, st == SB_OK && version >= 1, "kv_put");
    st = h->kv_get(ctx, bytes_of("k1"), &buf, &read_version);
    check(&f, st == SB_OK && buffer_equals(&buf, "v1") && read_version == version, "kv_get");
    h->buffer_free(ctx, &buf);
    check(&f, buf.ptr == NULL && buf.len == 0, "buffer_free");

    st = h->kv_compare_and_swap(ctx, bytes_of("k1"), version, bytes_of("v2"), &version2);
    check(&f, st == SB_OK && version2 > version, "kv_cas");
    st = h->kv_compare_and_swap(ctx, bytes_of("k1"), version, bytes_of("v3"), NULL);
    check(&f, st == SB_ERR_CONFLICT, "kv_cas_conflict");
    st = h->kv_get(ctx, bytes_of("k1"), &buf, NULL);
    check(&f, st == SB_OK && buffer_equals(&buf, "v2"), "kv_cas_value");
    h->buffer_free(ctx, &buf);

    st = h->kv_put(ctx, bytes_of("k2"), bytes_of("temporary"), NULL);
    if (st == SB_OK) {
        st = h->kv_delete(ctx, bytes_of("k2"));
    }
    check(&f, st == SB_OK, "kv_delete");
    st = h->kv_delete(ctx, bytes_of("k2"));
    check(&f, st == SB_ERR_NOT_FOUND, "kv_delete_missing");
    {
        const char *message = h->last_error(ctx); /* right after the failing call */
        check(&f, message != NULL && message[0] != '\0', "last_error");
    }

    /* Checkpoints. */
    st = h->checkpoint_load(ctx, &buf);
    check(&f, st == SB_ERR_NOT_FOUND, "checkpoint_load_empty");
    h->buffer_free(ctx, &buf); /* no-op unless a checkpoint unexpectedly existed */
    st = h->checkpoint_save(ctx, bytes_of("cp-1"));
    check(&f, st == SB_OK, "checkpoint_save");
    st = h->checkpoint_load(ctx, &buf);
    check(&f, st == SB_OK && buffer_equals(&buf, "cp-1"), "checkpoint_load");
    h->buffer_free(ctx, &buf);

    /* Time series and clocks. */
    now = h->now_unix_ns(ctx);
    check(&f, now > (int64_t)1577836800 * 1000000000, "now_unix_ns");
    {
        sb_tag tag;
        tag.name = SB_STR("chain");
        tag.value = SB_STR("test");
        st = h->timeseries_write(ctx, SB_STR("exercise.points"), &tag, 1, now, 42.0);
        check(&f, st == SB_OK, "timeseries_write");
    }
    t0 = h->monotonic_ns(ctx);
    t1 = h->monotonic_ns(ctx);
    check(&f, t1 >= t0, "monotonic_ns");

    /* Cooperative shutdown: only meaningful while no stop was requested. */
    if (!h->should_stop(ctx)) {
        int32_t stopped;
        t0 = h->monotonic_ns(ctx);
        stopped = h->wait(ctx, 1000000u);
        t1 = h->monotonic_ns(ctx);
        check(&f, stopped != 0 || t1 - t0 >= 500000, "wait");
    }

    /* Publishing. */
    {
        sb_record one = make_record(x, "single");
        sb_record batch[3];
        size_t published = 0;
        batch[0] = make_record(x, "batch-0");
        batch[1] = make_record(x, "batch-1");
        batch[2] = make_record(x, "batch-2");
        st = h->publish(ctx, &one, &offset);
        check(&f, st == SB_OK, "publish");
        st = h->publish_batch(ctx, batch, 3, &published);
        check(&f, st == SB_OK && published == 3, "publish_batch");
    }

    /* The verdict, on the topic and in the log. */
    if (f.len == 0) {
        result_len = snprintf(result, sizeof result, "RESULT ok");
    } else {
        result_len = snprintf(result, sizeof result, "RESULT fail: %s", f.text);
    }
    {
        sb_record verdict = make_record(x, result);
        char line[1100];
        sb_str text;
        text.ptr = line;
        text.len = (size_t)snprintf(line, sizeof line, "api-exerciser: %s", result);
        h->log(ctx, f.len == 0 ? SB_LOG_INFO : SB_LOG_ERROR, text);
        verdict.payload.len = (size_t)result_len;
        st = h->publish(ctx, &verdict, NULL);
        if (st == SB_ERR_STOPPING) {
            return SB_OK;
        }
        if (st != SB_OK) {
            snprintf(error->text, SB_MESSAGE_CAPACITY, "%s; publishing it failed: %s", result, h->last_error(ctx));
            return st;
        }
    }

    while (!h->should_stop(ctx)) {
        if (h->wait(ctx, 1000000000u)) {
            break;
        }
    }
    return SB_OK;
}

static void ex_destroy(void *instance)
{
    free(instance);
}

static const sb_plugin_descriptor descriptor = {
    SB_DESCRIPTOR_HEADER,
    "api-exerciser", "1.0.0", SB_KIND_SOURCE, "Test fixture: calls every host API function once",
    fields, 1,
    ex_create, NULL, ex_run, NULL, NULL, ex_destroy, NULL,
    NULL, 0,
};

SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void)
{
    return &descriptor;
}

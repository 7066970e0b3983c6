/*
 * good_processor.c — PROVES: a well-formed PROCESSOR loads and processes
 * batches: every input record is emitted with its payload prefixed by "P:"
 * to the topic in setting `output` (STRING, default "fixture.out"), with the
 * same key, headers and event time; a record whose payload is exactly "bad"
 * is rejected (emitter->reject) with reason "payload is bad" and not emitted.
 * Name "fixture-processor", version "1.0.0".
 */
#include <starbloom/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sb_config_field fields[] = {
    { "output", SB_TYPE_STRING, 0, "fixture.out", "topic the prefixed records go to" },
};

typedef struct {
    sb_str output;
    uint8_t *scratch; /* process runs on one thread at a time per instance */
    size_t capacity;
} fixture;

static sb_status fx_create(const sb_host_api *host, sb_host_ctx *ctx, const sb_config *config,
                           void **out_instance, sb_message *error)
{
    fixture *f = calloc(1, sizeof *f);
    (void)host;
    (void)ctx;
    if (f == NULL) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "out of memory");
        return SB_ERR_INTERNAL;
    }
    f->output = config->values[0].as.string;
    *out_instance = f;
    return SB_OK;
}

static sb_status fx_process(void *instance, const sb_record *records, size_t count,
                            const sb_emitter *emitter, sb_message *error)
{
    fixture *f = instance;
    size_t i;

    for (i = 0; i < count; i++) {
        const sb_record *in = &records[i];
        sb_record out;
        sb_status status;

        if (in->payload.len == 3 && memcmp(in->payload.ptr, "bad", 3) == 0) {
            emitter->reject(emitter->ctx, i, SB_STR("payload is bad"));
            continue;
        }
        if (in->payload.len + 2 > f->capacity) {
            uint8_t *bigger = realloc(f->scratch, in->payload.len + 2);
            if (bigger == NULL) {
                snprintf(error->text, SB_MESSAGE_CAPACITY, "out of memory");
                return SB_ERR_INTERNAL;
            }
            f->scratch = bigger;
            f->capacity = in->payload.len + 2;
        }
        f->scratch[0] = 'P';
        f->scratch[1] = ':';
        if (in->payload.len > 0) {
            memcpy(f->scratch + 2, in->payload.ptr, in->payload.len);
        }

        memset(&out, 0, sizeof out);
        out.topic = f->output;
        out.key = in->key;
        out.payload.ptr = f->scratch;
        out.payload.len = in->payload.len + 2;
        out.headers = in->headers;
        out.header_count = in->header_count;
        out.event_time_ns = in->event_time_ns;
        status = emitter->emit(emitter->ctx, &out);
        if (status != SB_OK) {
            snprintf(error->text, SB_MESSAGE_CAPACITY, "emit failed with status %d", (int)status);
            return status;
        }
    }
    return SB_OK;
}

static void fx_destroy(void *instance)
{
    fixture *f = instance;
    free(f->scratch);
    free(f);
}

static const sb_plugin_descriptor descriptor = {
    SB_DESCRIPTOR_HEADER,
    "fixture-processor",
    "1.0.0",
    SB_KIND_PROCESSOR,
    "Test fixture: prefixes payloads with P:",
    fields, 1,
    fx_create, NULL, NULL, fx_process, NULL, fx_destroy, NULL,
    NULL, 0,
};

SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void)
{
    return &descriptor;
}

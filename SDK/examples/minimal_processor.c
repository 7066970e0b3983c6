/*
 * minimal_processor.c — the smallest useful Starbloom PROCESSOR plugin.
 *
 * For every input record, emits the payload in upper case (ASCII letters
 * only; other bytes, including UTF-8 sequences, are kept) to the topic in
 * setting `output`, with the same key and headers. Empty payloads are
 * rejected: the host retries them and finally sends them to the dead-letter
 * topic with the reason.
 *
 *   cc -std=c99 -shared -fPIC -O2 -fvisibility=hidden -I SDK/include \
 *      SDK/examples/minimal_processor.c -o libminimal_processor.so
 */
#include <starbloom/plugin.h>

#include <stdio.h>
#include <stdlib.h>

static const sb_config_field fields[] = {
    { "output", SB_TYPE_STRING, 0, "example.upper", "topic the upper-cased records go to" },
};

typedef struct {
    sb_str output;    /* points into the host's config: valid until destroy */
    uint8_t *scratch; /* reused output buffer: process runs on one thread at a time */
    size_t capacity;
} example_upper;

static sb_status upper_create(const sb_host_api *host, sb_host_ctx *ctx, const sb_config *config,
                              void **out_instance, sb_message *error)
{
    example_upper *p = calloc(1, sizeof *p);
    (void)host; /* this plugin needs no host functions */
    (void)ctx;
    if (p == NULL) {
        snprintf(error->text, SB_MESSAGE_CAPACITY, "out of memory");
        return SB_ERR_INTERNAL;
    }
    p->output = config->values[0].as.string;
    *out_instance = p;
    return SB_OK;
}

/* Input records and their buffers are borrowed: valid only during this call.
 * Emitted records are copied by the host, so the scratch buffer can be
 * reused for the next record right after emit returns. */
static sb_status upper_process(void *instance, const sb_record *records, size_t count,
                               const sb_emitter *emitter, sb_message *error)
{
    example_upper *p = instance;
    size_t i, j;

    for (i = 0; i < count; i++) {
        const sb_record *in = &records[i];
        sb_record out = *in;   /* same key, headers and event time */
        sb_status status;

        if (in->payload.len == 0) {
            /* Fail just this record; the rest of the batch goes on. */
            emitter->reject(emitter->ctx, i, SB_STR("empty payload"));
            continue;
        }
        if (in->payload.len > p->capacity) {
            uint8_t *bigger = realloc(p->scratch, in->payload.len);
            if (bigger == NULL) {
                snprintf(error->text, SB_MESSAGE_CAPACITY, "out of memory (%lu bytes)",
                         (unsigned long)in->payload.len);
                return SB_ERR_INTERNAL; /* fails (and later redelivers) the whole batch */
            }
            p->scratch = bigger;
            p->capacity = in->payload.len;
        }
        for (j = 0; j < in->payload.len; j++) {
            uint8_t c = in->payload.ptr[j];
            p->scratch[j] = (c >= 'a' && c <= 'z') ? (uint8_t)(c - 'a' + 'A') : c;
        }

        out.topic = p->output;
        out.payload.ptr = p->scratch;
        out.offset = 0;        /* delivery-only fields: ignored on emit */
        out.partition = 0;
        out.reserved = 0;
        status = emitter->emit(emitter->ctx, &out);
        if (status != SB_OK) {
            snprintf(error->text, SB_MESSAGE_CAPACITY, "emit to '%.*s' failed (status %d)",
                     (int)p->output.len, p->output.ptr, (int)status);
            return status;
        }
    }
    return SB_OK;
}

static void upper_destroy(void *instance)
{
    example_upper *p = instance;
    free(p->scratch);
    free(p);
}

static const sb_plugin_descriptor descriptor = {
    SB_DESCRIPTOR_HEADER,
    "example-uppercase",
    "1.0.0",
    SB_KIND_PROCESSOR,
    "Upper-cases each record's payload",
    fields, sizeof fields / sizeof fields[0],
    upper_create,
    NULL,                 /* start */
    NULL,                 /* run: sources only */
    upper_process,
    NULL,                 /* stop */
    upper_destroy,
    NULL,                 /* health */
    NULL, 0               /* commands */
};

SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void)
{
    return &descriptor;
}

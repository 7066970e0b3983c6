/*
 * NATS JetStream anchor for the Starbloom queue benchmark.
 *
 * usage: nats_publish PORT [async|sync] [N]
 *   async (default): N (default 1,000,000) 200-byte messages to bench.x with
 *                    js_PublishAsync, at most MAX_PENDING acks outstanding,
 *                    then waits for every ack.
 *   sync:            N (default 20,000) messages, each js_Publish waiting for
 *                    its ack before the next.
 * The server is expected at 127.0.0.1:PORT with JetStream enabled. A fresh
 * file-storage stream BENCH on bench.> is created first and deleted at the end.
 * Prints: nats-jetstream-<mode> records=N seconds=S records_per_s=R
 */
#include <nats/nats.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { PAYLOAD_LEN = 200, MAX_PENDING = 4096 };
#define STREAM "BENCH"

static long ack_errors; /* bumped from the library's ack thread */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void check(natsStatus s, const char *what) {
    if (s == NATS_OK) return;
    fprintf(stderr, "nats_publish: %s: %s (%s)\n", what, natsStatus_GetText(s),
            nats_GetLastError(NULL));
    exit(1);
}

static void on_ack_error(jsCtx *js, jsPubAckErr *pae, void *closure) {
    (void)js; (void)pae; (void)closure;
    __atomic_fetch_add(&ack_errors, 1, __ATOMIC_RELAXED);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s PORT [async|sync] [N]\n", argv[0]);
        return 2;
    }
    const char *mode = argc >= 3 ? argv[2] : "async";
    int sync = strcmp(mode, "sync") == 0;
    if (!sync && strcmp(mode, "async") != 0) {
        fprintf(stderr, "mode must be async or sync\n");
        return 2;
    }
    long n = argc == 4 ? strtol(argv[3], NULL, 10) : (sync ? 20000 : 1000000);
    if (n <= 0) {
        fprintf(stderr, "N must be positive\n");
        return 2;
    }

    char url[64];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", atoi(argv[1]));
    natsConnection *nc = NULL;
    check(natsConnection_ConnectTo(&nc, url), "connect");

    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 10000;
    jo.PublishAsync.MaxPending = MAX_PENDING;
    jo.PublishAsync.ErrHandler = on_ack_error;
    /* A publish that finds MAX_PENDING acks outstanding waits up to this long
     * for one to come back; the 200 ms default can fail under fsync stalls. */
    jo.PublishAsync.StallWait = 30000;
    jsCtx *js = NULL;
    check(natsConnection_JetStream(&js, nc, &jo), "jetstream context");

    /* Start from an empty stream so earlier runs don't skew the file store. */
    js_DeleteStream(js, STREAM, NULL, NULL);
    const char *subjects[] = {"bench.>"};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = STREAM;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    jsStreamInfo *si = NULL;
    check(js_AddStream(&si, js, &sc, NULL, NULL), "add stream");
    jsStreamInfo_Destroy(si);

    unsigned char payload[PAYLOAD_LEN];
    uint32_t x = 2463534242u;
    for (int i = 0; i < PAYLOAD_LEN; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        payload[i] = (unsigned char)x;
    }

    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        memcpy(payload, &i, sizeof i); /* distinct bodies; the library copies */
        if (sync) {
            jsPubAck *pa = NULL;
            check(js_Publish(&pa, js, "bench.x", payload, PAYLOAD_LEN, NULL, NULL),
                  "publish");
            jsPubAck_Destroy(pa);
        } else {
            check(js_PublishAsync(js, "bench.x", payload, PAYLOAD_LEN, NULL),
                  "publish async");
        }
    }
    if (!sync) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 120000; /* bounded wait for the tail of acks */
        check(js_PublishAsyncComplete(js, &po), "wait for acks");
    }
    double secs = now_s() - t0;

    /* Every publish must have been acked and stored, or the number is void. */
    check(js_GetStreamInfo(&si, js, STREAM, NULL, NULL), "stream info");
    uint64_t stored = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    long errs = __atomic_load_n(&ack_errors, __ATOMIC_RELAXED);
    if (errs != 0 || stored != (uint64_t)n) {
        fprintf(stderr, "nats_publish: %ld ack errors, %llu of %ld stored\n", errs,
                (unsigned long long)stored, n);
        return 1;
    }
    js_DeleteStream(js, STREAM, NULL, NULL);

    printf("nats-jetstream-%s records=%ld seconds=%.3f records_per_s=%.0f\n", mode, n,
           secs, (double)n / secs);
    fflush(stdout);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_Close();
    return 0;
}

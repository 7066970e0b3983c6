// SSE fan-out benchmark (issue 5): N subscribers on a real `starbloom serve`, a publisher at a fixed
// rate, delivery latency measured per delivered record (publish send time -> read by a subscriber).
//
//   sse_fanout PORT KEY SUBSCRIBERS TOPICS RATE SECONDS [STALLED] [SERVER_PID]
//
// Subscriber i follows topic bench.fan.(i % TOPICS). The publisher POSTs, once per millisecond, the
// records due by then (RATE per second in all) to one topic after another; each record's key is its
// scheduled CLOCK_MONOTONIC send time in ns (the schedule, not the moment the POST went out: a slow
// publish then counts as latency instead of hiding it). STALLED extra connections follow every topic (bench.fan.>) and
// never read a byte. SERVER_PID: the server's RSS is read before publishing and after.
// Prints one line of key=value pairs. Exits non-zero when a subscriber missed or repeated a record.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port, topics, rate, seconds;
static const char *key;
static atomic_int publishing = 1;
static atomic_long published = 0;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static int connect_server(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static void send_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("write");
        data += n;
        length -= (size_t)n;
    }
}

// Reads one HTTP response (status line, headers, Content-Length body); returns the status.
static int read_response(int fd, char *buffer, size_t capacity) {
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buffer + have, capacity - 1 - have);
        if (n <= 0) die("publisher read");
        have += (size_t)n;
        buffer[have] = 0;
        char *end = strstr(buffer, "\r\n\r\n");
        if (!end) continue;
        char *length = strcasestr(buffer, "content-length:");
        size_t body = length ? strtoul(length + 15, NULL, 10) : 0;
        if (have >= (size_t)(end + 4 - buffer) + body) return atoi(buffer + 9);
    }
}

static long rss_kib(int pid) {
    if (pid <= 0) return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *file = fopen(path, "r");
    if (!file) return -1;
    long kib = -1;
    while (fgets(line, sizeof line, file))
        if (strncmp(line, "VmRSS:", 6) == 0) kib = strtol(line + 6, NULL, 10);
    fclose(file);
    return kib;
}

// Publishes RATE records/s for SECONDS, one POST per millisecond to the next topic in turn.
static void *publisher(void *unused) {
    (void)unused;
    int fd = connect_server();
    static char body[1 << 20], request[(1 << 20) + 1024], response[1 << 16];
    const uint64_t start = now_ns();
    long due_total = 0;
    for (uint64_t tick = 0; tick < (uint64_t)seconds * 1000; tick++) {
        uint64_t at = start + tick * 1000000u;
        uint64_t now = now_ns();
        if (now < at) {
            struct timespec pause = {.tv_sec = 0, .tv_nsec = (long)(at - now)};
            nanosleep(&pause, NULL);
        }
        long due = (long)((tick + 1) * (uint64_t)rate / 1000) - due_total;
        if (due <= 0) continue;
        size_t used = (size_t)snprintf(body, sizeof body, "{\"records\":[");
        uint64_t sent = at;
        for (long i = 0; i < due; i++)
            used += (size_t)snprintf(body + used, sizeof body - used,
                                     "%s{\"key\":\"%llu\",\"payload\":\"{\\\"token\\\":\\\"0x00000000000000000000000000000000000000aa\\\",\\\"amount\\\":\\\"1000000000000000000\\\",\\\"n\\\":%ld}\"}",
                                     i ? "," : "", (unsigned long long)sent, due_total + i);
        used += (size_t)snprintf(body + used, sizeof body - used, "]}");
        int length = snprintf(request, sizeof request,
                              "POST /v1/topics/bench.fan.%d/records HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n"
                              "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                              (int)(tick % (uint64_t)topics), key, used, body);
        send_all(fd, request, (size_t)length);
        int status = read_response(fd, response, sizeof response);
        if (status != 200 && status != 201) {
            fprintf(stderr, "publish answered %d: %s\n", status, response);
            exit(2);
        }
        due_total += due;
        atomic_store(&published, due_total);
    }
    atomic_store(&publishing, 0);
    close(fd);
    return NULL;
}

struct subscriber {
    int fd, topic;
    int started;              // saw "retry:"
    long received;
    long long last_offset;    // -1 before the first record
    long out_of_order;        // records not exactly one past the previous: a gap or a repeat
    char carry[1 << 16];      // an incomplete line from the previous read
    size_t carried;
};

static uint64_t *latencies;
static size_t latency_count, latency_capacity;

static void record_latency(uint64_t value) {
    if (latency_count == latency_capacity) {
        latency_capacity = latency_capacity ? latency_capacity * 2 : 1 << 20;
        latencies = realloc(latencies, latency_capacity * sizeof *latencies);
        if (!latencies) die("realloc");
    }
    latencies[latency_count++] = value;
}

// Handles the complete lines of one read: "retry:" starts the stream, every "data:" line is a record.
static void consume(struct subscriber *s, const char *data, size_t length, uint64_t arrived, int measuring) {
    size_t start = 0;
    for (size_t i = 0; i < length; i++) {
        if (data[i] != '\n') continue;
        const char *line = data + start;
        size_t line_length = i - start;
        if (s->carried) {
            if (s->carried + line_length >= sizeof s->carry) die("line too long");
            memcpy(s->carry + s->carried, line, line_length);
            line = s->carry;
            line_length += s->carried;
            s->carried = 0;
        }
        if (line_length >= 6 && memcmp(line, "retry:", 6) == 0) s->started = 1;
        if (line_length >= 5 && memcmp(line, "data:", 5) == 0) {
            const char *found = memmem(line, line_length, "\"key\":\"", 7);
            if (!found) die("a data line without a key");
            uint64_t sent = strtoull(found + 7, NULL, 10);
            const char *offset = memmem(line, line_length, "\"offset\":", 9);
            if (!offset) die("a data line without an offset");
            long long value = strtoll(offset + 9, NULL, 10);
            if (s->last_offset >= 0 && value != s->last_offset + 1) s->out_of_order++;
            s->last_offset = value;
            s->received++;
            if (measuring) record_latency(arrived - sent);
        }
        start = i + 1;
    }
    if (start < length) {
        if (s->carried + (length - start) >= sizeof s->carry) die("line too long");
        memcpy(s->carry + s->carried, data + start, length - start);
        s->carried += length - start;
    }
}

static int compare(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: %s PORT KEY SUBSCRIBERS TOPICS RATE SECONDS [STALLED] [SERVER_PID]\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    key = argv[2];
    int count = atoi(argv[3]);
    topics = atoi(argv[4]);
    rate = atoi(argv[5]);
    seconds = atoi(argv[6]);
    int stalled = argc > 7 ? atoi(argv[7]) : 0;
    int server = argc > 8 ? atoi(argv[8]) : 0;
    if (count < 1 || topics < 1 || rate < 1 || seconds < 1 || stalled < 0) {
        fprintf(stderr, "SUBSCRIBERS, TOPICS, RATE and SECONDS must be positive, STALLED not negative\n");
        return 2;
    }
    struct rlimit files;
    getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);

    int poller = epoll_create1(0);
    struct subscriber *subscribers = calloc((size_t)count, sizeof *subscribers);
    char request[1024];
    for (int i = 0; i < count + stalled; i++) {
        int fd = connect_server();
        const int is_stalled = i >= count;
        if (is_stalled) {
            int small = 4096;
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        }
        char pattern[64];
        if (is_stalled) snprintf(pattern, sizeof pattern, "bench.fan.%%3E");
        else snprintf(pattern, sizeof pattern, "bench.fan.%d", i % topics);
        int length = snprintf(request, sizeof request,
                              "GET /v1/events?topics=%s HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n\r\n", pattern, key);
        send_all(fd, request, (size_t)length);
        if (is_stalled) continue; // never read
        subscribers[i].fd = fd;
        subscribers[i].last_offset = -1;
        subscribers[i].topic = i % topics;
        struct epoll_event event = {.events = EPOLLIN, .data.ptr = &subscribers[i]};
        if (epoll_ctl(poller, EPOLL_CTL_ADD, fd, &event) != 0) die("epoll_ctl");
    }

    static char buffer[1 << 18];
    struct epoll_event events[256];
    // Every stream open (its "retry:" read) before the first record is published.
    for (int open = 0; open < count;) {
        int ready = epoll_wait(poller, events, 256, 10000);
        if (ready <= 0) {
            fprintf(stderr, "only %d of %d streams opened within 10 s\n", open, count);
            return 2;
        }
        for (int e = 0; e < ready; e++) {
            struct subscriber *s = events[e].data.ptr;
            ssize_t n = read(s->fd, buffer, sizeof buffer);
            if (n <= 0) {
                fprintf(stderr, "a stream closed while opening: %s\n", n < 0 ? strerror(errno) : "EOF");
                return 2;
            }
            int was = s->started;
            consume(s, buffer, (size_t)n, now_ns(), 0);
            if (!was && s->started) open++;
        }
    }

    long rss_before = rss_kib(server);
    pthread_t thread;
    pthread_create(&thread, NULL, publisher, NULL);
    uint64_t drain_until = 0;
    for (;;) {
        if (!atomic_load(&publishing) && drain_until == 0) drain_until = now_ns() + 2000000000u;
        if (drain_until && now_ns() > drain_until) break;
        int ready = epoll_wait(poller, events, 256, 100);
        for (int e = 0; e < ready; e++) {
            struct subscriber *s = events[e].data.ptr;
            ssize_t n = read(s->fd, buffer, sizeof buffer);
            uint64_t arrived = now_ns();
            if (n <= 0) {
                fprintf(stderr, "stream %ld closed: %s\n", (long)(s - subscribers), n < 0 ? strerror(errno) : "EOF");
                return 2;
            }
            consume(s, buffer, (size_t)n, arrived, 1);
        }
    }
    pthread_join(thread, NULL);
    long rss_after = rss_kib(server);

    // Each subscriber must have every record of its topic exactly once: the publisher's batches went
    // to topic tick % TOPICS, so count what each topic got by replaying the schedule.
    long *per_topic = calloc((size_t)topics, sizeof *per_topic);
    long due_total = 0;
    for (uint64_t tick = 0; tick < (uint64_t)seconds * 1000; tick++) {
        long due = (long)((tick + 1) * (uint64_t)rate / 1000) - due_total;
        if (due <= 0) continue;
        per_topic[tick % (uint64_t)topics] += due;
        due_total += due;
    }
    long wrong = 0, expected = 0;
    for (int i = 0; i < count; i++) {
        expected += per_topic[subscribers[i].topic];
        if (subscribers[i].received != per_topic[subscribers[i].topic] || subscribers[i].out_of_order) wrong++;
    }
    qsort(latencies, latency_count, sizeof *latencies, compare);
    #define PCT(p) (latency_count ? latencies[(size_t)((double)(latency_count - 1) * (p))] / 1e6 : -1.0)
    printf("subscribers=%d stalled=%d topics=%d rate=%d seconds=%d published=%ld delivered=%zu expected=%ld "
           "wrong_subscribers=%ld p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f rss_before_kib=%ld rss_after_kib=%ld\n",
           count, stalled, topics, rate, seconds, atomic_load(&published), latency_count, expected, wrong,
           PCT(0.5), PCT(0.99), PCT(0.999), PCT(1.0), rss_before, rss_after);
    return wrong ? 1 : 0;
}

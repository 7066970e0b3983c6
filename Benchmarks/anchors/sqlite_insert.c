/*
 * SQLite anchor for the Starbloom queue benchmark.
 *
 * usage: sqlite_insert DIR [N]   (N defaults to 1,000,000)
 *
 * For each of synchronous=NORMAL and synchronous=FULL (both in WAL mode) it
 * creates a fresh database file in DIR, inserts N records with a payload of
 * 200 bytes through one reused prepared statement, 1,000 rows per transaction,
 * and prints
 *   sqlite-wal-<mode> records=N seconds=S records_per_s=R
 * The clock covers the inserts and commits only; schema creation and the
 * checkpoint that sqlite3_close runs are outside it. The database files are
 * removed afterwards.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { PAYLOAD_LEN = 200, KEY_LEN = 8, ROWS_PER_TXN = 1000 };

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int64_t wall_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void die(sqlite3 *db, const char *what) {
    fprintf(stderr, "sqlite_insert: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
    exit(1);
}

static void exec(sqlite3 *db, const char *sql) {
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) die(db, sql);
}

static void remove_db(const char *path) {
    char p[4200];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static void run(const char *dir, const char *mode, long n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/anchor-%s.db", dir, mode);
    remove_db(path);

    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) die(db, "open");
    exec(db, "PRAGMA journal_mode=WAL");
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA synchronous=%s", mode);
    exec(db, pragma);
    exec(db, "CREATE TABLE records(topic TEXT, partition INTEGER, offset INTEGER,"
             " ts INTEGER, key BLOB, payload BLOB)");
    exec(db, "CREATE INDEX records_topic_ts ON records(topic, ts)");

    sqlite3_stmt *ins = NULL;
    if (sqlite3_prepare_v2(db, "INSERT INTO records VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &ins, NULL) != SQLITE_OK)
        die(db, "prepare");

    /* Pseudo-random payload so the bytes look like real data; the first 8
     * bytes carry the offset so no two rows are identical. */
    unsigned char payload[PAYLOAD_LEN], key[KEY_LEN];
    uint32_t x = 2463534242u;
    for (int i = 0; i < PAYLOAD_LEN; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        payload[i] = (unsigned char)x;
    }

    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        if (i % ROWS_PER_TXN == 0) exec(db, "BEGIN");
        for (int b = 0; b < KEY_LEN; b++) key[b] = (unsigned char)(i >> (8 * b));
        memcpy(payload, key, KEY_LEN);
        /* SQLITE_STATIC: both buffers outlive sqlite3_step. */
        sqlite3_bind_text(ins, 1, "bench", -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, i % 4);
        sqlite3_bind_int64(ins, 3, i);
        sqlite3_bind_int64(ins, 4, wall_ms());
        sqlite3_bind_blob(ins, 5, key, KEY_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 6, payload, PAYLOAD_LEN, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) die(db, "insert");
        sqlite3_reset(ins);
        if (i % ROWS_PER_TXN == ROWS_PER_TXN - 1 || i == n - 1) exec(db, "COMMIT");
    }
    double secs = now_s() - t0;

    sqlite3_finalize(ins);
    if (sqlite3_close(db) != SQLITE_OK) die(db, "close");
    remove_db(path);
    printf("sqlite-wal-%s records=%ld seconds=%.3f records_per_s=%.0f\n",
           mode, n, secs, (double)n / secs);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s DIR [N]\n", argv[0]);
        return 2;
    }
    long n = argc == 3 ? strtol(argv[2], NULL, 10) : 1000000;
    if (n <= 0) {
        fprintf(stderr, "N must be positive\n");
        return 2;
    }
    run(argv[1], "NORMAL", n);
    run(argv[1], "FULL", n);
    return 0;
}

/*
 * starbloom/plugin.h — the Starbloom plugin C ABI, version 1.
 *
 * This header is the whole contract between the Starbloom host and a plugin.
 * A plugin is a shared library built with nothing but this header:
 *
 *     cc -std=c99 -shared -fPIC -O2 -fvisibility=hidden -I SDK/include my_plugin.c -o libmy_plugin.so
 *
 * It exports exactly one symbol, SB_PLUGIN_ENTRY_SYMBOL, which returns a
 * pointer to a static sb_plugin_descriptor. The host reads and checks that
 * descriptor (ABI major, struct size, name, kind, config fields) before it
 * calls any other plugin code; a plugin that fails the check is refused with a
 * one-line reason and never runs.
 *
 * ---------------------------------------------------------------------------
 * VERSIONING
 * ---------------------------------------------------------------------------
 *  - SB_ABI_MAJOR changes only when an existing type or function changes
 *    meaning or layout. A host refuses a plugin whose major differs from its own.
 *  - SB_ABI_MINOR grows when fields are APPENDED to sb_plugin_descriptor or
 *    functions are APPENDED to sb_host_api. Nothing is ever removed or
 *    reordered within a major. Every such struct starts with its own size
 *    (`struct_size`), so each side reads only what the other side has:
 *      * the host reads descriptor fields only below descriptor->struct_size;
 *      * a plugin must check SB_HOST_HAS(host, member) before calling a
 *        host function added after minor 0 (each one is tagged "since 1.N").
 *    An old plugin therefore keeps loading in every newer host of the same major.
 *
 * ---------------------------------------------------------------------------
 * OWNERSHIP AND LIFETIME (general rules; each function repeats what differs)
 * ---------------------------------------------------------------------------
 *  - Buffers are passed as {ptr, len} (sb_str, sb_bytes). Strings are UTF-8
 *    and NOT required to be NUL-terminated, except where a `const char *`
 *    is used (descriptor metadata and command string arguments), which are.
 *  - An input buffer the host passes to the plugin is BORROWED: valid only
 *    until the function it was passed to returns, unless stated otherwise.
 *    Copy what you keep.
 *  - An input buffer the plugin passes to the host is borrowed by the host
 *    for the duration of the call; the host copies what it keeps.
 *  - A buffer the host RETURNS to the plugin (sb_buffer) is owned by the
 *    plugin and must be released with host->buffer_free exactly once.
 *  - The descriptor and everything it points to (names, field tables,
 *    command tables) must stay valid and unchanged for as long as the
 *    library is loaded; in practice: static const data.
 *  - Messages: functions that can fail take an `sb_message *` owned by the
 *    caller; on failure the callee writes a NUL-terminated, human-readable
 *    reason (truncated to SB_MESSAGE_CAPACITY-1 bytes). The host shows it
 *    verbatim as the instance's last error. The host always passes a
 *    non-NULL, zero-filled message, so a plugin that writes nothing yields
 *    an empty reason, never garbage.
 *  - Enums are int-sized (the platform C ABI); building a plugin with
 *    -fshort-enums is not supported.
 *
 * ---------------------------------------------------------------------------
 * THREADS
 * ---------------------------------------------------------------------------
 *  - Lifecycle calls for ONE instance are serialized by the host: create,
 *    start, stop, destroy and commands never run concurrently with each other
 *    for the same instance. Different instances may be called concurrently.
 *  - `run` (sources) is called on a dedicated host thread and may block until
 *    host->should_stop() becomes true. While `run` executes, the host may call
 *    `stop`, `health` and commands from OTHER threads: they must be thread-safe
 *    with respect to `run`.
 *  - `process` (processors, sinks) is called on one host thread at a time per
 *    instance; `health` and commands may run concurrently with it.
 *  - Every host API function is thread-safe and may be called from any thread
 *    (including threads the plugin creates) between `create` and the return
 *    of `destroy`, with the ctx given to `create`. It must not be called after
 *    `destroy` returns.
 *
 * ---------------------------------------------------------------------------
 * RESTARTS, STOP AND HANGS
 * ---------------------------------------------------------------------------
 *  - Every start is a fresh instance: create → start → run/process → stop →
 *    destroy. A restart (by policy or operator) destroys the old instance and
 *    creates a new one with a new ctx; persistent state belongs in the
 *    key-value store or the checkpoint, not in globals.
 *  - To stop a source, the host makes should_stop() true (waking any wait()),
 *    then calls `stop` on another thread, then waits for `run` to return. The
 *    whole sequence is bounded by the instance's stop timeout (default 5 s).
 *  - A plugin that does not return from create/start (30 s), stop, run (after
 *    a stop request) or destroy within its bound is abandoned: the instance
 *    is marked `failed`, `destroy` is never called for it, its ctx stays valid
 *    (so a late host API call is harmless), and the library stays loaded.
 *    Other instances are not affected. An operator's restart creates a new
 *    instance.
 *  - Libraries are never unloaded while the host runs.
 */
#ifndef STARBLOOM_PLUGIN_H
#define STARBLOOM_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== */
/* Version and entry point                                                  */
/* ======================================================================== */

#define SB_ABI_MAJOR 1
#define SB_ABI_MINOR 1

/* The one symbol every plugin exports. Its type is sb_plugin_entry_fn. */
#define SB_PLUGIN_ENTRY_SYMBOL "starbloom_plugin_entry"

/* Mark the entry function for export when building with -fvisibility=hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define SB_EXPORT __attribute__((visibility("default")))
#else
#define SB_EXPORT
#endif

/* Capacity of every sb_message buffer, including the terminating NUL. */
#define SB_MESSAGE_CAPACITY 1024

/* ======================================================================== */
/* Basic types                                                              */
/* ======================================================================== */

/* Status codes. 0 is success; every other value is an error whose detail is
 * in the accompanying sb_message (plugin → host) or host->last_error (host →
 * plugin). Codes are append-only. */
typedef enum sb_status {
    SB_OK = 0,
    SB_ERR_INVALID_ARGUMENT = 1, /* a parameter is malformed (bad topic name, NULL where not allowed, ...) */
    SB_ERR_NOT_FOUND = 2,        /* key / checkpoint / metric does not exist */
    SB_ERR_CONFLICT = 3,         /* compare-and-swap version did not match */
    SB_ERR_FULL = 4,             /* a bounded buffer is full and the call would have to wait */
    SB_ERR_TOO_LARGE = 5,        /* a record, key or value exceeds the configured limit */
    SB_ERR_STOPPING = 6,         /* the instance is being stopped; return from run/process soon */
    SB_ERR_TIMEOUT = 7,          /* an operation did not complete in time */
    SB_ERR_UNAVAILABLE = 8,      /* a dependency (endpoint, storage) is temporarily unavailable; retry later */
    SB_ERR_INTERNAL = 9,         /* an unexpected failure inside the host or plugin */
    SB_ERR_UNSUPPORTED = 10,     /* the operation is not supported by this host or plugin */
    SB_ERR_PLUGIN = 11           /* a plugin-defined failure; the message says what */
} sb_status;

/* A borrowed UTF-8 string: `len` bytes at `ptr`, no NUL terminator required.
 * {NULL, 0} is the empty string. */
typedef struct sb_str {
    const char *ptr;
    size_t len;
} sb_str;

/* A borrowed byte buffer. {NULL, 0} is empty. */
typedef struct sb_bytes {
    const uint8_t *ptr;
    size_t len;
} sb_bytes;

/* A buffer allocated by the host and owned by the plugin once returned.
 * Release it with host->buffer_free; reading after that is undefined. */
typedef struct sb_buffer {
    uint8_t *ptr;
    size_t len;
} sb_buffer;

/* A caller-owned message buffer (see OWNERSHIP above). */
typedef struct sb_message {
    char text[SB_MESSAGE_CAPACITY];
} sb_message;

/* Opaque host context for one plugin instance. Passed to `create`; the plugin
 * passes it back on every host API call. Owned by the host; valid until the
 * instance's `destroy` returns. */
typedef struct sb_host_ctx sb_host_ctx;

/* One record header: a name and a value. */
typedef struct sb_header {
    sb_str name;
    sb_bytes value;
} sb_header;

/* A record as published by a plugin or delivered to one. */
typedef struct sb_record {
    /* Publish: destination topic (dot-separated, [A-Za-z0-9_-] segments,
     * at most 255 bytes); empty means the instance's configured output topic.
     * Delivery: the topic the record was read from. */
    sb_str topic;
    sb_bytes key;                 /* may be empty */
    sb_bytes payload;             /* may be empty */
    const sb_header *headers;     /* array of header_count entries, may be NULL when 0 */
    size_t header_count;
    int64_t event_time_ns;        /* Unix time in ns; 0 on publish = "now" */
    /* Delivery only (ignored on publish): position of the record in its topic. */
    uint64_t offset;
    uint32_t partition;
    uint32_t reserved;            /* publish: set to 0; delivery: ignore */
} sb_record;

/* A tag of a time-series point. */
typedef struct sb_tag {
    sb_str name;
    sb_str value;
} sb_tag;

/* ======================================================================== */
/* Config fields and values                                                 */
/* ======================================================================== */

/* Types of config fields and of command parameters. Append-only. */
typedef enum sb_value_type {
    SB_TYPE_STRING = 1,      /* sb_str; command parameter: const char * (NUL-terminated) */
    SB_TYPE_INT = 2,         /* int64_t */
    SB_TYPE_FLOAT = 3,       /* double (finite) */
    SB_TYPE_BOOL = 4,        /* config: int32_t 0/1; command parameter: int32_t 0/1 */
    SB_TYPE_STRING_LIST = 5  /* config only: array of sb_str */
} sb_value_type;

/* One setting the plugin accepts, declared in the descriptor. */
typedef struct sb_config_field {
    const char *name;          /* required; [a-z0-9_], unique within the plugin */
    sb_value_type type;
    int32_t required;          /* non-zero: the instance must set it (default ignored) */
    /* Default as text, parsed by the host with the field's type: "10",
     * "0.5", "true", "hello"; for STRING_LIST a comma-separated list.
     * NULL: no default (the value is then "unset" unless given). */
    const char *default_value;
    const char *doc;           /* one line shown by `starbloom plugins info`; may be NULL */
} sb_config_field;

/* One validated config value. */
typedef struct sb_config_value {
    sb_value_type type;        /* equals the declared field's type */
    int32_t is_set;            /* 0: neither given nor defaulted; the union is zero */
    union {
        sb_str string;
        int64_t integer;
        double number;
        int32_t boolean;
        struct {
            const sb_str *items;
            size_t count;
        } list;
    } as;
} sb_config_value;

/* The validated config of one instance: values[i] belongs to
 * descriptor->config_fields[i]. Owned by the host; every pointer inside stays
 * valid from `create` until `destroy` returns, so plugins need not copy. */
typedef struct sb_config {
    size_t count;              /* == descriptor->config_field_count */
    const sb_config_value *values;
    sb_str instance_name;      /* the instance this config belongs to */
} sb_config;

/* ======================================================================== */
/* Host API table                                                           */
/* ======================================================================== */

typedef enum sb_log_level {
    SB_LOG_TRACE = 0,
    SB_LOG_DEBUG = 1,
    SB_LOG_INFO = 2,
    SB_LOG_WARN = 3,
    SB_LOG_ERROR = 4
} sb_log_level;

typedef enum sb_metric_kind {
    SB_METRIC_COUNTER = 1,     /* monotonically increasing uint64 */
    SB_METRIC_GAUGE = 2,       /* a double that goes up and down */
    SB_METRIC_HISTOGRAM = 3    /* observations of a double, exposed with fixed buckets */
} sb_metric_kind;

/* Handle of a registered metric; 0 is never a valid handle. */
typedef uint32_t sb_metric_id;

/* The functions the host offers a plugin instance. Handed to `create`;
 * valid until `destroy` returns. Append-only: new functions go at the end,
 * tagged with the minor that added them; check SB_HOST_HAS before use. */
typedef struct sb_host_api {
    uint32_t struct_size;      /* sizeof(sb_host_api) as compiled into the host */
    uint16_t abi_major;        /* SB_ABI_MAJOR of the host */
    uint16_t abi_minor;        /* SB_ABI_MINOR of the host */

    /* ---- errors ---------------------------------------------------------- */

    /* The message explaining the last non-OK status that a host function
     * returned on the CALLING thread (per thread, across all contexts). Read
     * it right after the failing call: successful calls may leave it
     * unchanged. Never NULL (empty if nothing failed yet on this thread).
     * OWNERSHIP: host-owned; valid until the next host API call on this thread. */
    const char *(*last_error)(sb_host_ctx *ctx);

    /* ---- logging --------------------------------------------------------- */

    /* Writes one log line, labelled with the instance name.
     * `message` is borrowed for the call. Never fails. */
    void (*log)(sb_host_ctx *ctx, sb_log_level level, sb_str message);

    /* ---- publishing ------------------------------------------------------ */

    /* Appends one record to record->topic (or the instance's output topic if
     * empty). On SB_OK, *out_offset (if not NULL) is the record's offset.
     * All buffers in `record` are borrowed for the call; the host copies them.
     * Errors: INVALID_ARGUMENT (bad topic name, NULL record), TOO_LARGE
     * (record above the host's limit), FULL (bounded queue full and the
     * instance is configured non-blocking), STOPPING (stop requested while
     * waiting for space: nothing was published). */
    sb_status (*publish)(sb_host_ctx *ctx, const sb_record *record, uint64_t *out_offset);

    /* Appends `count` records (at most 65536) in order, all-or-nothing per
     * call. Same rules as publish. *out_published (if not NULL) receives how
     * many were appended (count on SB_OK, 0 otherwise). */
    sb_status (*publish_batch)(sb_host_ctx *ctx, const sb_record *records, size_t count,
                               size_t *out_published);

    /* ---- metrics --------------------------------------------------------- */

    /* Registers (or finds, if already registered with the same kind) a metric
     * for this instance. The host adds the labels plugin="…" and
     * instance="…". `name`: [a-z_][a-z0-9_]*, at most 128 bytes; `help` one
     * line. Errors: INVALID_ARGUMENT (bad name), CONFLICT (same name, other kind). */
    sb_status (*metric_register)(sb_host_ctx *ctx, sb_metric_kind kind, sb_str name, sb_str help,
                                 sb_metric_id *out_id);
    /* Hot-path updates: lock-free or nearly so, never fail; an unknown id or
     * a wrong kind is ignored (and counted in the host's own metrics). */
    void (*counter_add)(sb_host_ctx *ctx, sb_metric_id id, uint64_t delta);
    void (*gauge_set)(sb_host_ctx *ctx, sb_metric_id id, double value);
    void (*histogram_observe)(sb_host_ctx *ctx, sb_metric_id id, double value);

    /* ---- key-value, in the instance's own namespace ------------------------ */

    /* Every value carries a version: a positive number that increases on
     * each write and never repeats for a key, even after a delete (so a
     * compare-and-swap cannot be fooled by delete + re-create).
     * Keys at most 1024 bytes, values at most 1 MiB (TOO_LARGE).
     *
     * kv_get: on SB_OK *out_value is a new host buffer (free it with
     * buffer_free) and *out_version (if not NULL) the version.
     * Errors: NOT_FOUND. */
    sb_status (*kv_get)(sb_host_ctx *ctx, sb_bytes key, sb_buffer *out_value, uint64_t *out_version);
    /* Unconditional write. *out_version (if not NULL) gets the new version. */
    sb_status (*kv_put)(sb_host_ctx *ctx, sb_bytes key, sb_bytes value, uint64_t *out_version);
    /* Errors: NOT_FOUND if the key did not exist. */
    sb_status (*kv_delete)(sb_host_ctx *ctx, sb_bytes key);
    /* Compare-and-swap: writes only if the current version equals
     * `expected_version` (0 means "the key must not exist").
     * Errors: CONFLICT (version differs; nothing written). */
    sb_status (*kv_compare_and_swap)(sb_host_ctx *ctx, sb_bytes key, uint64_t expected_version,
                                     sb_bytes value, uint64_t *out_version);

    /* ---- checkpoints -------------------------------------------------------- */

    /* Saves the instance's checkpoint (opaque bytes, at most 1 MiB),
     * replacing the previous one. Durable when it returns SB_OK. */
    sb_status (*checkpoint_save)(sb_host_ctx *ctx, sb_bytes state);
    /* Loads the last saved checkpoint into a new host buffer (free it with
     * buffer_free). Errors: NOT_FOUND if none was ever saved. */
    sb_status (*checkpoint_load)(sb_host_ctx *ctx, sb_buffer *out_state);

    /* ---- time series -------------------------------------------------------- */

    /* Writes one point: metric name + tags (borrowed), timestamp (Unix ns),
     * value (finite). The host adds the tag instance="…".
     * Errors: INVALID_ARGUMENT (NaN/Inf, empty name, more than 32 tags,
     * NULL tags with a non-zero count). */
    sb_status (*timeseries_write)(sb_host_ctx *ctx, sb_str metric, const sb_tag *tags, size_t tag_count,
                                  int64_t timestamp_ns, double value);

    /* ---- clock -------------------------------------------------------------- */

    int64_t (*now_unix_ns)(sb_host_ctx *ctx);  /* wall clock */
    int64_t (*monotonic_ns)(sb_host_ctx *ctx); /* monotonic, for durations */

    /* ---- cooperative shutdown ----------------------------------------------- */

    /* Non-zero once the host wants this instance to stop. Cheap (one atomic
     * load); sources poll it in their run loop. */
    int32_t (*should_stop)(sb_host_ctx *ctx);
    /* Sleeps up to timeout_ns, returning early when a stop is requested.
     * Returns non-zero if a stop was requested, 0 if the timeout elapsed.
     * Use it instead of sleep() so that stop is prompt. */
    int32_t (*wait)(sb_host_ctx *ctx, uint64_t timeout_ns);

    /* ---- memory ------------------------------------------------------------- */

    /* Releases a buffer returned by the host; sets it to {NULL, 0}.
     * Passing {NULL, 0} is a no-op. */
    void (*buffer_free)(sb_host_ctx *ctx, sb_buffer *buffer);

    /* ---- transactional publishing (since 1.1) ------------------------------ */

    /* Appends `count` records (at most 65536 and 64 MiB of topics, keys,
     * payloads and headers) AND saves `state` as the instance's checkpoint, as
     * one transaction: whatever happens (an error, kill -9, power loss), once
     * the host has restarted the instance, either every record is in its topic
     * exactly once and checkpoint_load returns `state`, or none of them is and
     * the checkpoint is the previous one. A source that resumes from its
     * checkpoint therefore publishes each record exactly once. `count` 0 saves
     * the checkpoint only.
     * SB_OK means COMMITTED: the records are durable in the host's pending
     * store and the checkpoint is saved; the host appends the records in the
     * background, in order, all of them before any record of a later call
     * (so a consumer may see them a moment after the call returns; the next
     * call overlaps this append). Each record gets one more header,
     * "starbloom-txn" = "<instance>:<n>", n counting the instance's
     * transactional records from 1. Buffers are borrowed for the call.
     * Records keep their order per topic partition; records whose
     * event_time_ns is 0 get the call's time.
     * Errors:
     *  - INVALID_ARGUMENT (bad topic, NULL records with count > 0, too many,
     *    a NULL pointer with a non-zero length, 65535 or more headers),
     *    TOO_LARGE (a record above its topic's limit counting the tag header,
     *    more than 64 MiB, a state above 1 MiB): checked first; nothing was
     *    published or saved.
     *  - CONFLICT: the background append of an earlier call failed (the
     *    message says why); nothing of this call was published or saved.
     *    Return from run with an error: before the instance starts again the
     *    host appends the committed records that are missing (found by their
     *    header), so checkpoint_load at the next start tells where to resume.
     *  - UNAVAILABLE (storage failed): the checkpoint may or may not be
     *    saved; return from run likewise.
     *  - STOPPING: the host abandoned this run (a call of it hung past its
     *    bound); nothing was published or saved.
     * Use it instead of publish_batch + checkpoint_save, which repeat records
     * published before a crash that came before the checkpoint. */
    sb_status (*publish_batch_checkpoint)(sb_host_ctx *ctx, const sb_record *records, size_t count,
                                          sb_bytes state);

    /* New functions are appended here, each tagged "since 1.N". */
} sb_host_api;

/* True when the host table is large enough to contain `member`. */
#define SB_HOST_HAS(host, member) \
    ((host) != NULL && (size_t)(host)->struct_size >= offsetof(sb_host_api, member) + sizeof((host)->member))

/* ======================================================================== */
/* Plugin descriptor                                                        */
/* ======================================================================== */

typedef enum sb_plugin_kind {
    SB_KIND_SOURCE = 1,     /* produces records: implements run */
    SB_KIND_PROCESSOR = 2,  /* transforms records: implements process */
    SB_KIND_SINK = 3        /* consumes records: implements process, emits nothing */
} sb_plugin_kind;

typedef enum sb_health {
    SB_HEALTH_OK = 0,
    SB_HEALTH_DEGRADED = 1,  /* working but impaired (lagging, retrying); shown as `degraded` */
    SB_HEALTH_FAILING = 2    /* not working; the host treats it as a failure and applies the restart policy */
} sb_health;

/* Passed to `process` (never NULL, also for sinks): how a processor hands
 * out results. Valid only during the `process` call it was passed to.
 * A sink's emit returns SB_ERR_UNSUPPORTED; reject works for both. */
typedef struct sb_emitter {
    void *ctx; /* host-owned; pass it back unchanged */
    /* Emits one output record. Buffers are borrowed for the call (the host
     * copies them). The record is checked at once (topic name, size):
     * errors INVALID_ARGUMENT and TOO_LARGE as host->publish. The host
     * appends what one `process` call emitted after the call returns SB_OK,
     * in emit order, with one append per topic (nothing if the call failed:
     * the batch is delivered again); so FULL and STOPPING never come from
     * emit, and a record emitted before a direct host->publish in the same
     * call lands after it. A call that emits more than 64 MiB has the
     * excess appended as it goes (then a failed call may leave some of its
     * records published). Pipeline processor steps keep each emitted
     * record with the event it came from instead. */
    sb_status (*emit)(void *ctx, const sb_record *record);
    /* Rejects input record `index` (position in the batch) with a reason:
     * the host retries it and, after the configured number of deliveries,
     * sends it to the dead-letter topic with `reason` in a header.
     * Errors: INVALID_ARGUMENT (index out of range). */
    sb_status (*reject)(void *ctx, size_t index, sb_str reason);
} sb_emitter;

/* An operator command a plugin offers (see `commands` in the descriptor).
 * The host calls `fn` through libffi with this C signature:
 *
 *     sb_status fn(void *instance, sb_message *reply, P1 p1, P2 p2, ...);
 *
 * where each Pi is the C type of params[i].type: STRING → const char *
 * (NUL-terminated, borrowed for the call), INT → int64_t, FLOAT → double,
 * BOOL → int32_t. STRING_LIST is not allowed as a parameter. `reply`
 * receives the text shown to the operator on success or failure.
 * The host checks argument count and types before calling; a mismatch is
 * reported to the operator and `fn` is not called. Commands are called only
 * while the instance is created (between create and destroy). */
typedef struct sb_command_param {
    const char *name;
    sb_value_type type;
    const char *doc; /* may be NULL */
} sb_command_param;

typedef struct sb_command {
    const char *name;              /* [a-z0-9-_], unique within the plugin */
    const char *doc;               /* one line; may be NULL */
    const sb_command_param *params;
    size_t param_count;            /* at most 16 */
    void (*fn)(void);              /* cast to the signature above */
} sb_command;

typedef struct sb_plugin_descriptor {
    uint32_t struct_size;     /* sizeof(sb_plugin_descriptor) as compiled into the plugin */
    uint16_t abi_major;       /* SB_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor;       /* SB_ABI_MINOR the plugin was built with */

    const char *name;         /* required; [a-z0-9_-], 1..64 bytes; unique among loaded plugins */
    const char *version;      /* required; free text, e.g. "1.2.0" */
    sb_plugin_kind kind;
    const char *description;  /* one line; may be NULL */

    const sb_config_field *config_fields; /* may be NULL when the count is 0 */
    size_t config_field_count;

    /* Creates an instance. `host` and `ctx` stay valid until destroy
     * returns; `config` too (see sb_config). On SB_OK *out_instance is the
     * plugin's state pointer, passed to every other call. On error, write
     * the reason to `error`; *out_instance is ignored and destroy is not
     * called. Required. */
    sb_status (*create)(const sb_host_api *host, sb_host_ctx *ctx, const sb_config *config,
                        void **out_instance, sb_message *error);

    /* Prepares to work (open connections, load checkpoints). An error is a
     * failed start: the host calls destroy and applies the restart policy.
     * Optional (NULL = nothing to do). */
    sb_status (*start)(void *instance, sb_message *error);

    /* SOURCES ONLY; required for them. Runs until host->should_stop() is
     * true or an error occurs, on a dedicated host thread. Returning SB_OK
     * while no stop was requested means "finished" (restart policy `always`
     * restarts it). An error return is a failure (restart policy applies). */
    sb_status (*run)(void *instance, sb_message *error);

    /* PROCESSORS AND SINKS ONLY; required for them. Handles `count` records
     * (borrowed for the call), emitting outputs through `emitter`. An error
     * return fails the whole batch (it is redelivered after the restart
     * policy acts); to fail single records use emitter->reject. */
    sb_status (*process)(void *instance, const sb_record *records, size_t count,
                         const sb_emitter *emitter, sb_message *error);

    /* Asks the instance to stop: called after should_stop became true, from
     * a thread other than run's, to interrupt blocking work. Must return
     * promptly; the host waits at most the instance's stop timeout for run
     * to return, then marks the instance failed. Optional. */
    sb_status (*stop)(void *instance, sb_message *error);

    /* Frees the instance. Called once, after run/process have returned for
     * the last time. No host API call may follow. Required. */
    void (*destroy)(void *instance);

    /* Reports health; called periodically (default every second) on a host
     * thread once `start` has returned OK and until `stop` is called,
     * concurrently with run/process. Write a reason to `detail` when not OK.
     * Optional (NULL = always OK while running). */
    sb_health (*health)(void *instance, sb_message *detail);

    /* Operator commands (may be NULL when the count is 0). */
    const sb_command *commands;
    size_t command_count;

    /* Fields appended in later minors go here, each tagged "since 1.N". */
} sb_plugin_descriptor;

/* The size of a descriptor built against ABI 1.0: everything up to and
 * including `command_count`. A host of any 1.x accepts descriptors of at
 * least this size and reads fields beyond it only when struct_size covers them. */
#define SB_DESCRIPTOR_SIZE_1_0 (offsetof(sb_plugin_descriptor, command_count) + sizeof(size_t))

/* The entry symbol's type. Must return the same pointer on every call and
 * do nothing else (no allocation, no threads, no I/O): it runs before the
 * host has checked the descriptor. Returning NULL refuses loading. */
typedef const sb_plugin_descriptor *(*sb_plugin_entry_fn)(void);

#if !defined(__swift__)
/* The prototype every C plugin defines (with SB_EXPORT), so the compiler
 * checks its signature. Not declared for Swift, which exports the symbol
 * with @_cdecl("starbloom_plugin_entry"). */
SB_EXPORT const sb_plugin_descriptor *starbloom_plugin_entry(void);
#endif

/* Initializer for the common descriptor prefix. */
#define SB_DESCRIPTOR_HEADER \
    sizeof(sb_plugin_descriptor), SB_ABI_MAJOR, SB_ABI_MINOR

/* An sb_str initializer for a string literal, usable in static tables:
 *     static const sb_str topic = SB_STR_INIT("demo.events");
 * (Use {p, strlen(p)} for pointers: sizeof of a pointer is not its length.) */
#define SB_STR_INIT(literal) { (literal), sizeof(literal) - 1 }

/* An sb_str expression for a string literal, for calls:
 *     host->log(ctx, SB_LOG_INFO, SB_STR("started"));
 * (A C99 compound literal: not for static initializers; use SB_STR_INIT there.) */
#define SB_STR(literal) ((sb_str){ (literal), sizeof(literal) - 1 })

/* Writing a message: snprintf(msg->text, SB_MESSAGE_CAPACITY, "...", ...).
 * This header includes nothing beyond <stddef.h> and <stdint.h> on purpose. */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* STARBLOOM_PLUGIN_H */

#ifndef STARBLOOM_SUPPORT_H
#define STARBLOOM_SUPPORT_H
#include <stddef.h>
#include <stdint.h>

/* CRC-32C (Castagnoli), as used by iSCSI/ext4/Kafka record batches. Uses the SSE4.2 instruction
 * when the CPU has it, a table otherwise. `crc` is the running value (start with 0). */
uint32_t sb_crc32c(uint32_t crc, const void *data, size_t length);

/* Linux fallocate without changing semantics of the file size (mode 0): reserves blocks so later
 * overwrites do not allocate. Returns 0 or an errno value. */
int sb_preallocate(int fd, int64_t offset, int64_t length);

/* Linux sync_file_range(SYNC_FILE_RANGE_WRITE): starts writeback of the dirty pages in the range
 * and returns without waiting for it. Durability still needs fdatasync; this only lets the disk
 * work while the caller copies the next bytes. Returns 0 or an errno value. */
int sb_start_writeback(int fd, int64_t offset, int64_t length);
#endif

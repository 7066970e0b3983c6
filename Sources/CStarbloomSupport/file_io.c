#define _GNU_SOURCE
#include "starbloom_support.h"
#include <errno.h>
#include <fcntl.h>

int sb_preallocate(int fd, int64_t offset, int64_t length) {
    if (fallocate(fd, 0, offset, length) == 0) return 0;
    return errno;
}

int sb_start_writeback(int fd, int64_t offset, int64_t length) {
    if (sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE) == 0) return 0;
    return errno;
}

/*
 * file.c - whole-file reads with a size cap, atomic writes (temp + fsync +
 * rename, so readers never see half a file), directory creation, clocks and
 * UUIDs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "core.h"

mlc_status core_read_file(const char *path, size_t max, char **data_out, size_t *n_out,
                          mlc_error *err)
{
    mlc_status st = MLC_OK;
    char *data = NULL;
    /* O_NONBLOCK: opening a FIFO (a path a user or request names) would
     * otherwise wait forever for a writer; it is refused below as not a
     * regular file. Regular files ignore the flag. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        st = core_err(err, errno == ENOENT ? MLC_STATUS_NOT_FOUND : MLC_STATUS_IO,
                      "cannot open '%s': %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = core_err(err, MLC_STATUS_IO, "'%s' is not a regular file", path);
        goto fail;
    }
    if (!max) {
        mlc_limits l;
        mlc_limits_default(&l);
        max = l.max_input_bytes;
    }
    if ((uint64_t)sb.st_size > max) {
        st = core_err(err, MLC_STATUS_LIMIT, "'%s' is %lld bytes, more than the limit of %zu", path,
                      (long long)sb.st_size, max);
        goto fail;
    }
    size_t n = (size_t)sb.st_size;
    data = mlc_alloc(n + 1);
    if (!data) {
        st = core_err(err, MLC_STATUS_NO_MEMORY, "out of memory reading '%s'", path);
        goto fail;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, data + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            st = core_err(err, MLC_STATUS_IO, "cannot read '%s': %s", path,
                          k < 0 ? strerror(errno) : "file shrank while reading");
            goto fail;
        }
        got += (size_t)k;
    }
    data[n] = '\0';
    close(fd);
    *data_out = data;
    *n_out = n;
    return MLC_OK;
fail:
    if (fd >= 0) close(fd);
    mlc_free(data);
    return st;
}

mlc_status core_write_file_atomic(const char *path, const void *data, size_t n, mlc_error *err)
{
    mlc_status st = MLC_OK;
    /* pid + a process-wide counter: two threads writing one path never
     * share (and truncate) each other's temp file. */
    static atomic_ulong seq;
    char *tmp = core_sprintf("%s.tmp.%ld.%lu", path, (long)getpid(), atomic_fetch_add(&seq, 1));
    int fd = -1;
    if (!tmp) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = core_err(err, MLC_STATUS_IO, "cannot create '%s': %s", tmp, strerror(errno));
        goto fail;
    }
    const char *p = data;
    size_t left = n;
    while (left) {
        ssize_t k = write(fd, p, left);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            st = core_err(err, MLC_STATUS_IO, "cannot write '%s': %s", tmp, strerror(errno));
            goto fail;
        }
        p += k;
        left -= (size_t)k;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        st = core_err(err, MLC_STATUS_IO, "cannot flush '%s': %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = core_err(err, MLC_STATUS_IO, "cannot rename '%s' to '%s': %s", tmp, path,
                      strerror(errno));
        goto fail;
    }
    mlc_free(tmp);
    return MLC_OK;
fail:
    if (fd >= 0) close(fd);
    if (tmp) unlink(tmp);
    mlc_free(tmp);
    return st;
}

int core_file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int core_dir_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

mlc_status core_mkdirs(const char *path, mlc_error *err)
{
    if (!path || !*path)
        return core_err(err, MLC_STATUS_INVALID_ARGUMENT, "cannot create a directory: empty path");
    char *p = core_strdup(path);
    if (!p) return core_err(err, MLC_STATUS_NO_MEMORY, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                mlc_status st = core_err(err, MLC_STATUS_IO, "cannot create directory '%s': %s", p,
                                         strerror(errno));
                mlc_free(p);
                return st;
            }
            *s = c;
            if (!c) break;
        }
    }
    mlc_free(p);
    /* mkdir's EEXIST also covers a regular file in the way */
    if (!core_dir_exists(path))
        return core_err(err, MLC_STATUS_IO, "cannot create directory '%s': a file is in the way",
                        path);
    return MLC_OK;
}

double core_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void core_uuid4(char buf[37])
{
    uuid_t u;
    uuid_generate_random(u);
    uuid_unparse_lower(u, buf);
}

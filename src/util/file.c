#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return TO_EIO;
        }
        c += w;
        n -= (size_t)w;
    }
    return TO_OK;
}

int write_file_atomic(const char *path, const void *p, size_t n, unsigned mode)
{
    buf_t tmp = BUF_INIT;
    buf_printf(&tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        buf_clear(&tmp);
        return errno == EACCES ? TO_EPERM : TO_EIO;
    }
    int rc = TO_OK;
    if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, p, n) != 0 || fsync(fd) != 0) rc = TO_EIO;
    if (close(fd) != 0) rc = TO_EIO;
    if (rc == TO_OK && rename(buf_cstr(&tmp), path) != 0) rc = TO_EIO;
    if (rc != TO_OK) unlink(buf_cstr(&tmp));
    buf_clear(&tmp);
    return rc;
}

/* POSIX calls that wasi-libc lacks and the benchmarked programs link against, for paths
 * the benchmark never takes (changing a file's mode or owner, resolving a real path): each
 * fails with ENOSYS, as a missing system call would. */
#include <errno.h>
#include <sys/stat.h>
#include <sys/types.h>

char *realpath(const char *path, char *resolved) {
    (void)path;
    (void)resolved;
    errno = ENOSYS;
    return 0;
}

int chmod(const char *path, mode_t mode) {
    (void)path;
    (void)mode;
    errno = ENOSYS;
    return -1;
}

int fchmod(int fd, mode_t mode) {
    (void)fd;
    (void)mode;
    errno = ENOSYS;
    return -1;
}

int fchown(int fd, uid_t owner, gid_t group) {
    (void)fd;
    (void)owner;
    (void)group;
    errno = ENOSYS;
    return -1;
}

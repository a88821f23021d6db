#define _POSIX_C_SOURCE 200809L

#include "private_file.h"

#include "errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PRIVATE_FILE_MODE 0600

int at_private_file_create(const char *path, char *err, size_t err_cap)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                  PRIVATE_FILE_MODE);
    if (fd < 0) {
        if (errno == ELOOP)
            at_err_set(err, err_cap,
                       "%s: is a symbolic link; refusing to write through it "
                       "(the output may hold private keys)",
                       path);
        else
            at_err_set(err, err_cap, "%s: %s", path, strerror(errno));
        return -1;
    }

    /* The mode given to open() applies only to a new file (and is reduced
     * by the umask): an existing file keeps whatever it had. Only regular
     * files are changed: a device (/dev/null, a tty) or a FIFO is the
     * caller's choice and must not have its permissions rewritten. */
    struct stat st;
    if (fstat(fd, &st) != 0) {
        at_err_set(err, err_cap, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (S_ISREG(st.st_mode) && (st.st_mode & 07777) != PRIVATE_FILE_MODE &&
        fchmod(fd, PRIVATE_FILE_MODE) != 0) {
        at_err_set(err, err_cap,
                   "%s: cannot restrict its permissions to 0600 (%s); the output "
                   "may hold private keys",
                   path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "ektp_sys.h"

/* accept4 with SOCK_CLOEXEC: no window in which a forked child inherits the connection. */
int ektp_accept_cloexec(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC); }

int ektp_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC | O_NONBLOCK); }

#include <sys/ioctl.h>
int ektp_ioctl_ptr(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }

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

#include <signal.h>
#include <string.h>
static volatile sig_atomic_t ektp_early_stop = 0;
static void ektp_on_early_signal(int sig) { (void)sig; ektp_early_stop = 1; }
void ektp_early_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ektp_on_early_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}
int ektp_early_signal_seen(void) { return ektp_early_stop; }

#include <pthread.h>
int ektp_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }

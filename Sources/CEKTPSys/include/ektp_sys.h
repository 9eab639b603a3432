#pragma once
/* Linux calls that Swift's Glibc module hides without _GNU_SOURCE. */
int ektp_accept_cloexec(int fd);
int ektp_pipe_cloexec(int fds[2]);
/* ioctl with a pointer argument (Swift cannot call the variadic one). */
int ektp_ioctl_ptr(int fd, unsigned long request, void *arg);
/* SIGTERM/SIGINT before the service group listens (hardening r10): a handler that only records it. */
void ektp_early_signals_install(void);
int ektp_early_signal_seen(void);
/* Names the calling thread (15 bytes at most), as ps -L and /proc/self/task/N/comm show it. */
int ektp_set_thread_name(const char *name);

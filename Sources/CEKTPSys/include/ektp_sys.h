#pragma once
/* Linux calls that Swift's Glibc module hides without _GNU_SOURCE. */
int ektp_accept_cloexec(int fd);
int ektp_pipe_cloexec(int fds[2]);
/* ioctl with a pointer argument (Swift cannot call the variadic one). */
int ektp_ioctl_ptr(int fd, unsigned long request, void *arg);

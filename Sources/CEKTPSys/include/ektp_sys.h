#pragma once
/* Linux calls that Swift's Glibc module hides without _GNU_SOURCE. */
int ektp_accept_cloexec(int fd);
int ektp_pipe_cloexec(int fds[2]);
/* ioctl with a pointer argument (Swift cannot call the variadic one). */
int ektp_ioctl_ptr(int fd, unsigned long request, void *arg);
/* SIGTERM and SIGINT for the whole life of a daemon: one handler, installed once (at load for
 * `ektpd run`) and never replaced. It writes the signal's number (one byte) to a
 * non-blocking close-on-exec pipe, whose read end ektp_stop_signal_fd returns (-1 before install or
 * when pipe2 failed). SA_RESTART. Why never replaced: libdispatch's signal sources (which
 * swift-service-lifecycle uses) install their own handler later, from another thread, and a SIGTERM
 * around that swap was not acted on (the daemon went on running; seen 3 times under load). */
void ektp_early_signals_install(void);
int ektp_stop_signal_fd(void);
/* Names the calling thread (15 bytes at most), as ps -L and /proc/self/task/N/comm show it. */
int ektp_set_thread_name(const char *name);
/* GNU gettext through glibc (issue 18): messages follow LANGUAGE / LC_ALL / LC_MESSAGES / LANG.
 * Sets LC_MESSAGES and LC_CTYPE from the environment (never LC_NUMERIC: numbers stay C) and binds
 * DOMAIN to DIR. When the user's locale is not generated on this machine (Debian without
 * locale-gen), messages are still chosen by its language: LC_MESSAGES becomes C.UTF-8 and LANGUAGE
 * is set from the locale's name, as glibc honours LANGUAGE for any locale but "C".
 * Returns 1 when the environment's locale was set as asked, 0 when the fallback was used. */
int ektp_intl_setup(const char *domain, const char *dir);
/* dgettext: the translation of MSGID in DOMAIN, or MSGID itself. */
const char *ektp_dgettext(const char *domain, const char *msgid);
/* Unmaps from this process the pages of its clean, read-only, private file mappings (the program's
 * and libraries' code and constants: every mapping in /proc/self/smaps that is not writable, is
 * backed by a file, has no Anonymous (copy-on-write) pages and no Locked ones) with
 * madvise(MADV_DONTNEED). Their content is unchanged: the pages stay in the page cache and the
 * next use maps them again (a minor fault). Writable mappings, RELRO written at load, anonymous
 * memory and shared mappings are never touched. Then malloc_trim(0) gives the heaps' free pages
 * back. Returns the bytes advised, -1 when
 * /proc/self/smaps cannot be read. Reentrant; another thread running code in an advised page
 * faults it back in. */
long ektp_trim_file_mappings(void);
/* posix_spawn_file_actions_addclosefrom_np (glibc 2.34+): the child closes every descriptor from `from` on. */
#include <spawn.h>
int ektp_spawn_closefrom(posix_spawn_file_actions_t *actions, int from);

#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <malloc.h>
#include <stdlib.h>
#include "ektp_sys.h"

/* accept4 with SOCK_CLOEXEC: no window in which a forked child inherits the connection. */
int ektp_accept_cloexec(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC); }

int ektp_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC | O_NONBLOCK); }

#include <sys/ioctl.h>
int ektp_ioctl_ptr(int fd, unsigned long request, void *arg) { return ioctl(fd, request, arg); }

#include <errno.h>
#include <signal.h>
#include <string.h>
static int ektp_stop_pipe[2] = {-1, -1};
/* Writes the signal's number to the stop pipe (write(2) is async-signal-safe; a full pipe, 64 KiB
 * of unread signals, drops the byte). errno is kept for the code the signal interrupted. */
static void ektp_on_stop_signal(int sig) {
    int saved = errno;
    if (ektp_stop_pipe[1] >= 0) {
        unsigned char b = (unsigned char)sig;
        ssize_t n = write(ektp_stop_pipe[1], &b, 1);
        (void)n;
    }
    errno = saved;
}
static int ektp_stop_installed = 0;
void ektp_early_signals_install(void) {
    /* Once: the constructor, main and the daemon each ask; the first call does it (at load,
     * before any other thread exists, for `ektpd run`). */
    if (ektp_stop_installed) return;
    ektp_stop_installed = 1;
    if (ektp_stop_pipe[0] < 0 && pipe2(ektp_stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        ektp_stop_pipe[0] = ektp_stop_pipe[1] = -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ektp_on_stop_signal;
    /* SA_RESTART: a read or write the signal interrupts goes on instead of failing with EINTR
     * (3 of 80 SIGTERMs at 0 ms under load ended in exit 4: a config read that failed). */
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}
int ektp_stop_signal_fd(void) { return ektp_stop_pipe[0]; }

/* `ektpd run`: the early handler goes in before anything else runs (the dynamic loader has
 * finished, the Swift runtime and main have not started), so a SIGTERM in the first milliseconds
 * still means "stop cleanly" (hardening r10: a signal 2 ms after spawn gave exit 143 in 21 of 40
 * starts while the handler waited for main). glibc passes argc/argv to constructors. */
__attribute__((constructor)) static void ektp_early_signals_at_load(int argc, char **argv, char **envp) {
    (void)envp;
    if (argc < 2 || argv == NULL || argv[0] == NULL || argv[1] == NULL) return;
    const char *slash = strrchr(argv[0], '/');
    const char *name = slash ? slash + 1 : argv[0];
    if (strcmp(name, "ektpd") == 0 && strcmp(argv[1], "run") == 0) {
        ektp_early_signals_install();
        /* One malloc arena for the daemon, set before any thread exists. glibc gives each thread
         * that allocates while another holds the lock an arena of its own (up to 8 a core), and
         * each keeps its own free pages and fragments: the thread that delivers over HTTPS held
         * 0.4-0.7 MB of OpenSSL's and libcurl's in a second arena. Measured with
         * MALLOC_ARENA_MAX=1 (Benchmarks/footprint.py 20 40): idle PSS delivering over HTTPS
         * 8.9 -> 8.5 MB, without a registry 7.8 -> 7.7 MB. The daemon allocates little and seldom
         * (a few reports a minute), so the shared lock costs nothing measurable; the environment's
         * MALLOC_ARENA_MAX, if set, is glibc's to honour instead. */
        if (getenv("MALLOC_ARENA_MAX") == NULL) mallopt(M_ARENA_MAX, 1);
    }
}

#include <pthread.h>
int ektp_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }

#include <libintl.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

int ektp_intl_setup(const char *domain, const char *dir) {
    setlocale(LC_CTYPE, "");
    int ok = setlocale(LC_MESSAGES, "") != NULL;
    if (!ok) {
        const char *name = getenv("LC_ALL");
        if (name == NULL || *name == 0) name = getenv("LC_MESSAGES");
        if (name == NULL || *name == 0) name = getenv("LANG");
        if (setlocale(LC_MESSAGES, "C.UTF-8") == NULL) setlocale(LC_MESSAGES, "C");
        setlocale(LC_CTYPE, "C.UTF-8");
        const char *have = getenv("LANGUAGE");
        if (name != NULL && *name != 0 && strcmp(name, "C") != 0 && strcmp(name, "POSIX") != 0 && (have == NULL || *have == 0)) {
            char lang[64];
            size_t n = 0;
            while (name[n] != 0 && name[n] != '.' && name[n] != '@' && n < sizeof lang - 1) { lang[n] = name[n]; n++; }
            lang[n] = 0;
            if (n > 0) setenv("LANGUAGE", lang, 1);
        }
    }
    bindtextdomain(domain, dir);
    bind_textdomain_codeset(domain, "UTF-8");
    return ok;
}

const char *ektp_dgettext(const char *domain, const char *msgid) {
    return dgettext(domain, msgid);
}

#include <malloc.h>
#include <stdio.h>
#include <sys/mman.h>

/* See ektp_sys.h. Reads /proc/self/smaps whole first, then advises: the list does not change
 * under the reader. At most 1,024 mappings are advised (a daemon has about 150). */
long ektp_trim_file_mappings(void) {
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f) return -1;
    enum { MAX = 1024 };
    unsigned long starts[MAX], ends[MAX];  /* 16 KiB of stack: reentrant */
    int n = 0;
    char line[4352];
    unsigned long start = 0, end = 0;
    int eligible = 0;
    long anonymous = -1, locked = -1;
#define DECIDE() do { \
        if (eligible && anonymous == 0 && locked == 0 && n < MAX) { starts[n] = start; ends[n] = end; n++; } \
    } while (0)
    while (fgets(line, sizeof line, f)) {
        unsigned long s, e, inode;
        char perms[5];
        int path_at = 0;
        if (sscanf(line, "%lx-%lx %4s %*s %*s %lu %n", &s, &e, perms, &inode, &path_at) == 4) {
            DECIDE();
            start = s; end = e;
            /* Read-only, private, backed by a file: its pages are the file's, unless written
             * before a mprotect (RELRO), which shows as Anonymous > 0 below. */
            eligible = perms[1] != 'w' && perms[3] == 'p' && inode != 0 && path_at > 0 && line[path_at] == '/';
            anonymous = -1; locked = -1;
        } else if (strncmp(line, "Anonymous:", 10) == 0) {
            anonymous = strtol(line + 10, NULL, 10);
        } else if (strncmp(line, "Locked:", 7) == 0) {
            locked = strtol(line + 7, NULL, 10);
        }
    }
    DECIDE();
#undef DECIDE
    fclose(f);
    long advised = 0;
    /* The heap's free pages too (every arena's, not only the top: glibc 2.8 and later). */
    malloc_trim(0);
    for (int i = 0; i < n; i++) {
        if (madvise((void *)starts[i], ends[i] - starts[i], MADV_DONTNEED) == 0) advised += (long)(ends[i] - starts[i]);
    }
    return advised;
}

#include <spawn.h>
int ektp_spawn_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

/* Hosts a umockdev testbed and a command inside it, and plugs and unplugs emulated devices on
 * request, so tests can drive hotplug of a running ektpd.
 *
 *   umockdev-wrapper ./testbed-helper -- COMMAND ARGS...
 *
 * Reads lines on stdin:  add FILE.umockdev SYSPATH | remove SYSPATH | ioctl DEVNODE FILE.ioctl |
 *                        chmod MODE | quit
 * and answers "ok" or "error: ..." on stdout after each. Built by the tests with cc and
 * `pkg-config --cflags --libs umockdev-1.0`.
 */
#define _XOPEN_SOURCE 700
#include <umockdev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <ftw.h>
#include <sys/prctl.h>

static mode_t node_mode;

/* remove_device leaves the bus and class links of the device and its interfaces behind, and
 * adding the same port again would then fail: drop every link that now points nowhere. */
static int drop_dangling(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void) sb; (void) ftw;
    struct stat target;
    if (flag == FTW_SL && stat(path, &target) != 0) unlink(path);
    return 0;
}
static int chmod_node(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void) sb; (void) ftw;
    if (flag == FTW_F || flag == FTW_SL) chmod(path, node_mode);
    return 0;
}

int main(int argc, char **argv) {
    int cmd = 1;
    while (cmd < argc && strcmp(argv[cmd], "--") != 0) cmd++;
    if (cmd >= argc - 1) { fprintf(stderr, "usage: testbed-helper -- COMMAND ARGS...\n"); return 2; }
    /* A test runner may have left SIGTERM ignored; this helper must die by it. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    UMockdevTestbed *tb = umockdev_testbed_new();
    setvbuf(stdout, NULL, _IOLBF, 0);
    pid_t child = fork();
    if (child == 0) { prctl(PR_SET_PDEATHSIG, SIGTERM); execvp(argv[cmd + 1], argv + cmd + 1); perror("exec"); _exit(127); }
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        char a[64] = {0}, b[2048] = {0}, c[2048] = {0};
        int n = sscanf(line, "%63s %2047s %2047s", a, b, c);
        GError *err = NULL;
        if (n >= 3 && strcmp(a, "add") == 0) {
            if (!umockdev_testbed_add_from_file(tb, b, &err)) { printf("error: %s\n", err->message); g_clear_error(&err); continue; }
            umockdev_testbed_uevent(tb, c, "add");
            printf("ok\n");
        } else if (n >= 2 && strcmp(a, "remove") == 0) {
            umockdev_testbed_uevent(tb, b, "remove");
            umockdev_testbed_remove_device(tb, b);
            char sys[4096];
            snprintf(sys, sizeof sys, "%s/sys", umockdev_testbed_get_root_dir(tb));
            nftw(sys, drop_dangling, 16, FTW_PHYS);
            printf("ok\n");
        } else if (n >= 3 && strcmp(a, "ioctl") == 0) {
            if (!umockdev_testbed_load_ioctl(tb, b, c, &err)) { printf("error: %s\n", err->message); g_clear_error(&err); continue; }
            printf("ok\n");
        } else if (n >= 2 && strcmp(a, "chmod") == 0) {
            node_mode = (mode_t) strtol(b, NULL, 8);
            char dev[4096];
            snprintf(dev, sizeof dev, "%s/dev", umockdev_testbed_get_root_dir(tb));
            nftw(dev, chmod_node, 16, 0);
            printf("ok\n");
        } else if (n >= 1 && strcmp(a, "quit") == 0) {
            break;
        } else {
            printf("error: unknown command\n");
        }
    }
    kill(child, SIGTERM);
    int status = 0;
    waitpid(child, &status, 0);
    printf("exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    g_object_unref(tb);
    return 0;
}

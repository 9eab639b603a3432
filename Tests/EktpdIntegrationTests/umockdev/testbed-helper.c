/* Hosts a umockdev testbed and a command inside it, and plugs and unplugs emulated devices on
 * request, so tests can drive hotplug of a running ektpd.
 *
 *   umockdev-wrapper ./testbed-helper -- COMMAND ARGS...
 *
 * Reads lines on stdin:  add FILE.umockdev SYSPATH | remove SYSPATH | ioctl DEVNODE FILE.ioctl |
 *                        lpstatus DEVNODE HEXBYTE | v4l2 DEVNODE capture|meta | chmod MODE | quit
 * lpstatus and v4l2 make the node answer usblp's LPGETSTATUS (the printer class port status byte)
 * and VIDIOC_QUERYCAP as a printer and a UVC camera do; sending them again changes the answer.
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
#include <errno.h>
#include <ftw.h>
#include <sys/prctl.h>
#include <linux/videodev2.h>
#define LPGETSTATUS 0x060b

static mode_t node_mode;
static GHashTable *answers;  /* devnode -> answer (port status byte, or V4L2 device caps) */

static gboolean on_ioctl(UMockdevIoctlBase *h, UMockdevIoctlClient *c, gpointer data) {
    (void) h; (void) data;
    gulong req = umockdev_ioctl_client_get_request(c);
    const char *node = umockdev_ioctl_client_get_devnode(c);
    GError *err = NULL;
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(c);
    guint answer = GPOINTER_TO_UINT(g_hash_table_lookup(answers, node));
    if (req == LPGETSTATUS) {
        UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(int), &err);
        if (!d) { g_clear_error(&err); return FALSE; }
        int status = (int) (answer & 0xff);
        umockdev_ioctl_data_update(d, 0, (guint8 *) &status, sizeof status);
        umockdev_ioctl_client_complete(c, 0, 0);
        return TRUE;
    }
    if (req == VIDIOC_QUERYCAP) {
        UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct v4l2_capability), &err);
        if (!d) { g_clear_error(&err); return FALSE; }
        struct v4l2_capability cap;
        memset(&cap, 0, sizeof cap);
        strcpy((char *) cap.driver, "uvcvideo");
        strcpy((char *) cap.card, "UVC Camera");
        cap.device_caps = answer;
        cap.capabilities = answer | V4L2_CAP_DEVICE_CAPS;
        umockdev_ioctl_data_update(d, 0, (guint8 *) &cap, sizeof cap);
        umockdev_ioctl_client_complete(c, 0, 0);
        return TRUE;
    }
    umockdev_ioctl_client_complete(c, -1, ENOTTY);
    return TRUE;
}

static gboolean set_answer(UMockdevTestbed *tb, UMockdevIoctlBase *handler, const char *node, guint value) {
    GError *err = NULL;
    if (!g_hash_table_contains(answers, node)) {
        if (!umockdev_testbed_attach_ioctl(tb, node, handler, &err)) { printf("error: %s\n", err->message); g_clear_error(&err); return FALSE; }
    }
    g_hash_table_insert(answers, g_strdup(node), GUINT_TO_POINTER(value));
    return TRUE;
}

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
    answers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    UMockdevIoctlBase *handler = umockdev_ioctl_base_new();
    g_signal_connect(handler, "handle-ioctl", G_CALLBACK(on_ioctl), NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    pid_t child = fork();
    if (child == 0) { prctl(PR_SET_PDEATHSIG, SIGTERM); execvp(argv[cmd + 1], argv + cmd + 1); perror("exec"); _exit(127); }
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        char a[64] = {0}, b[2048] = {0}, c[2048] = {0};
        int n = sscanf(line, "%63s %2047s %2047s", a, b, c);
        GError *err = NULL;
        if (n >= 3 && strcmp(a, "add") == 0) {
            /* add_from_file sends the "add" uevent itself */
            if (!umockdev_testbed_add_from_file(tb, b, &err)) { printf("error: %s\n", err->message); g_clear_error(&err); continue; }
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
        } else if (n >= 3 && strcmp(a, "lpstatus") == 0) {
            if (set_answer(tb, handler, b, (guint) strtoul(c, NULL, 16))) printf("ok\n");
        } else if (n >= 3 && strcmp(a, "v4l2") == 0) {
            guint caps = strcmp(c, "capture") == 0 ? (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING) : (0x00800000u | V4L2_CAP_STREAMING);
            if (set_answer(tb, handler, b, caps)) printf("ok\n");
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

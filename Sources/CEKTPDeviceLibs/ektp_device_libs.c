#define _GNU_SOURCE
#include "ektp_device_libs.h"
#include <dlfcn.h>
#include <libudev.h>
#include <libusb-1.0/libusb.h>
#include <pthread.h>
#include <stdio.h>

struct library {
    const char *soname;
    const char *package;
    pthread_once_t once;
    void *handle;
    char error[256];
};

static struct library udev_lib = { "libudev.so.1", "libudev1", PTHREAD_ONCE_INIT, NULL, "" };
static struct library usb_lib = { "libusb-1.0.so.0", "libusb-1.0-0", PTHREAD_ONCE_INIT, NULL, "" };

static void open_library(struct library *l) {
    l->handle = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (!l->handle) snprintf(l->error, sizeof l->error, "%s cannot be loaded (%s): install Debian's %s", l->soname, dlerror(), l->package);
}
static void open_udev(void) { open_library(&udev_lib); }
static void open_usb(void) { open_library(&usb_lib); }

/* The library's `name`, or NULL when the library or the name is missing. */
static void *find(struct library *l, const char *name) {
    pthread_once(&l->once, l == &udev_lib ? open_udev : open_usb);
    return l->handle ? dlsym(l->handle, name) : NULL;
}

const char *ektp_udev_load_error(void) { return udev_lib.handle || !udev_lib.error[0] ? NULL : udev_lib.error; }

/* One function: found once (atomically: two threads may look it up together, to the same value). */
#define WRAP(lib, ret, name, params, args, fail) \
    ret name params { \
        static void *fn; \
        void *f = __atomic_load_n(&fn, __ATOMIC_ACQUIRE); \
        if (!f) { \
            f = find(&lib, #name); \
            if (!f) return fail; \
            __atomic_store_n(&fn, f, __ATOMIC_RELEASE); \
        } \
        return ((ret (*) params)f) args; \
    }
#define WRAP_VOID(lib, name, params, args) \
    void name params { \
        static void *fn; \
        void *f = __atomic_load_n(&fn, __ATOMIC_ACQUIRE); \
        if (!f) { \
            f = find(&lib, #name); \
            if (!f) return; \
            __atomic_store_n(&fn, f, __ATOMIC_RELEASE); \
        } \
        ((void (*) params)f) args; \
    }

/* libudev */
WRAP(udev_lib, struct udev *, udev_new, (void), (), NULL)
WRAP(udev_lib, struct udev *, udev_unref, (struct udev *u), (u), NULL)
WRAP(udev_lib, const char *, udev_device_get_action, (struct udev_device *d), (d), NULL)
WRAP(udev_lib, const char *, udev_device_get_devnode, (struct udev_device *d), (d), NULL)
WRAP(udev_lib, const char *, udev_device_get_devtype, (struct udev_device *d), (d), NULL)
WRAP(udev_lib, const char *, udev_device_get_driver, (struct udev_device *d), (d), NULL)
WRAP(udev_lib, struct udev_device *, udev_device_get_parent_with_subsystem_devtype,
     (struct udev_device *d, const char *subsystem, const char *devtype), (d, subsystem, devtype), NULL)
WRAP(udev_lib, const char *, udev_device_get_property_value, (struct udev_device *d, const char *key), (d, key), NULL)
WRAP(udev_lib, const char *, udev_device_get_sysattr_value, (struct udev_device *d, const char *attr), (d, attr), NULL)
WRAP(udev_lib, const char *, udev_device_get_sysname, (struct udev_device *d), (d), NULL)
WRAP(udev_lib, const char *, udev_device_get_syspath, (struct udev_device *d), (d), NULL)
WRAP(udev_lib, struct udev *, udev_device_get_udev, (struct udev_device *d), (d), NULL)
WRAP(udev_lib, struct udev_device *, udev_device_new_from_syspath, (struct udev *u, const char *syspath), (u, syspath), NULL)
WRAP(udev_lib, struct udev_device *, udev_device_unref, (struct udev_device *d), (d), NULL)
WRAP(udev_lib, int, udev_enumerate_add_match_parent, (struct udev_enumerate *e, struct udev_device *parent), (e, parent), -1)
WRAP(udev_lib, int, udev_enumerate_add_match_property, (struct udev_enumerate *e, const char *property, const char *value),
     (e, property, value), -1)
WRAP(udev_lib, int, udev_enumerate_add_match_subsystem, (struct udev_enumerate *e, const char *subsystem), (e, subsystem), -1)
WRAP(udev_lib, struct udev_list_entry *, udev_enumerate_get_list_entry, (struct udev_enumerate *e), (e), NULL)
WRAP(udev_lib, struct udev_enumerate *, udev_enumerate_new, (struct udev *u), (u), NULL)
WRAP(udev_lib, int, udev_enumerate_scan_devices, (struct udev_enumerate *e), (e), -1)
WRAP(udev_lib, struct udev_enumerate *, udev_enumerate_unref, (struct udev_enumerate *e), (e), NULL)
WRAP(udev_lib, const char *, udev_list_entry_get_name, (struct udev_list_entry *l), (l), NULL)
WRAP(udev_lib, struct udev_list_entry *, udev_list_entry_get_next, (struct udev_list_entry *l), (l), NULL)
WRAP(udev_lib, int, udev_monitor_enable_receiving, (struct udev_monitor *m), (m), -1)
WRAP(udev_lib, int, udev_monitor_filter_add_match_subsystem_devtype, (struct udev_monitor *m, const char *subsystem, const char *devtype),
     (m, subsystem, devtype), -1)
WRAP(udev_lib, int, udev_monitor_get_fd, (struct udev_monitor *m), (m), -1)
WRAP(udev_lib, struct udev_monitor *, udev_monitor_new_from_netlink, (struct udev *u, const char *name), (u, name), NULL)
WRAP(udev_lib, struct udev_device *, udev_monitor_receive_device, (struct udev_monitor *m), (m), NULL)
WRAP(udev_lib, int, udev_monitor_set_receive_buffer_size, (struct udev_monitor *m, int size), (m, size), -1)
WRAP(udev_lib, struct udev_monitor *, udev_monitor_unref, (struct udev_monitor *m), (m), NULL)

/* libusb */
WRAP(usb_lib, int, libusb_init, (libusb_context **ctx), (ctx), LIBUSB_ERROR_NOT_SUPPORTED)
WRAP_VOID(usb_lib, libusb_exit, (libusb_context *ctx), (ctx))
WRAP(usb_lib, const char *, libusb_error_name, (int code), (code), "LIBUSB_ERROR_NOT_SUPPORTED (libusb-1.0.so.0 cannot be loaded)")
WRAP(usb_lib, ssize_t, libusb_get_device_list, (libusb_context *ctx, libusb_device ***list), (ctx, list), LIBUSB_ERROR_NOT_SUPPORTED)
WRAP_VOID(usb_lib, libusb_free_device_list, (libusb_device **list, int unref), (list, unref))
WRAP(usb_lib, uint8_t, libusb_get_bus_number, (libusb_device *dev), (dev), 0)
WRAP(usb_lib, uint8_t, libusb_get_device_address, (libusb_device *dev), (dev), 0)
WRAP(usb_lib, int, libusb_get_device_descriptor, (libusb_device *dev, struct libusb_device_descriptor *desc), (dev, desc),
     LIBUSB_ERROR_NOT_SUPPORTED)
WRAP(usb_lib, int, libusb_get_config_descriptor, (libusb_device *dev, uint8_t index, struct libusb_config_descriptor **config),
     (dev, index, config), LIBUSB_ERROR_NOT_SUPPORTED)
WRAP_VOID(usb_lib, libusb_free_config_descriptor, (struct libusb_config_descriptor *config), (config))
WRAP(usb_lib, int, libusb_open, (libusb_device *dev, libusb_device_handle **handle), (dev, handle), LIBUSB_ERROR_NOT_SUPPORTED)
WRAP_VOID(usb_lib, libusb_close, (libusb_device_handle *handle), (handle))
WRAP(usb_lib, struct libusb_transfer *, libusb_alloc_transfer, (int iso_packets), (iso_packets), NULL)
WRAP_VOID(usb_lib, libusb_free_transfer, (struct libusb_transfer *transfer), (transfer))
WRAP(usb_lib, int, libusb_submit_transfer, (struct libusb_transfer *transfer), (transfer), LIBUSB_ERROR_NOT_SUPPORTED)
WRAP(usb_lib, int, libusb_cancel_transfer, (struct libusb_transfer *transfer), (transfer), LIBUSB_ERROR_NOT_SUPPORTED)
WRAP(usb_lib, int, libusb_handle_events_completed, (libusb_context *ctx, int *completed), (ctx, completed), LIBUSB_ERROR_NOT_SUPPORTED)
WRAP(usb_lib, int, libusb_handle_events_timeout_completed, (libusb_context *ctx, struct timeval *tv, int *completed),
     (ctx, tv, completed), LIBUSB_ERROR_NOT_SUPPORTED)

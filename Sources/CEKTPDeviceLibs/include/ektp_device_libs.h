#pragma once
/*
 * libudev and libusb, loaded with dlopen at their first call instead of linked, so the client
 * commands (`ektpd status`, `devices`, `events`), which never touch a device, do not load and
 * relocate them at every start: 0.125 ms of a 0.49 ms process start on the 2-core machine of
 * BENCHMARKS.md (a C program linked with both against one linked with neither, 1,500 runs each,
 * interleaved), against `ektpd status`'s 2.2-2.7 ms. ektp_device_libs.c defines every libudev and
 * libusb function the hardware backend calls, under the libraries' own names and prototypes (the
 * headers check them); each finds the library's function on first use. When a library cannot be
 * loaded, its functions fail as the library itself would report it: NULL, or LIBUSB_ERROR_NOT_SUPPORTED.
 */

/* Why libudev could not be loaded, or NULL when it was (or was never asked for). */
const char *ektp_udev_load_error(void);

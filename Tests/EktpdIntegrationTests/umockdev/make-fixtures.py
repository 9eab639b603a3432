#!/usr/bin/env python3
"""Writes the .umockdev device descriptions used by the real-backend tests.

    python3 Tests/EktpdIntegrationTests/umockdev/make-fixtures.py

Each device is described the way `umockdev-record` describes a real one: the USB device with its
sysfs attributes and raw descriptors (device, configuration, interfaces, endpoints), its interfaces
with the kernel driver bound, and its device nodes. Vendor and product IDs are the real, public ones
(usb.ids), except the iris scanner's: IriTech's are not in usb.ids, so it uses pid.codes' test ID
1209:0001 and is recognised by its product name, as an uncatalogued device would be.
Edit this file, run it, commit its output.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
PCI = "/devices/pci0000:00/0000:00:14.0/usb1"
SPEEDS = {"low": "1.5", "full": "12", "high": "480", "super": "5000"}


def le16(v):
    return [v & 0xFF, (v >> 8) & 0xFF]


def device_descriptor(bcd, vid, pid, cls=0):
    return [18, 1] + le16(bcd) + [cls, 0, 0, 64] + le16(vid) + le16(pid) + le16(0x0100) + [1, 2, 3, 1]


def config_descriptor(interfaces):
    body = []
    for num, (cls, sub, proto, eps) in enumerate(interfaces):
        body += [9, 4, num, 0, len(eps), cls, sub, proto, 0]
        for addr, attrs, size in eps:
            body += [7, 5, addr, attrs] + le16(size) + [1]
    return [9, 2] + le16(9 + len(body)) + [len(interfaces), 1, 0, 0x80, 50] + body


def hexs(b):
    return "".join("%02X" % x for x in b)


def device(fname, port, devnum, vid, pid, bcd, speed, manufacturer, product, serial, interfaces,
           drivers, nodes=(), truncate=None, extra_env=(), answers=True):
    desc = device_descriptor(bcd, vid, pid) + config_descriptor(interfaces)
    if truncate:
        desc = desc[:truncate]
    sys = f"{PCI}/{port}"
    out = [f"P: {sys}",
           f"N: bus/usb/001/{devnum:03d}={hexs(desc)}",
           f"E: DEVNAME=/dev/bus/usb/001/{devnum:03d}",
           "E: DEVTYPE=usb_device", "E: DRIVER=usb",
           f"E: PRODUCT={vid:x}/{pid:x}/100", "E: TYPE=0/0/0",
           "E: BUSNUM=001", f"E: DEVNUM={devnum:03d}", "E: MAJOR=189", f"E: MINOR={devnum - 1}",
           "E: SUBSYSTEM=usb", f"E: ID_VENDOR_ID={vid:04x}", f"E: ID_MODEL_ID={pid:04x}"]
    out += [f"E: {e}" for e in extra_env]
    out += ["A: bDeviceClass=00\\n", "A: bNumConfigurations=1\\n", "A: bConfigurationValue=1\\n",
            "A: busnum=1\\n", f"A: devnum={devnum}\\n",
            f"A: idProduct={pid:04x}\\n", f"A: idVendor={vid:04x}\\n",
            f"A: manufacturer={manufacturer}\\n", f"A: product={product}\\n", f"A: serial={serial}\\n",
            f"A: speed={SPEEDS[speed]}\\n", f"A: version={bcd >> 8:2d}.{(bcd >> 4) & 0xF}{bcd & 0xF}\\n",
            f"H: descriptors={hexs(desc)}", ""]
    for num, (cls, sub, proto, eps) in enumerate(interfaces):
        ipath = f"{sys}/{port}:1.{num}"
        out += [f"P: {ipath}", "E: DEVTYPE=usb_interface", "E: SUBSYSTEM=usb"]
        if drivers[num]:
            out += [f"E: DRIVER={drivers[num]}"]
        out += [f"A: bInterfaceClass={cls:02x}\\n", f"A: bInterfaceNumber={num:02x}\\n",
                f"A: bInterfaceSubClass={sub:02x}\\n", f"A: bInterfaceProtocol={proto:02x}\\n",
                f"A: bNumEndpoints={len(eps):02x}\\n", ""]
    for iface, subsystem, name, devname, major, minor in nodes:
        out += [f"P: {sys}/{port}:1.{iface}/{subsystem}/{name}", f"N: {devname[len('/dev/'):]}",
                f"E: DEVNAME={devname}", f"E: SUBSYSTEM={subsystem}", f"E: MAJOR={major}", f"E: MINOR={minor}", ""]
    with open(os.path.join(HERE, fname), "w") as f:
        f.write("\n".join(out))
    # The USB traffic a probe exchanges with the device, as umockdev replays it: GET_STATUS
    # (bmRequestType 0x80, bRequest 0, wLength 2) answered with 2 bytes. The buffer is the setup
    # packet and the zeroed data bytes ektpd submits; umockdev matches the whole buffer.
    ioctl = os.path.join(HERE, fname.replace(".umockdev", ".ioctl"))
    if answers:
        with open(ioctl, "w") as f:
            f.write(f"@DEV /dev/bus/usb/001/{devnum:03d} (usbdevfs)\n")
            f.write("USBDEVFS_REAPURBNDELAY 0 2 0 0 0 10 2 0 80000000000002000000\n")
    elif os.path.exists(ioctl):
        os.remove(ioctl)
    # How the device's kernel nodes answer (the testbed helper's commands): a printer online with
    # no error, a camera whose video node captures.
    answers = []
    for iface, subsystem, name, devname, major, minor in nodes:
        if subsystem == "usbmisc" and name.startswith("lp"):
            answers.append(f"lpstatus {devname} 18")
        if subsystem == "video4linux":
            answers.append(f"v4l2 {devname} capture")
    helper = os.path.join(HERE, fname.replace(".umockdev", ".answers"))
    if answers:
        with open(helper, "w") as f:
            f.write("\n".join(answers) + "\n")
    elif os.path.exists(helper):
        os.remove(helper)


BULK_IN, BULK_OUT, INT_IN = (0x81, 2, 64), (0x02, 2, 64), (0x83, 3, 8)

# One device of each kind, shaped like the real ones.
device("fingerprint.umockdev", "1-1", 2, 0x05BA, 0x000A, 0x0110, "full", "DigitalPersona, Inc.",
       "U.are.U 4500 Fingerprint Reader", "{A8A8B1B3-9C3D-4B2F}", [(0xFF, 0xFF, 0xFF, [BULK_IN, INT_IN])], [None])
device("iris.umockdev", "1-2", 3, 0x1209, 0x0001, 0x0200, "high", "IriTech, Inc.",
       "IriShield USB MK 2120U", "IS2120U-0042", [(0xFF, 0x00, 0x00, [(0x81, 2, 512), (0x02, 2, 512)])], [None])
device("camera.umockdev", "1-3", 4, 0x046D, 0x082D, 0x0200, "high", "Logitech", "HD Pro Webcam C920", "A1B2C3D4",
       [(0x0E, 0x01, 0x00, [(0x83, 3, 64)]), (0x0E, 0x02, 0x00, []), (0x01, 0x01, 0x00, [])],
       ["uvcvideo", "uvcvideo", "snd-usb-audio"], nodes=[(0, "video4linux", "video0", "/dev/video0", 81, 0)])
device("signature-pad.umockdev", "1-4.1", 5, 0x06A8, 0x0043, 0x0110, "full", "Topaz Systems Inc.",
       "SignatureGem 1X5-HID Pad", "T-S460-HSB", [(0x03, 0x00, 0x00, [INT_IN])], ["usbhid"],
       nodes=[(0, "hidraw", "hidraw0", "/dev/hidraw0", 243, 0)])
device("card-printer.umockdev", "1-4.2", 6, 0x0F49, 0x0A00, 0x0200, "high", "Evolis", "Zenius", "Z12345678",
       [(0x07, 0x01, 0x02, [(0x81, 2, 512), (0x02, 2, 512)])], ["usblp"],
       nodes=[(0, "usbmisc", "lp0", "/dev/usb/lp0", 180, 0)])
device("card-reader.umockdev", "1-4.3", 7, 0x076B, 0x3021, 0x0110, "full", "OMNIKEY AG", "Smart Card Reader USB",
       "OK3021-77", [(0x0B, 0x00, 0x00, [BULK_IN, BULK_OUT, INT_IN])], [None])

# Faults.
device("malformed.umockdev", "1-5", 8, 0x076B, 0x3031, 0x0110, "full", "OMNIKEY AG", "3x21 Smart Card Reader",
       "BAD-0001", [(0x0B, 0x00, 0x00, [BULK_IN, BULK_OUT, INT_IN])], [None], truncate=30)
device("camera-no-driver.umockdev", "1-6", 9, 0x046D, 0x082D, 0x0200, "high", "Logitech", "HD Pro Webcam C920", "NODRV1",
       [(0x0E, 0x01, 0x00, [(0x83, 3, 64)]), (0x0E, 0x02, 0x00, [])], [None, None])
device("usb3-camera-slow.umockdev", "1-7", 10, 0x046D, 0x085E, 0x0310, "high", "Logitech", "Logitech BRIO", "BRIO01",
       [(0x0E, 0x01, 0x00, [(0x83, 3, 64)]), (0x0E, 0x02, 0x00, [])], ["uvcvideo", "uvcvideo"],
       nodes=[(0, "video4linux", "video1", "/dev/video1", 81, 1)])
# A fingerprint scanner that enumerates but answers nothing (a hung firmware).
device("fingerprint-mute.umockdev", "1-8", 11, 0x05BA, 0x000A, 0x0110, "full", "DigitalPersona, Inc.",
       "U.are.U 4500 Fingerprint Reader", "MUTE-0001", [(0xFF, 0xFF, 0xFF, [BULK_IN, INT_IN])], [None], answers=False)
print("wrote fixtures to", HERE)

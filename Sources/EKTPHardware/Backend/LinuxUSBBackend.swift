#if canImport(Glibc)
import Glibc
#endif
import CLibUSB
import CUdev
import CEKTPDeviceLibs
import EKTPModel
import Synchronization

/// Options for the real backend.
public struct RealBackendOptions: Sendable, Equatable {
    /// The group the recording software runs in: device nodes must be readable and writable by it.
    public var deviceGroup = "ektp"
    public init() {}
}

/// Real hardware: libudev for enumeration and hotplug (woken by the monitor's file descriptor, never
/// by polling), sysfs attributes for identity, libusb for descriptors.
///
/// `@unchecked Sendable`: libudev and libusb contexts are not thread-safe. Every use of `udev` and
/// `usb` happens while holding `lock`; the hotplug thread has a udev context of its own and touches
/// libusb only through `describe`, which takes `lock`. The `ids` map is guarded by the same lock.
public final class LinuxUSBBackend: HardwareBackend, @unchecked Sendable {
    public let name = "udev+libusb"
    private let lock = Mutex<Void>(())
    private let udev: OpaquePointer
    private let usb: OpaquePointer?
    private let catalogue: Catalogue
    private let options: RealBackendOptions
    /// Vendor-specific probes, consulted after the generic ones (the plug-in point).
    private let extensions: [any ProbeExtension]
    /// syspath -> identity, so a remove (whose attributes are gone) can be named.
    private var ids: [String: DeviceID] = [:]
    /// The last snapshot sent for each device: a change is sent only when something changed.
    private var published: [String: DeviceSnapshot] = [:]

    /// Records a snapshot as sent; false when it is the same as the last one.
    private func publish(_ snap: Snapshot) -> Bool {
        lock.withLock { _ in
            if published[snap.syspath] == snap.device { return false }
            published[snap.syspath] = snap.device
            return true
        }
    }
    private var monitorThread: pthread_t?
    /// Where hotplug events go; a probe that finds a device gone reports the removal here too.
    private var continuation: AsyncStream<HotplugEvent>.Continuation?
    private var wake: [Int32] = [-1, -1]

    public init(catalogue: Catalogue, options: RealBackendOptions = .init(), extensions: [any ProbeExtension] = []) throws(BackendError) {
        self.extensions = extensions
        guard let u = udev_new() else {
            if let why = ektp_udev_load_error() { throw BackendError(String(cString: why)) }
            throw BackendError("cannot create a udev context (is /sys mounted?)")
        }
        udev = u
        var ctx: OpaquePointer?
        let rc = libusb_init(&ctx)
        usb = rc == 0 ? ctx : nil  // without libusb, descriptors come from sysfs only
        self.catalogue = catalogue
        self.options = options
    }

    deinit {
        if wake[1] >= 0 {
            var one: UInt8 = 1
            _ = write(wake[1], &one, 1)
            if let t = monitorThread { pthread_join(t, nil) }
            close(wake[0]); close(wake[1])
        }
        udev_unref(udev)
        if let usb { libusb_exit(usb) }
    }

    public func enumerate() async throws -> [DeviceSnapshot] {
        lock.withLock { _ in
            var out: [DeviceSnapshot] = []
            guard let e = udev_enumerate_new(udev) else { return out }
            defer { udev_enumerate_unref(e) }
            udev_enumerate_add_match_subsystem(e, "usb")
            udev_enumerate_add_match_property(e, "DEVTYPE", "usb_device")
            udev_enumerate_scan_devices(e)
            return withUSBList { () -> [DeviceSnapshot] in
            var entry = udev_enumerate_get_list_entry(e)
            while let en = entry {
                if let path = udev_list_entry_get_name(en), let dev = udev_device_new_from_syspath(udev, path) {
                    if let snap = snapshotLocked(dev) {
                        ids[snap.syspath] = snap.device.id
                        published[snap.syspath] = snap.device
                        out.append(snap.device)
                    }
                    udev_device_unref(dev)
                }
                entry = udev_list_entry_get_next(en)
            }
            return out.sorted { $0.id < $1.id }
            }
        }
    }

    /// The monitor is listening before this returns, so a device plugged between this call and
    /// `enumerate()` is never missed (it may be seen twice, as an add of a known device: a change).
    public func events() -> AsyncStream<HotplugEvent> {
        let (stream, continuation) = AsyncStream<HotplugEvent>.makeStream(bufferingPolicy: .unbounded)
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0, let mu = udev_new() else { continuation.finish(); return stream }
        // Never inherited by a child (ChildProcess closes them too): a helper holding the write
        // end would keep the monitor thread from ever seeing its end.
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        guard let mon = udev_monitor_new_from_netlink(mu, "udev") else {
            udev_unref(mu)
            continuation.finish()
            return stream
        }
        // Whole devices, and their interfaces and nodes: a device's "add" comes before its interfaces
        // and nodes exist, so their events complete the picture (as one change of the device).
        udev_monitor_filter_add_match_subsystem_devtype(mon, "usb", nil)
        for sub in ["video4linux", "hidraw", "usbmisc"] { udev_monitor_filter_add_match_subsystem_devtype(mon, sub, nil) }
        // A hub with a whole kit plugged in at once is a burst of uevents: a roomy buffer (udevadm
        // monitor uses 128 MiB) so none is dropped while the monitor thread catches up.
        udev_monitor_set_receive_buffer_size(mon, 16 << 20)
        udev_monitor_enable_receiving(mon)
        wake = fds
        lock.withLock { _ in self.continuation = continuation }
        let box = Unmanaged.passRetained(MonitorBox(backend: self, continuation: continuation, wakeFD: fds[0], udev: mu, monitor: mon))
        var tid = pthread_t()
        if pthread_create(&tid, nil, { arg in
            let b = Unmanaged<MonitorBox>.fromOpaque(arg!).takeRetainedValue()
            b.backend.monitorLoop(b.continuation, wakeFD: b.wakeFD, udev: b.udev, monitor: b.monitor)
            return nil
        }, box.toOpaque()) == 0 {
            monitorThread = tid
        } else {
            box.release()
            udev_monitor_unref(mon)
            udev_unref(mu)
            continuation.finish()
        }
        return stream
    }

    /// The hotplug threads. A reader, with its own udev context and monitor, woken by poll(2), only
    /// drains the socket into a queue: it never waits for the backend's lock, so a slow probe cannot
    /// stall it and the socket never fills (umockdev's emulated one holds 10 datagrams and aborts the
    /// sender when full; real netlink drops). This thread processes what the reader queued.
    func monitorLoop(_ continuation: AsyncStream<HotplugEvent>.Continuation, wakeFD: Int32, udev mu: OpaquePointer, monitor mon: OpaquePointer) {
        let queue = UeventQueue()
        var notify: [Int32] = [0, 0]
        guard pipe(&notify) == 0 else {
            udev_monitor_unref(mon)
            udev_unref(mu)
            continuation.finish()
            return
        }
        for fd in notify { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let reader = Unmanaged.passRetained(UeventReader(queue: queue, notifyFD: notify[1], wakeFD: wakeFD, udev: mu, monitor: mon))
        var readerThread = pthread_t()
        guard pthread_create(&readerThread, nil, { arg in
            Unmanaged<UeventReader>.fromOpaque(arg!).takeRetainedValue().run()
            return nil
        }, reader.toOpaque()) == 0 else {
            reader.release()
            close(notify[0]); close(notify[1])
            udev_monitor_unref(mon)
            udev_unref(mu)
            continuation.finish()
            return
        }
        var buf = [UInt8](repeating: 0, count: 256)
        while true {
            let n = read(notify[0], &buf, buf.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }  // the reader ended (shutdown)
            for u in queue.takeAll() { process(u, continuation) }
        }
        pthread_join(readerThread, nil)
        close(notify[0])
        continuation.finish()
    }

    /// One uevent, as the reader saw it.
    private func process(_ u: Uevent, _ continuation: AsyncStream<HotplugEvent>.Continuation) {
        if u.devtype != "usb_device" {
            // An interface or a node of a device: refresh the device, if it is still there.
            guard let psys = u.parentSyspath, access(psys, F_OK) == 0 else { return }
            let snap = lock.withLock { _ -> Snapshot? in
                guard ids[psys] != nil, let dev = udev_device_new_from_syspath(udev, psys) else { return nil }
                defer { udev_device_unref(dev) }
                return snapshotLocked(dev)
            }
            if let snap, publish(snap) { continuation.yield(.changed(snap.device)) }
            return
        }
        let syspath = u.syspath
        // umockdev has been seen to deliver a removal as "add": trust sysfs, not the action word.
        if u.action == "remove" || access(syspath, F_OK) != 0 {
            let id = lock.withLock { _ -> DeviceID? in
                published.removeValue(forKey: syspath)
                return ids.removeValue(forKey: syspath)
            }
            if let id { continuation.yield(.removed(id)) }
            return
        }
        let result = lock.withLock { _ -> (Snapshot, Bool)? in
            guard let dev = udev_device_new_from_syspath(udev, syspath) else { return nil }
            defer { udev_device_unref(dev) }
            guard let snap = snapshotLocked(dev) else { return nil }
            defer { ids[syspath] = snap.device.id }
            return (snap, ids[syspath] != nil)
        }
        guard let (snap, known) = result else { return }
        if !known {
            _ = publish(snap)
            continuation.yield(.added(snap.device))
        } else if publish(snap) {
            continuation.yield(.changed(snap.device))
        }
    }

    // MARK: probes

    public func probe(_ device: DeviceID, timeout: Duration) async -> ProbeResult {
        lock.withLock { _ in probeLocked(device, timeout: timeout) }
    }

    private func probeLocked(_ id: DeviceID, timeout: Duration) -> ProbeResult {
        guard let syspath = ids.first(where: { $0.value == id })?.key else {
            return .failed(N_("not on the bus: plug it back in"), .notFound)
        }
        guard let dev = udev_device_new_from_syspath(udev, syspath) else {
            // Gone without a remove uevent reaching us (netlink overflow; umockdev has been seen
            // to send a removal as "add"): report the removal ourselves.
            ids.removeValue(forKey: syspath)
            published.removeValue(forKey: syspath)
            continuation?.yield(.removed(id))
            return .failed(N_("not on the bus: plug it back in"), .notFound)
        }
        defer { udev_device_unref(dev) }
        guard let snap = snapshotLocked(dev) else { return .failed(N_("not on the bus: plug it back in"), .notFound) }
        let label = snap.device.label
        if let problem = snap.descriptorProblem {
            return .failed("\(problem): replug it; if it stays, the device or its cable is faulty", .descriptorUnreadable)
        }
        for node in snap.device.nodes {
            if let why = ProbeChecks.nodeAccess(node, group: options.deviceGroup) {
                return .failed(why, .permissionDenied)
            }
        }
        if let missing = snap.missingDriver {
            return .failed("no kernel driver is bound to its \(missing.interface) interface: load the \(missing.module) module (modprobe \(missing.module)) and replug", .driverMissing)
        }
        // The standard GET_STATUS request every USB device must answer.
        if let usb {
            let ms = UInt32(clamping: timeout.wholeMilliseconds)
            switch USBControl.controlIn(usb, bus: snap.device.busNumber, address: snap.device.deviceNumber, requestType: 0x80,
                                        request: 0x00, value: 0, index: 0, length: 2, timeoutMillis: max(ms, 10)) {
            case .data(let d) where d.count == 2: break
            case .data(let d): return .failed("GET_STATUS answered \(d.count) bytes instead of 2: replug it", .noResponse)
            case .failed(let why): return .failed("no response to GET_STATUS (\(why)): replug it or check the cable", .noResponse)
            case .accessDenied:
                return .failed("ektpd may not open \(snap.device.nodes.first ?? "its node"): install udev-rules/70-ektp-kit.rules and replug", .permissionDenied)
            case .gone:
                // sysfs has it but libusb does not list it (yet): transient, counted like any failure
                return .failed("libusb does not list it (bus \(snap.device.busNumber) device \(snap.device.deviceNumber)): replug it if this lasts", .noResponse)
            }
        }
        // Class probes on the kernel's nodes: the printer's port status, the camera's capabilities.
        let lp = snap.device.nodes.filter { $0.hasPrefix("/dev/usb/lp") }
        if let node = lp.first, snap.device.kind == .cardPrinter || snap.device.capabilities.interfaceClasses.contains(0x07) {
            let r = ClassProbes.printer(node: node)
            if r.outcome != .ok { return r }
        }
        let video = snap.device.nodes.filter { $0.hasPrefix("/dev/video") }
        if !video.isEmpty {
            let r = ClassProbes.camera(nodes: video)
            if r.outcome != .ok { return r }
        }
        if let extra = extensions.first(where: { $0.handles(snap.device) }) {
            let r = extra.probe(snap.device)
            if r.outcome != .ok { return r }
        }
        if let slow = ProbeChecks.slowLink(speed: snap.device.speed, best: snap.device.capabilities.maxSpeed) {
            return .degraded("\(slow)", .slowLink)
        }
        _ = label
        return .ok
    }

    // MARK: reading a device

    struct Snapshot {
        var device: DeviceSnapshot
        var syspath: String
        var descriptorProblem: String?
        var missingDriver: (interface: String, module: String)?
    }

    /// Builds a snapshot from a udev device (any context); the caller holds `lock` for libusb.
    private func snapshotLocked(_ dev: OpaquePointer) -> Snapshot? {
        guard let sysname = str(udev_device_get_sysname(dev)), isPortPath(sysname),
              let syspath = str(udev_device_get_syspath(dev)) else { return nil }  // root hubs are usbN
        let vid = attr(dev, "idVendor").flatMap(parseUSBID) ?? 0
        let pid = attr(dev, "idProduct").flatMap(parseUSBID) ?? 0
        if attr(dev, "bDeviceClass") == "09" { return nil }  // hubs are not kit devices
        let bus = attr(dev, "busnum").flatMap { Int($0) } ?? 0
        let devnum = attr(dev, "devnum").flatMap { Int($0) } ?? 0
        let speed = ProbeChecks.speed(fromSysfs: attr(dev, "speed"))
        let product = attr(dev, "product"), manufacturer = attr(dev, "manufacturer"), serial = attr(dev, "serial")

        var described = describe(dev, bus: bus, address: devnum)
        // Our own strict reading of the raw descriptors: libusb accepts a truncated configuration.
        if let raw = readFileBytes(syspath + "/descriptors", limit: 65536) {
            do {
                let parsed = try USBDescriptors.parse(raw)
                if described.interfaces.isEmpty { described.interfaces = parsed.interfaceClasses }
                described.maxSpeed = described.maxSpeed ?? parsed.declaredSpeed
            } catch {
                described.problem = error.description
            }
        }
        var interfaces: [(cls: UInt8, driver: String?)] = described.interfaces.map { ($0, nil) }
        // udev's interface devices say which kernel driver is bound.
        let ctx = udev_device_get_udev(dev)
        if let e = udev_enumerate_new(ctx) {
            defer { udev_enumerate_unref(e) }
            udev_enumerate_add_match_parent(e, dev)
            udev_enumerate_add_match_property(e, "DEVTYPE", "usb_interface")
            udev_enumerate_scan_devices(e)
            var fromUdev: [(UInt8, String?)] = []
            var entry = udev_enumerate_get_list_entry(e)
            while let en = entry {
                if let p = udev_list_entry_get_name(en), let iface = udev_device_new_from_syspath(ctx, p) {
                    if let c = attr(iface, "bInterfaceClass").flatMap({ UInt8($0, radix: 16) }) {
                        // the driver link, or the DRIVER property of the kernel's uevent
                        let driver = str(udev_device_get_driver(iface)) ?? str(udev_device_get_property_value(iface, "DRIVER"))
                        fromUdev.append((c, driver))
                    }
                    udev_device_unref(iface)
                }
                entry = udev_list_entry_get_next(en)
            }
            if !fromUdev.isEmpty { interfaces = fromUdev }
        }
        var nodes: [String] = []
        if let n = str(udev_device_get_devnode(dev)) { nodes.append(n) }
        if let e = udev_enumerate_new(ctx) {
            defer { udev_enumerate_unref(e) }
            udev_enumerate_add_match_parent(e, dev)
            for s in ["video4linux", "hidraw", "usbmisc"] { udev_enumerate_add_match_subsystem(e, s) }
            udev_enumerate_scan_devices(e)
            var entry = udev_enumerate_get_list_entry(e)
            while let en = entry {
                if let p = udev_list_entry_get_name(en), let child = udev_device_new_from_syspath(ctx, p) {
                    if let n = str(udev_device_get_devnode(child)) { nodes.append(n) }
                    udev_device_unref(child)
                }
                entry = udev_list_entry_get_next(en)
            }
        }
        let classes = interfaces.map(\.cls)
        let facts = DeviceFacts(vendorID: vid, productID: pid, udevKind: str(udev_device_get_property_value(dev, "EKTP_KIND")),
                                interfaceClasses: classes, product: product, manufacturer: manufacturer)
        let c = catalogue.classify(facts)
        let name = product ?? str(udev_device_get_property_value(dev, "EKTP_NAME")) ?? c.name ?? "USB device \(hex4(vid)):\(hex4(pid))"
        let snap = DeviceSnapshot(id: DeviceID(portPath: sysname, vendorID: vid, productID: pid), kind: c.kind, kindSource: c.source,
                                  vendorID: vid, productID: pid, name: name, manufacturer: manufacturer, serial: serial,
                                  portPath: sysname, busNumber: bus, deviceNumber: devnum, speed: speed,
                                  capabilities: DeviceCapabilities(interfaceClasses: classes, maxSpeed: described.maxSpeed),
                                  nodes: nodes)
        let missing = interfaces.first { ProbeChecks.expectedDriver(forClass: $0.cls) != nil && $0.driver == nil }
        return Snapshot(device: snap, syspath: syspath, descriptorProblem: described.problem,
                        missingDriver: missing.map { (ProbeChecks.className($0.cls), ProbeChecks.expectedDriver(forClass: $0.cls)!) })
    }

    /// libusb's device list, fetched once per enumeration (it reads every device's descriptors).
    private var usbList: (list: UnsafeMutablePointer<OpaquePointer?>, count: Int)?

    private func withUSBList<T>(_ body: () -> T) -> T {
        guard let usb, usbList == nil else { return body() }
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let n = libusb_get_device_list(usb, &list)
        if n >= 0, let list { usbList = (list, Int(n)) }
        defer {
            if let l = usbList { libusb_free_device_list(l.list, 1) }
            usbList = nil
        }
        return body()
    }

    /// Descriptors through libusb: interface classes and the best speed the device declares.
    private func describe(_ dev: OpaquePointer, bus: Int, address: Int) -> (interfaces: [UInt8], maxSpeed: USBSpeed?, problem: String?) {
        guard usb != nil else { return ([], nil, nil) }
        return withUSBList {
            guard let (list, n) = usbList else { return ([], nil, nil) }
            return describe(in: list, count: n, bus: bus, address: address)
        }
    }

    private func describe(in list: UnsafeMutablePointer<OpaquePointer?>, count n: Int, bus: Int, address: Int) -> (interfaces: [UInt8], maxSpeed: USBSpeed?, problem: String?) {
        for i in 0..<n {
            guard let d = list[i], Int(libusb_get_bus_number(d)) == bus, Int(libusb_get_device_address(d)) == address else { continue }
            var desc = libusb_device_descriptor()
            guard libusb_get_device_descriptor(d, &desc) == 0, desc.bLength == 18, desc.bDescriptorType == 1 else {
                return ([], nil, "its device descriptor is unreadable or malformed")
            }
            let best: USBSpeed = desc.bcdUSB >= 0x0300 ? .super : desc.bcdUSB >= 0x0200 ? .high : .full
            var config: UnsafeMutablePointer<libusb_config_descriptor>?
            let rc = libusb_get_config_descriptor(d, 0, &config)
            guard rc == 0, let config else {
                return ([], best, "its configuration descriptor is unreadable or truncated (\(String(cString: libusb_error_name(rc))))")
            }
            defer { libusb_free_config_descriptor(config) }
            var classes: [UInt8] = []
            for j in 0..<Int(config.pointee.bNumInterfaces) {
                let iface = config.pointee.interface[j]
                if iface.num_altsetting > 0 { classes.append(iface.altsetting[0].bInterfaceClass) }
            }
            return (classes, best, nil)
        }
        return ([], nil, "libusb does not see it (bus \(bus) device \(address)): its descriptors could not be read")
    }
}

private final class MonitorBox {
    let backend: LinuxUSBBackend
    let continuation: AsyncStream<HotplugEvent>.Continuation
    let wakeFD: Int32
    let udev: OpaquePointer
    let monitor: OpaquePointer
    init(backend: LinuxUSBBackend, continuation: AsyncStream<HotplugEvent>.Continuation, wakeFD: Int32,
         udev: OpaquePointer, monitor: OpaquePointer) {
        self.backend = backend
        self.continuation = continuation
        self.wakeFD = wakeFD
        self.udev = udev
        self.monitor = monitor
    }
}

/// What the processing thread needs of a uevent (the udev_device itself stays with the reader's context).
struct Uevent: Sendable {
    var action: String
    var devtype: String?
    var syspath: String
    /// For an interface or node: its USB device's syspath.
    var parentSyspath: String?
}

final class UeventQueue: Sendable {
    private let items = Mutex<[Uevent]>([])
    func append(_ u: [Uevent]) { items.withLock { $0.append(contentsOf: u) } }
    func takeAll() -> [Uevent] { items.withLock { q in defer { q = [] }; return q } }
}

/// Drains the udev monitor as fast as uevents come, into the queue; one byte on `notifyFD` per batch.
private final class UeventReader {
    let queue: UeventQueue
    let notifyFD: Int32
    let wakeFD: Int32
    let udev: OpaquePointer
    let monitor: OpaquePointer
    init(queue: UeventQueue, notifyFD: Int32, wakeFD: Int32, udev: OpaquePointer, monitor: OpaquePointer) {
        self.queue = queue
        self.notifyFD = notifyFD
        self.wakeFD = wakeFD
        self.udev = udev
        self.monitor = monitor
    }

    func run() {
        defer {
            udev_monitor_unref(monitor)
            udev_unref(udev)
            close(notifyFD)  // tells the processing thread to finish
        }
        let monitorFD = udev_monitor_get_fd(monitor)
        // Non-blocking, so one wake drains everything queued.
        _ = fcntl(monitorFD, F_SETFL, fcntl(monitorFD, F_GETFL) | O_NONBLOCK)
        var fds = [pollfd(fd: monitorFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)]
        while true {
            fds[0].revents = 0
            fds[1].revents = 0
            let n = poll(&fds, 2, -1)
            if n < 0 { if errno == EINTR { continue }; return }
            if fds[1].revents != 0 { return }
            guard fds[0].revents != 0 else { continue }
            var batch: [Uevent] = []
            while let dev = udev_monitor_receive_device(monitor) {
                if let syspath = str(udev_device_get_syspath(dev)) {
                    let devtype = str(udev_device_get_devtype(dev))
                    var parent: String?
                    if devtype != "usb_device", let p = udev_device_get_parent_with_subsystem_devtype(dev, "usb", "usb_device") {
                        parent = str(udev_device_get_syspath(p))
                    }
                    batch.append(Uevent(action: str(udev_device_get_action(dev)) ?? "change", devtype: devtype,
                                        syspath: syspath, parentSyspath: parent))
                }
                udev_device_unref(dev)
            }
            guard !batch.isEmpty else { continue }
            queue.append(batch)
            var one: UInt8 = 1
            _ = write(notifyFD, &one, 1)
        }
    }
}

private func str(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0) } }

private func attr(_ dev: OpaquePointer, _ name: String) -> String? {
    guard let v = udev_device_get_sysattr_value(dev, name) else { return nil }
    var s = String(cString: v)
    while let l = s.last, l == "\n" || l == " " { s.removeLast() }
    return s
}

/// A problem setting up a backend.
public struct BackendError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// A vendor-specific health check, for devices whose vendor documents one (a scanner's self-test,
/// a printer's ribbon counter). Consulted after the generic probes pass; a result other than ok
/// is the device's result. Implementations must answer quickly and never block on the device for
/// longer than the probe timeout.
public protocol ProbeExtension: Sendable {
    /// Whether this extension knows the device (usually by VID:PID).
    func handles(_ device: DeviceSnapshot) -> Bool
    func probe(_ device: DeviceSnapshot) -> ProbeResult
}

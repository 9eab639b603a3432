/// USB link speeds, slowest first.
public enum USBSpeed: String, Codable, Sendable, Comparable, CaseIterable {
    case low, full, high, `super`, superPlus = "super_plus", unknown

    /// Megabits per second, for reasons a person reads.
    public var megabits: Int {
        switch self {
        case .low: 1
        case .full: 12
        case .high: 480
        case .super: 5000
        case .superPlus: 10000
        case .unknown: 0
        }
    }

    public static func < (a: USBSpeed, b: USBSpeed) -> Bool { a.megabits < b.megabits }
}

/// What a device can do, read from its descriptors: kept apart from what is wrong with it now.
public struct DeviceCapabilities: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case interfaceClasses = "interface_classes"
        case maxSpeed = "max_speed"
    }

    /// USB interface classes the device offers (0x0e video, 0x07 printer, 0x0b smart card, 0x03 HID...).
    public var interfaceClasses: [UInt8]
    /// The fastest speed the device supports, when known from its descriptors.
    public var maxSpeed: USBSpeed?

    public init(interfaceClasses: [UInt8] = [], maxSpeed: USBSpeed? = nil) {
        self.interfaceClasses = interfaceClasses
        self.maxSpeed = maxSpeed
    }
}

/// One device as the backend sees it now: identity, descriptors, where it lives.
public struct DeviceSnapshot: Codable, Sendable, Equatable {
    /// The wire names: snake_case, written out (no key strategy: JSONStyle).
    enum CodingKeys: String, CodingKey {
        case id, kind, name, manufacturer, serial, speed, capabilities, nodes
        case kindSource = "kind_source"
        case vendorId = "vendor_id"
        case productId = "product_id"
        case portPath = "port_path"
        case busNumber = "bus_number"
        case deviceNumber = "device_number"
    }

    public var id: DeviceID
    public var kind: DeviceKind
    /// How the kind was decided ("udev EKTP_KIND", "catalogue", "interface class 0x0e", ...).
    public var kindSource: String
    public var vendorId: String
    public var productId: String
    /// A name a person recognises: product string, else the catalogue's or usb.ids' name.
    public var name: String
    public var manufacturer: String?
    public var serial: String?
    public var portPath: String
    public var busNumber: Int
    public var deviceNumber: Int
    public var speed: USBSpeed
    public var capabilities: DeviceCapabilities
    /// Device nodes linked to this device (/dev/bus/usb/..., /dev/video0, /dev/hidraw1...).
    public var nodes: [String]

    public init(id: DeviceID, kind: DeviceKind, kindSource: String, vendorID: UInt16, productID: UInt16,
                name: String, manufacturer: String? = nil, serial: String? = nil, portPath: String,
                busNumber: Int, deviceNumber: Int, speed: USBSpeed = .unknown,
                capabilities: DeviceCapabilities = .init(), nodes: [String] = []) {
        self.id = id
        self.kind = kind
        self.kindSource = kindSource
        self.vendorId = hex4(vendorID)
        self.productId = hex4(productID)
        self.name = name
        self.manufacturer = manufacturer
        self.serial = serial
        self.portPath = portPath
        self.busNumber = busNumber
        self.deviceNumber = deviceNumber
        self.speed = speed
        self.capabilities = capabilities
        self.nodes = nodes
    }

    /// "fingerprint scanner DigitalPersona U.are.U 4500 at 1-2".
    public var label: String { "\(kind.displayName) \(name) at \(portPath)" }
}

#if canImport(Glibc)
import Glibc
#endif
import EKTPModel
import CLibUSB

/// One standard control transfer, done the way it can be recorded and replayed: the transfer
/// buffer (setup packet and data) is zeroed before submission, so a replayed session matches it
/// exactly (libusb's synchronous helper submits uninitialised data bytes).
enum USBControl {
    enum Outcome: Equatable {
        case data([UInt8])
        case failed(String)
        case accessDenied
        case gone
    }

    /// Runs a control IN transfer on the device at bus/address. The caller serialises libusb use.
    static func controlIn(_ ctx: OpaquePointer, bus: Int, address: Int, requestType: UInt8, request: UInt8,
                          value: UInt16, index: UInt16, length: UInt16, timeoutMillis: UInt32) -> Outcome {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let n = libusb_get_device_list(ctx, &list)
        guard n >= 0, let list else { return .failed(N_("libusb cannot list devices")) }
        defer { libusb_free_device_list(list, 1) }
        var device: OpaquePointer?
        for i in 0..<Int(n) where Int(libusb_get_bus_number(list[i])) == bus && Int(libusb_get_device_address(list[i])) == address {
            device = list[i]
        }
        guard let device else { return .gone }
        var handle: OpaquePointer?
        let rc = libusb_open(device, &handle)
        if rc == LIBUSB_ERROR_ACCESS.rawValue { return .accessDenied }
        if rc == LIBUSB_ERROR_NO_DEVICE.rawValue { return .gone }
        guard rc == 0, let handle else { return .failed("cannot open it (\(String(cString: libusb_error_name(rc))))") }
        defer { libusb_close(handle) }

        let size = 8 + Int(length)
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: size)
        buffer.initialize(repeating: 0, count: size)
        defer { buffer.deallocate() }
        // The setup packet, little-endian.
        buffer[0] = requestType
        buffer[1] = request
        buffer[2] = UInt8(value & 0xff); buffer[3] = UInt8(value >> 8)
        buffer[4] = UInt8(index & 0xff); buffer[5] = UInt8(index >> 8)
        buffer[6] = UInt8(length & 0xff); buffer[7] = UInt8(length >> 8)

        guard let transfer = libusb_alloc_transfer(0) else { return .failed(N_("out of memory")) }
        defer { libusb_free_transfer(transfer) }
        let done = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        done.initialize(to: 0)
        defer { done.deallocate() }
        transfer.pointee.dev_handle = handle
        transfer.pointee.endpoint = 0
        transfer.pointee.type = UInt8(LIBUSB_TRANSFER_TYPE_CONTROL.rawValue)
        transfer.pointee.timeout = timeoutMillis
        transfer.pointee.buffer = buffer
        transfer.pointee.length = Int32(size)
        transfer.pointee.user_data = UnsafeMutableRawPointer(done)
        transfer.pointee.callback = { t in
            t?.pointee.user_data.assumingMemoryBound(to: Int32.self).pointee = 1
        }
        let submitted = libusb_submit_transfer(transfer)
        guard submitted == 0 else {
            return submitted == LIBUSB_ERROR_NO_DEVICE.rawValue ? .gone : .failed(String(cString: libusb_error_name(submitted)))
        }
        var tv = timeval(tv_sec: Int(timeoutMillis / 1000) + 1, tv_usec: 0)
        while done.pointee == 0 {
            if libusb_handle_events_timeout_completed(ctx, &tv, done) != 0 { break }
        }
        if done.pointee == 0 {
            libusb_cancel_transfer(transfer)
            while done.pointee == 0 { if libusb_handle_events_completed(ctx, done) != 0 { break } }
            return .failed("no answer within \(timeoutMillis) ms")
        }
        switch transfer.pointee.status {
        case LIBUSB_TRANSFER_COMPLETED:
            let got = Int(transfer.pointee.actual_length)
            return .data(Array(UnsafeBufferPointer(start: buffer + 8, count: min(got, Int(length)))))
        case LIBUSB_TRANSFER_TIMED_OUT: return .failed("no answer within \(timeoutMillis) ms")
        case LIBUSB_TRANSFER_NO_DEVICE: return .gone
        case LIBUSB_TRANSFER_STALL: return .failed(N_("the device stalled the request"))
        default: return .failed("transfer error (status \(transfer.pointee.status.rawValue))")
        }
    }
}

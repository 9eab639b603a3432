import Foundation
import Glibc
import Testing
import EKTPPlatform

/// `ResidentPages.trimStartup` (issue 17, item 6): the daemon's start-up code pages leave its
/// resident set, and nothing it holds changes.
@Suite struct ResidentPagesTests {
    /// Resident kB of the mapping that starts at `address`, from /proc/self/smaps.
    func residentKB(_ address: UnsafeMutableRawPointer) throws -> Int {
        // Read in a loop: /proc files say their size is 0.
        let h = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? h.close() }
        let text = String(decoding: try h.readToEnd() ?? Data(), as: UTF8.self)
        let want = String(UInt(bitPattern: address), radix: 16)
        var inside = false
        for line in text.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), line[line.startIndex..<dash].allSatisfy(\.isHexDigit) {
                inside = line[line.startIndex..<dash].drop(while: { $0 == "0" }) == want[...]
            } else if inside, line.hasPrefix("Rss:") {
                return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])!
            }
        }
        Issue.record("no mapping at \(want)")
        return -1
    }

    @Test func readOnlyFilePagesLeaveTheResidentSetAndWrittenPagesKeepTheirBytes() throws {
        let size = 1 << 20
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ektp-trim-\(UUID().uuidString)").path
        defer { unlink(path) }
        let pattern = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        FileManager.default.createFile(atPath: path, contents: Data(pattern))
        let fd = open(path, O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        // Code-like: read-only, private, every page touched.
        let code = try #require(mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0).flatMap { $0 == MAP_FAILED ? nil : $0 })
        defer { munmap(code, size) }
        var sum = 0
        for i in stride(from: 0, to: size, by: 4096) { sum &+= Int(code.load(fromByteOffset: i, as: UInt8.self)) }
        #expect(try residentKB(code) == size / 1024)
        // RELRO-like: written, then made read-only. Its copy-on-write page must not go back to the file's.
        let relro = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0).flatMap { $0 == MAP_FAILED ? nil : $0 })
        defer { munmap(relro, size) }
        relro.storeBytes(of: 0xEE, toByteOffset: 100, as: UInt8.self)
        #expect(mprotect(relro, size, PROT_READ) == 0)
        // Data-like: private and writable, written.
        let data = try #require(mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0).flatMap { $0 == MAP_FAILED ? nil : $0 })
        defer { munmap(data, size) }
        data.storeBytes(of: 0xDD, toByteOffset: 200, as: UInt8.self)

        let advised = try #require(ResidentPages.trimStartup())
        #expect(advised >= size)
        #expect(try residentKB(code) == 0, "the clean read-only pages left the resident set")
        #expect(try residentKB(relro) > 0, "the written read-only mapping is left as it is")
        // Every byte is what it was.
        #expect(Array(UnsafeRawBufferPointer(start: code, count: size)) == pattern)
        #expect(relro.load(fromByteOffset: 100, as: UInt8.self) == 0xEE)
        #expect(data.load(fromByteOffset: 200, as: UInt8.self) == 0xDD)
        #expect(relro.load(fromByteOffset: 101, as: UInt8.self) == pattern[101])
        #expect(sum > 0)
    }
}

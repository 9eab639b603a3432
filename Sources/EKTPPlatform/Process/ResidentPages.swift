import CEKTPSys

/// A long-running daemon's resident memory after start-up (issue 17, item 6: idle PSS at most
/// usbguard-daemon's). Measured on the release `ektpd` with the demo kit (Benchmarks/footprint.py):
/// 21.6 MB resident, of which 13.2 MB the binary's own code and 3.5 MB libcrypto (read once for
/// the station key), while what it touched in the next 40 s of idling (`/proc/PID/clear_refs`,
/// then smaps' `Referenced`) was 1.5 MB. Start-up's pages stay mapped until the process ends:
/// nothing else on a station maps ektpd's binary, so all of them count in its PSS.
///
/// With a trim 5 s after start and every 30 s (StationDaemon), the same daemon idles at 7.5-7.8 MB
/// PSS (its binary counted whole), 8.7-8.9 MB while delivering over HTTPS, against
/// usbguard-daemon's 8.3-8.5 in the same runs; after a trim the binary holds 3.7 MB and a probe
/// round brings it to 5.5 (the kernel maps 64 KiB around each page fault). Reading smaps costs
/// 0.25 ms.
public enum ResidentPages {
    /// Unmaps the pages of the process's clean read-only file mappings (code and constants of the
    /// binary and its libraries), keeping their content: they stay in the page cache, and what is
    /// used again is mapped again on first touch (a minor fault, no disk read while the cache holds
    /// it). Writable, copy-on-write (RELRO), anonymous and shared memory is never touched
    /// (`ektp_trim_file_mappings`: which mappings, and why). Returns the bytes of address space
    /// advised; nil when `/proc/self/smaps` could not be read.
    ///
    /// The pages dropped cost nothing to keep in the page cache's inactive list and are the first
    /// the kernel reclaims; mapped, they sat on the active list and counted as the daemon's.
    @discardableResult
    public static func trimStartup() -> Int? {
        let n = ektp_trim_file_mappings()
        return n < 0 ? nil : n
    }
}

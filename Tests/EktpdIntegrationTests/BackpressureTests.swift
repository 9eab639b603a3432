import EKTPModel
import EKTPStation
import EKTPPlatform
import EKTPCore
import Foundation
import Glibc
import Synchronization
import EKTPTesting
import Testing

/// Issue 17: the registry admits a bounded number of writes and refuses the rest with 429 and
/// Retry-After; the station waits as it is told (with jitter) instead of its own short backoff.
@Suite(.serialized) struct BackpressureTests {
    @Test func pastItsWriteLimitTheRegistryAnswers429WithRetryAfterAndStoresWhatItTook() throws {
        let reg = try RunningRegistry(extra: ["--max-writes", "1", "--write-queue", "1", "--write-wait", "1"])
        let tokens = try (0..<24).map { try reg.token("bp-\($0)") }
        let url = HTTPURL(reg.url)!
        let results = Mutex<[(status: Int, retryAfter: Int?, stored: Int)]>([])
        // 24 threads (not a pool sized to the 2 cores), released together.
        let go = DispatchSemaphore(value: 0), done = DispatchGroup()
        for i in tokens.indices {
            done.enter()
            Thread.detachNewThread {
            defer { done.leave() }
            let body = batchJSON("bp-\(i)", 1...1000)
            go.wait()
            let r = HTTPClient().request("POST", url, path: "/v1/reports",
                                         headers: [("Authorization", "Bearer \(tokens[i])"), ("Content-Type", "application/json")],
                                         body: body, timeout: .seconds(30))
            let entry: (Int, Int?, Int) = switch r {
            case .success(let x): (x.status, x.retryAfter, (try? JSONStyle.decode(IngestReply.self, from: x.body))?.stored ?? 0)
            case .failure: (0, nil, 0)
            }
            results.withLock { $0.append(entry) }
            }
        }
        for _ in tokens { go.signal() }
        done.wait()
        let all = results.withLock { $0 }
        #expect(all.allSatisfy { $0.status == 200 || $0.status == 429 }, "\(all.map(\.status))")
        let busy = all.filter { $0.status == 429 }
        #expect(!busy.isEmpty, "24 writes at once against room for 2: none was refused")
        #expect(busy.allSatisfy { ($0.retryAfter ?? 0) >= 1 }, "a 429 without Retry-After")
        // What was taken is stored whole; what was refused stored nothing.
        let storedByReplies = all.filter { $0.status == 200 }.reduce(0) { $0 + $1.stored }
        #expect(storedByReplies == all.filter { $0.status == 200 }.count * 1000)
        let metrics = reg.request("GET", "/metrics").body
        #expect(metrics.contains("ektp_registry_ingest_requests_total{result=\"busy\"} \(busy.count)"), "\(metrics.split(separator: "\n").filter { $0.contains("busy") })")
    }

    @Test func theStationWaitsAsABusyRegistryAsksNotItsOwnShortBackoff() throws {
        let scratch = try scratchDirectory("busy")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let fake = Process()
        fake.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        fake.arguments = [repoRoot + "/Tests/EktpdIntegrationTests/helpers/busy-registry.py", scratch, "7"]
        try fake.run()
        defer { kill(fake.processIdentifier, SIGKILL); fake.waitUntilExit() }
        try waitFor("the busy registry listening") { FileManager.default.fileExists(atPath: scratch + "/port") }
        let port = try String(contentsOfFile: scratch + "/port", encoding: .utf8)
        try "ektp_token\n".write(toFile: scratch + "/token", atomically: true, encoding: .utf8)
        chmod(scratch + "/token", 0o600)
        // Its own backoff would retry within 50-300 ms.
        let daemon = try RunningDaemon(scenario: standardKit, config: """
            registry: {url: "http://127.0.0.1:\(port)", token_file: \(scratch)/token, batch_size: 50, \(deliveryTimings)}
            """)
        try daemon.waitReady()
        let s = try daemon.waitForStatus { $0.delivery?.lastError?.contains("busy") == true }
        let d = try #require(s.delivery)
        #expect(d.lastError?.contains("it asks to retry in 7 s") == true, "\(d.lastError ?? "")")
        let wait = try #require(d.nextAttempt).millis - s.now.millis
        #expect(wait > 5_000 && wait <= 10_500, "next try in \(wait) ms, not 7 s plus up to half again")
        // And it did not hammer it meanwhile: one POST (plus at most one more in flight).
        let posts = Int((try? String(contentsOfFile: scratch + "/posts", encoding: .utf8)) ?? "0") ?? 0
        #expect(posts <= 2, "\(posts) POSTs within the Retry-After")
        // It said how many reports it has left, so a real registry can size its place in line.
        let pending = Int((try? String(contentsOfFile: scratch + "/pending", encoding: .utf8)) ?? "") ?? 0
        #expect(pending >= 1 && pending <= d.pending, "Ektp-Pending \(pending) against \(d.pending) pending")
        // And in batches of how many, so the registry counts its batches right.
        #expect((try? String(contentsOfFile: scratch + "/batch-size", encoding: .utf8)) == "50")
    }
}

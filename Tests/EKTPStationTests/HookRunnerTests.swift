import EKTPModel
import Foundation
import Glibc
import EKTPTesting
import Testing
@testable import EKTPStation
@testable import EKTPPlatform
@testable import EKTPCore

/// Hooks are real processes: these run small shell scripts (the hook is a script; the daemon never uses a shell).
@Suite(.serialized) struct HookRunnerTests {
    func hook(_ dir: TempDir, _ name: String, _ body: String, mode: mode_t = 0o755) -> String {
        let p = dir.write(name, "#!/bin/sh\n" + body + "\n")
        chmod(p, mode)
        return p
    }

    @Test func theHookGetsThePayloadOnStdinAndOnlyItsOwnEnvironment() throws {
        let dir = TempDir()
        setenv("EKTP_TEST_SECRET", "do-not-leak", 1)
        defer { unsetenv("EKTP_TEST_SECRET") }
        let h = hook(dir, "rec", "cat > \(dir.path)/stdin; env > \(dir.path)/env; echo done")
        let run = HookRunner.run(h, stdin: Array("{\"a\":1}".utf8), environment: HookRunner.environment(["EKTP_EVENT": "alert.firing"]),
                                 timeout: .seconds(10))
        #expect(run.outcome == .succeeded)
        #expect(run.output == "done\n")
        #expect(try String(contentsOfFile: dir.path + "/stdin", encoding: .utf8) == "{\"a\":1}")
        let env = try String(contentsOfFile: dir.path + "/env", encoding: .utf8)
        #expect(env.contains("EKTP_EVENT=alert.firing"))
        #expect(!env.contains("do-not-leak"))
        #expect(env.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"))
    }

    @Test func aHangingHookIsKilledWithItsChildrenAtTheTimeout() throws {
        let dir = TempDir()
        // the hook starts a child of its own, then hangs: both must go
        let h = hook(dir, "hang", "sleep 300 & echo $! > \(dir.path)/child; echo $$ > \(dir.path)/pid; wait")
        let start = monotonicMillis()
        let run = HookRunner.run(h, stdin: [], environment: HookRunner.environment([:]), timeout: .milliseconds(700))
        let took = monotonicMillis() - start
        #expect(run.outcome == .timedOut)
        #expect(took >= 700 && took < 5000)
        let child = Int32(try String(contentsOfFile: dir.path + "/child", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        // the grandchild got SIGKILL with the group; once reaped by init it is gone
        var gone = false
        for _ in 0..<200 where !gone {
            gone = kill(child, 0) != 0 || (try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8))?.contains(") Z ") == true
            if !gone { usleep(10_000) }
        }
        #expect(gone)
    }

    @Test func aFailingHookSaysHowItEnded() {
        let dir = TempDir()
        let h = hook(dir, "fail", "echo 'sms gateway down' >&2; exit 3")
        let run = HookRunner.run(h, stdin: [1, 2, 3], environment: HookRunner.environment([:]), timeout: .seconds(10))
        #expect(run.outcome == .failed("exited with status 3"))
        #expect(run.output == "sms gateway down\n")
        // a hook that does not read its stdin (a big payload) neither blocks nor kills the caller
        let quiet = hook(dir, "quiet", "exit 0")
        #expect(HookRunner.run(quiet, stdin: [UInt8](repeating: 65, count: 1 << 20), environment: [:], timeout: .seconds(10)).outcome == .succeeded)
    }

    @Test func listingIsRunPartsOrderAndRefusesHooksOthersMayChange() {
        let dir = TempDir()
        _ = hook(dir, "20-sms", "exit 0")
        _ = hook(dir, "10-log", "exit 0")
        _ = hook(dir, "10-log~", "exit 0")
        _ = hook(dir, ".hidden", "exit 0")
        _ = hook(dir, "30-x.dpkg-old", "exit 0")
        _ = hook(dir, "40-not-executable", "exit 0", mode: 0o644)
        _ = hook(dir, "50-open", "exit 0", mode: 0o777)
        let (hooks, refused) = HookRunner.list(dir.path)
        #expect(hooks == [dir.path + "/10-log", dir.path + "/20-sms"])
        #expect(refused.map(\.path) == [dir.path + "/50-open"])
        #expect(refused.first?.reason.contains("writable by group or others") == true)
        #expect(HookRunner.list(dir.path + "/missing").hooks.isEmpty)
    }
}

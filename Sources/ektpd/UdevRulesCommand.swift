import ArgumentParser
import EKTPHardware

struct PrintUdevRules: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "udev-rules",
        abstract: "Print the udev rules generated from the device catalogue (udev-rules/70-ektp-kit.rules).")

    @Option(name: .long, help: "The group that gets the device nodes.")
    var group = "ektp"

    func run() throws {
        writeOut(Array(UdevRules.render(Catalogue.builtIn(usbIDs: nil), group: group).utf8))
    }
}

import Foundation
import Testing
import TestSupport

/// `make install` into a DESTDIR, then systemd's own checks on the installed units
/// (`systemd-analyze verify` and `security --offline`) and the installed binary validating the
/// installed sample configs.
@Suite(.serialized) struct PackagingTests {
    let dir = TemporaryDirectory("packaging")

    @Test func makeInstallLaysOutBinaryUnitsAndConfigsThatSystemdAccepts() throws {
        let root = dir.file("root")
        let make = try Command.run("make", ["-C", Fixtures.root.path, "install", "BINARY=\(Command.nephometer)", "DESTDIR=\(root)", "PREFIX=/usr"],
                                   timeout: 120)
        #expect(make.status == 0, "\(make.stdout) \(make.stderr)")
        let installed = ["usr/bin/nephometer", "usr/lib/systemd/system/nephometer-compute.service", "usr/lib/systemd/system/nephometer-central.service",
                         "usr/lib/sysusers.d/nephometer.conf", "etc/nephometer/nephometer.yaml", "etc/nephometer/polling.yaml",
                         "etc/nephometer/pipeline.yaml", "usr/share/doc/nephometer/README.md"]
        for f in installed { #expect(FileManager.default.fileExists(atPath: "\(root)/\(f)"), "\(f) installed") }
        #expect(FileManager.default.isExecutableFile(atPath: "\(root)/usr/bin/nephometer"))
        let units = ["compute", "central"].map { "\(root)/usr/lib/systemd/system/nephometer-\($0).service" }
        let compute = try String(contentsOfFile: units[0], encoding: .utf8)
        #expect(compute.contains("ExecStart=/usr/bin/nephometer agent --namespaces compute --config /etc/nephometer/nephometer.yaml"))
        for key in ["ProtectSystem=strict", "NoNewPrivileges=yes", "User=nephometer", "StateDirectory=nephometer", "Restart=on-failure"] {
            #expect(compute.contains(key), "\(key)")
        }
        // The installed config names the installed polling and pipeline files.
        let config = try String(contentsOfFile: "\(root)/etc/nephometer/nephometer.yaml", encoding: .utf8)
        #expect(config.contains("cfg_file: /etc/nephometer/polling.yaml") && config.contains("cfg_file: /etc/nephometer/pipeline.yaml"))
        let validate = try Command.run("\(root)/usr/bin/nephometer", ["validate", "--config", "\(root)/etc/nephometer/nephometer.yaml",
                                                                      "--polling", "\(root)/etc/nephometer/polling.yaml",
                                                                      "--pipeline", "\(root)/etc/nephometer/pipeline.yaml"])
        #expect(validate.status == 0, "\(validate.stdout) \(validate.stderr)")

        // systemd resolves units against the root: give it the host's units (targets) and kill(1).
        try FileManager.default.createDirectory(atPath: "\(root)/bin", withIntermediateDirectories: true)
        _ = try Command.run("cp", ["-rn", "/usr/lib/systemd/system/.", "\(root)/usr/lib/systemd/system/"])
        _ = try Command.run("cp", ["/usr/bin/kill", "\(root)/bin/kill"])
        let verify = try Command.run("systemd-analyze", ["verify", "--root=\(root)"] + units, timeout: 60)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(!verify.stderr.contains("nephometer-"), "no complaint about our units: \(verify.stderr)")
        for unit in units {
            let security = try Command.run("systemd-analyze", ["security", "--offline=yes", "--root=\(root)", "--threshold=25", unit], timeout: 60)
            let exposure = security.stdout.split(separator: "\n").last { $0.contains("Overall exposure level") } ?? ""
            #expect(security.status == 0, "exposure at most 2.5: \(exposure)")
            print("systemd-analyze security: \(exposure)")
        }
        // The check can fail: without the binary, verify refuses the units.
        try FileManager.default.removeItem(atPath: "\(root)/usr/bin/nephometer")
        let broken = try Command.run("systemd-analyze", ["verify", "--root=\(root)", units[0]], timeout: 60)
        #expect(broken.status != 0 && broken.stderr.contains("/usr/bin/nephometer"), "\(broken.stderr)")
    }
}

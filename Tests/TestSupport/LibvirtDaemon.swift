import Foundation

/// A real `libvirtd` with the QEMU driver under software emulation (TCG), for tests that need a real
/// hypervisor (bulk domain stats with cpu, balloon, vcpu, net and block groups, which libvirt's test
/// driver does not have). See `test-infrastructure.md` §2.
///
/// It runs as root in a private mount namespace (`unshare -m --propagation private`) so the host is not
/// touched: `/etc/libvirt`, `/run`, `/var/lib`, `/var/log` and `/var/cache` are bind-mounted from a
/// fresh temporary directory, and so are copies of `/etc/passwd` and `/etc/group` with the
/// `libvirt-qemu` user and group that Debian's QEMU driver insists on (libvirt-daemon-system, which
/// would create them, is not needed). Clients reach it through the unix socket in that directory
/// (`uri`); nothing listens on TCP. Domains are tiny and diskless-OS: 64 MiB, one empty qcow2 disk,
/// one isolated tap (`type='ethernet'`), a virtio balloon with a stats period, Nova 1.1 metadata;
/// SeaBIOS finds nothing to boot and idles at about 1% of a core and 45 MiB RSS each.
///
/// `stop()` (also run on deinit) destroys the domains by killing their QEMU processes, stops libvirtd,
/// kills whatever else still runs in the namespace, which ends the namespace and its mounts, and
/// removes the directory. QEMU's capabilities, which libvirtd probes for about 7 s in a fresh
/// directory, are shared between runs through `nephometer-qemu-capabilities` next to the run directories.
/// A run whose test process died without stopping is cleaned up by the next `start()`: every run
/// directory records its owner, and the processes of a directory whose owner is gone are killed.
///
/// Nothing is skipped: a missing program, package or privilege is a `LibvirtDaemon.Unavailable`
/// error naming what to install (`make test` / `scripts/install-deps.sh` installs everything).
public final class LibvirtDaemon: @unchecked Sendable {
    /// What a test domain looks like. Defaults: 1 vCPU, 64 MiB, one disk (`vda`), one tap, running.
    public struct DomainSpec: Sendable {
        public var name: String
        public var uuid: String
        /// Nova's display name (`<nova:name>`).
        public var displayName: String
        public var vcpus = 1
        public var memoryMiB = 64
        /// Disks: `vda`, `vdb`, … each its own 64 MiB qcow2 (overlays of one base would lock it).
        public var disks = 1
        /// `type='ethernet'` interfaces, each an isolated tap with a unique name for this run.
        public var interfaces = 1
        /// Without Nova metadata the domain is not an instance for Ceilometer's discovery.
        public var novaMetadata = true
        public var flavorName = "m1.nano"
        public var flavorID: String? = "42"
        /// Flavor root + ephemeral disk, GiB (Nova's `disk`), and the ephemeral part.
        public var flavorDisk = 1
        public var flavorEphemeral = 0
        public var flavorSwap = 0
        public var userID = "75736572-2d69-6420-2020-202020202020"
        public var projectID = "6f70656e-7374-6163-6b20-70726f6a6563"
        public var imageID: String? = "696d6167-652d-6964-2020-202020202020"
        /// A virtio memballoon with `<stats period='N'/>` (nil: no stats period).
        public var balloonStatsPeriod: Int? = 1
        /// Define and start (true) or only define (a shut-off domain).
        public var start = true

        public init(name: String, uuid: String = UUID().uuidString.lowercased(), displayName: String? = nil) {
            self.name = name
            self.uuid = uuid
            self.displayName = displayName ?? name
        }
    }

    /// A domain this daemon defined.
    public struct Domain: Sendable {
        public let spec: DomainSpec
        public var name: String { spec.name }
        public var uuid: String { spec.uuid }
        /// Disk target devices (`vda`, …) and their image files.
        public let disks: [String]
        public let images: [String]
        /// Tap device names and MAC addresses, in interface order.
        public let interfaces: [String]
        public let macs: [String]
        public let xml: String
    }

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// The run directory (config, sockets, libvirt state, logs and disk images of this daemon).
    public let directory: String
    /// Read-write client URI.
    public let uri: String
    /// Read-only client URI.
    public let readOnlyURI: String
    /// Six hex digits unique to this run (used in tap names and MAC addresses).
    public let runID: String
    /// The PID of libvirtd (in the host's PID namespace).
    public var pid: Int32 { lock.withLock { process?.pid ?? 0 } }

    private var process: BackgroundProcess?
    private var stopped = false
    private let lock = NSLock()
    private var nextDomain = 0
    private var defined: [Domain] = []

    static let prefix = "nephometer-libvirtd-"
    static let hiddenByNamespace = ["/run", "/var/lib", "/var/log", "/var/cache", "/etc/libvirt"]

    private init(directory: String, runID: String) {
        self.directory = directory
        self.runID = runID
        uri = "qemu+unix:///system?socket=\(directory)/run/libvirt/libvirt-sock"
        readOnlyURI = "qemu+unix:///system?socket=\(directory)/run/libvirt/libvirt-sock-ro"
    }

    deinit { stop() }

    // MARK: Start

    /// Starts libvirtd and waits until `virsh -c uri version` answers with the QEMU driver.
    public static func start(timeout: Double = 120) async throws -> LibvirtDaemon {
        let programs = try await offPool { try requirements() }
        try await offPool { cleanUpStaleRuns() }
        let (dir, runID) = try makeRunDirectory()
        let daemon = LibvirtDaemon(directory: dir, runID: runID)
        do {
            try daemon.writeConfiguration()
            try await daemon.launch(programs: programs, timeout: timeout)
        } catch {
            await daemon.shutdown()
            throw error
        }
        return daemon
    }

    struct Programs: Sendable {
        let unshare: String, mount: String, sh: String, libvirtd: String, qemu: String
    }

    static func requirements() throws -> Programs {
        guard getuid() == 0 else {
            throw Unavailable(description: "LibvirtDaemon needs root (libvirtd with QEMU in a private mount namespace); run the suite as root, as CI does")
        }
        func need(_ program: String, _ package: String) throws -> String {
            do { return try Command.which(program) } catch {
                throw Unavailable(description: "\(program) is not installed (Debian package \(package)); run `make test` or scripts/install-deps.sh")
            }
        }
        let programs = Programs(unshare: try need("unshare", "util-linux"), mount: try need("mount", "mount"),
                                sh: try need("sh", "dash"), libvirtd: try need("libvirtd", "libvirt-daemon"),
                                qemu: try need("qemu-system-x86_64", "qemu-system-x86"))
        _ = try need("virsh", "libvirt-clients")
        _ = try need("qemu-img", "qemu-utils")
        let drivers = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib"))?
            .map { "/usr/lib/\($0)/libvirt/connection-driver/libvirt_driver_qemu.so" } ?? []
        guard (drivers + ["/usr/lib64/libvirt/connection-driver/libvirt_driver_qemu.so"])
            .contains(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw Unavailable(description: "libvirt's QEMU driver is not installed (Debian package libvirt-daemon-driver-qemu); run `make test` or scripts/install-deps.sh")
        }
        guard FileManager.default.fileExists(atPath: "/dev/net/tun") else {
            throw Unavailable(description: "/dev/net/tun is missing: type='ethernet' interfaces need the tun driver")
        }
        return programs
    }

    /// A fresh directory under $TMPDIR (or /tmp when $TMPDIR would be hidden by the namespace's
    /// bind mounts or make the socket path too long for a unix socket).
    static func makeRunDirectory() throws -> (String, String) {
        let fm = FileManager.default
        for base in baseDirectories() {
            let runID = String(format: "%06x", UInt32.random(in: 0...0xFF_FFFF))
            let dir = "\(base)/\(prefix)\(runID)\(UUID().uuidString.prefix(4).lowercased())"
            guard "\(dir)/run/libvirt/libvirt-sock-ro".utf8.count < 100 else { continue }
            guard (try? fm.createDirectory(atPath: dir, withIntermediateDirectories: false)) != nil else { continue }
            return (dir, runID)
        }
        throw Unavailable(description: "cannot create a run directory for libvirtd under \(baseDirectories())")
    }

    static func baseDirectories() -> [String] {
        var out: [String] = []
        let tmp = ((ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") as NSString).standardizingPath
        let resolved = (tmp as NSString).resolvingSymlinksInPath
        if !hiddenByNamespace.contains(where: { resolved == $0 || resolved.hasPrefix($0 + "/") }) { out.append(resolved) }
        if !out.contains("/tmp") { out.append("/tmp") }
        return out
    }

    func file(_ relative: String) -> String { "\(directory)/\(relative)" }

    func writeConfiguration() throws {
        let fm = FileManager.default
        for d in ["etc", "run", "varlib", "varlog/libvirt/qemu", "varcache", "images", "logs"] {
            // libvirtd exits at start when its log directory is missing.
            try fm.createDirectory(atPath: file(d), withIntermediateDirectories: true)
        }
        // Who owns this run: the next start() cleans the run up if this process is gone.
        try "\(getpid()) \(Self.startTime(of: getpid()) ?? "?")\n".write(toFile: file("owner"), atomically: true, encoding: .utf8)
        try """
            # Written by Nephometer's LibvirtDaemon test fixture (test-infrastructure.md §2).
            user = "root"
            group = "root"
            dynamic_ownership = 0
            remember_owner = 0
            security_driver = "none"
            # No virtlogd: QEMU's output goes straight to /var/log/libvirt/qemu/<name>.log.
            stdio_handler = "file"
            namespaces = [ ]
            # No machine cgroups on the host (they would outlive the run); CPU statistics then come
            # from /proc, which is what bulk stats report as cpu.* and vcpu.*.
            cgroup_controllers = [ ]

            """.write(toFile: file("etc/qemu.conf"), atomically: true, encoding: .utf8)
        try """
            # Written by Nephometer's LibvirtDaemon test fixture: unix sockets only, no TCP.
            listen_tcp = 0
            listen_tls = 0
            unix_sock_group = "root"
            unix_sock_ro_perms = "0777"
            unix_sock_rw_perms = "0770"
            auth_unix_ro = "none"
            auth_unix_rw = "none"
            log_level = 3
            log_outputs = "3:file:/var/log/libvirt/libvirtd.log"

            """.write(toFile: file("etc/libvirtd.conf"), atomically: true, encoding: .utf8)
        // Debian's QEMU driver refuses to start without user and group libvirt-qemu (it checks before
        // reading qemu.conf), so the namespace sees copies of passwd and group that have them.
        var passwd = try String(contentsOfFile: "/etc/passwd", encoding: .utf8)
        var group = try String(contentsOfFile: "/etc/group", encoding: .utf8)
        if !passwd.hasSuffix("\n") { passwd += "\n" }
        if !group.hasSuffix("\n") { group += "\n" }
        if !passwd.contains("\nlibvirt-qemu:") && !passwd.hasPrefix("libvirt-qemu:") {
            passwd += "libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin\n"
        }
        for line in ["libvirt-qemu:x:64055:", "libvirt:x:64056:"] {
            let name = line.prefix { $0 != ":" } + ":"
            if !group.contains("\n\(name)") && !group.hasPrefix(String(name)) { group += line + "\n" }
        }
        try passwd.write(toFile: file("passwd"), atomically: true, encoding: .utf8)
        try group.write(toFile: file("group"), atomically: true, encoding: .utf8)
    }

    func launch(programs: Programs, timeout: Double) async throws {
        seedCapabilities()
        let d = directory
        let mounts = [("etc", "/etc/libvirt"), ("passwd", "/etc/passwd"), ("group", "/etc/group"), ("run", "/run"),
                      ("varlib", "/var/lib"), ("varlog", "/var/log"), ("varcache", "/var/cache")]
        var script = "set -e\n"
        for (source, target) in mounts { script += "\(programs.mount) --bind '\(d)/\(source)' '\(target)'\n" }
        script += "exec '\(programs.libvirtd)' --config /etc/libvirt/libvirtd.conf\n"
        // unshare execs sh, which execs libvirtd: the process we hold is libvirtd itself.
        let p = try BackgroundProcess(programs.unshare, ["-m", "--propagation", "private", programs.sh, "-c", script],
                                      environment: ["LIBVIRT_DEFAULT_URI": "", "LANG": "C"],
                                      logDirectory: file("logs"), name: "libvirtd")
        lock.withLock { process = p }
        let deadline = Date().addingTimeInterval(timeout)
        var lastProbe = ""
        while true {
            guard p.isRunning else {
                throw DaemonFailed(name: "libvirtd", log: "libvirtd exited with status \(p.process.terminationStatus)\n" + logs())
            }
            if FileManager.default.fileExists(atPath: file("run/libvirt/libvirt-sock")) {
                let r = try await virsh(["version"], timeout: 15)
                if r.status == 0 && r.stdout.contains("QEMU") { break }
                lastProbe = "virsh -c \(uri) version: \(r.stderr)\(r.stdout)"
            }
            guard Date() < deadline else {
                throw DaemonFailed(name: "libvirtd", log: "no answer within \(Int(timeout)) s; \(lastProbe)\n" + logs())
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let ns = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(p.pid)/ns/mnt")
        guard let ns, ns != Self.ownNamespace else {
            throw DaemonFailed(name: "libvirtd", log: "libvirtd is not in a private mount namespace\n" + logs())
        }
        saveCapabilities()
    }

    // MARK: QEMU capabilities cache

    /// libvirtd probes QEMU's capabilities (about 7 s of QEMU runs) when its cache is empty, as it is in
    /// every new run directory. Runs share the probe results through this directory: each run starts
    /// from a copy and writes back what libvirtd produced. libvirt checks every entry against the QEMU
    /// binary, libvirt and kernel it runs with and probes again when one changed, so a stale or foreign
    /// entry only costs the probe.
    var capabilitiesCache: String { ((directory as NSString).deletingLastPathComponent as NSString).appendingPathComponent("nephometer-qemu-capabilities") }
    var runCapabilities: String { file("varcache/libvirt/qemu/capabilities") }

    private func seedCapabilities() {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: capabilitiesCache) else { return }
        try? fm.createDirectory(atPath: runCapabilities, withIntermediateDirectories: true)
        for name in names where name.hasSuffix(".xml") {
            try? fm.copyItem(atPath: "\(capabilitiesCache)/\(name)", toPath: "\(runCapabilities)/\(name)")
        }
    }

    private func saveCapabilities() {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: runCapabilities) else { return }
        try? fm.createDirectory(atPath: capabilitiesCache, withIntermediateDirectories: true)
        for name in names where name.hasSuffix(".xml") {
            guard let data = fm.contents(atPath: "\(runCapabilities)/\(name)"),
                  fm.contents(atPath: "\(capabilitiesCache)/\(name)") != data else { continue }
            // Write aside and rename: a concurrent run never reads half a file.
            let temporary = "\(capabilitiesCache)/.\(name).\(runID).tmp"
            if fm.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) {
                if rename(temporary, "\(capabilitiesCache)/\(name)") != 0 { try? fm.removeItem(atPath: temporary) }
            }
        }
    }

    /// The tails of libvirtd's own log and of its stderr.
    public func logs() -> String {
        let log = (try? String(contentsOfFile: file("varlog/libvirt/libvirtd.log"), encoding: .utf8)) ?? ""
        let p = lock.withLock { process }
        return "libvirtd.log: \(log.suffix(3000))\nstderr: \((p?.stderr ?? "").suffix(2000))"
    }

    // MARK: Domains

    /// Defines the domain (and starts it unless `spec.start` is false); its disks are made with `qemu-img`.
    @discardableResult
    public func create(_ spec: DomainSpec) async throws -> Domain {
        let index = lock.withLock { () -> Int in nextDomain += 1; return nextDomain }
        let disks = (0..<spec.disks).map { "vd\(Character(UnicodeScalar(UInt8(97 + $0))))" }
        let images = disks.map { file("images/\(spec.name)-\($0).qcow2") }
        // Tap names are host-wide: unique per run (a crashed run's QEMU may still hold its taps).
        let taps = (0..<spec.interfaces).map { "tap\(runID)\(String(format: "%02d", index % 100))-\($0)" }
        let macPrefix = "52:54:\(runID.prefix(2)):\(runID.dropFirst(2).prefix(2))"
        let macs = (0..<spec.interfaces).map { "\(macPrefix):\(String(format: "%02x:%02x", index % 256, $0))" }
        let qemuImg = try Command.which("qemu-img")
        for image in images {
            let r = try await offPool { try Command.run(qemuImg, ["create", "-q", "-f", "qcow2", image, "64M"], timeout: 60) }
            guard r.status == 0 else { throw DaemonFailed(name: "qemu-img", log: r.stderr + r.stdout) }
        }
        let xml = domainXML(spec, disks: disks, images: images, taps: taps, macs: macs, emulator: try Command.which("qemu-system-x86_64"))
        let path = file("\(spec.name).xml")
        try xml.write(toFile: path, atomically: true, encoding: .utf8)
        try await virshChecked(["define", path])
        let domain = Domain(spec: spec, disks: disks, images: images, interfaces: taps, macs: macs, xml: xml)
        lock.withLock { defined.append(domain) }
        if spec.start {
            defer { if let pid = try? qemuPID(of: spec.name) { ProcessReaper.register(pid: pid, name: "qemu \(spec.name)") } }
            do { try await virshChecked(["start", spec.name]) } catch {
                let qemuLog = (try? String(contentsOfFile: file("varlog/libvirt/qemu/\(spec.name).log"), encoding: .utf8)) ?? ""
                throw DaemonFailed(name: "domain \(spec.name)", log: "\(error)\nqemu log: \(qemuLog.suffix(2000))\n" + logs())
            }
        }
        return domain
    }

    /// The domains defined so far.
    public var domains: [Domain] { lock.withLock { defined } }

    func domainXML(_ s: DomainSpec, disks: [String], images: [String], taps: [String], macs: [String], emulator: String) -> String {
        var x = "<domain type='qemu'>\n  <name>\(esc(s.name))</name>\n  <uuid>\(s.uuid)</uuid>\n"
        if s.novaMetadata {
            x += """
                  <metadata>
                    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
                      <nova:package version="27.0.0"/>
                      <nova:name>\(esc(s.displayName))</nova:name>
                      <nova:creationTime>2025-01-01 00:00:00</nova:creationTime>
                      <nova:flavor name="\(esc(s.flavorName))"\(s.flavorID.map { " id=\"\(esc($0))\"" } ?? "")>
                        <nova:memory>\(s.memoryMiB)</nova:memory><nova:disk>\(s.flavorDisk)</nova:disk><nova:swap>\(s.flavorSwap)</nova:swap><nova:ephemeral>\(s.flavorEphemeral)</nova:ephemeral><nova:vcpus>\(s.vcpus)</nova:vcpus>
                      </nova:flavor>
                      <nova:owner><nova:user uuid="\(s.userID)">admin</nova:user><nova:project uuid="\(s.projectID)">admin</nova:project></nova:owner>

                """
            if let image = s.imageID { x += "        <nova:root type=\"image\" uuid=\"\(image)\"/>\n" }
            x += "      </nova:instance>\n    </metadata>\n"
        }
        x += """
              <memory unit='MiB'>\(s.memoryMiB)</memory><currentMemory unit='MiB'>\(s.memoryMiB)</currentMemory>
              <vcpu placement='static'>\(s.vcpus)</vcpu>
              <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
              <features><acpi/></features>
              <clock offset='utc'/>
              <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
              <devices>
                <emulator>\(esc(emulator))</emulator>

            """
        for (dev, image) in zip(disks, images) {
            x += "    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='\(esc(image))'/><target dev='\(dev)' bus='virtio'/></disk>\n"
        }
        // An isolated tap: no bridge, no NAT. No option ROM and boot from disk only: PXE would burn CPU.
        for (tap, mac) in zip(taps, macs) {
            x += "    <interface type='ethernet'><mac address='\(mac)'/><target dev='\(tap)' managed='yes'/><model type='virtio'/><rom enabled='no'/></interface>\n"
        }
        x += "    <memballoon model='virtio'>\(s.balloonStatsPeriod.map { "<stats period='\($0)'/>" } ?? "")</memballoon>\n"
        x += "  </devices>\n</domain>\n"
        return x
    }

    private func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "'", with: "&apos;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    // MARK: virsh

    /// `virsh -c uri …`, run off Swift's cooperative pool.
    public func virsh(_ args: [String], timeout: Double = 60) async throws -> CommandResult {
        let uri = self.uri
        return try await offPool { try Command.run("virsh", ["-c", uri] + args, environment: ["LANG": "C"], timeout: timeout) }
    }

    /// `virsh -c uri …` that must succeed; returns its stdout.
    @discardableResult
    public func virshChecked(_ args: [String], timeout: Double = 60) async throws -> String {
        let r = try await virsh(args, timeout: timeout)
        guard r.status == 0 else {
            throw DaemonFailed(name: "virsh \(args.joined(separator: " "))", log: "exit \(r.status): \(r.stderr)\(r.stdout)")
        }
        return r.stdout
    }

    /// `virsh domstats --raw` of the given domains (all when empty), one `[field: value]` per domain name.
    public func domstats(_ names: [String] = [], options: [String] = []) async throws -> [String: [String: String]] {
        Self.parseDomstats(try await virshChecked(["domstats", "--raw"] + options + names))
    }

    public static func parseDomstats(_ text: String) -> [String: [String: String]] {
        var out: [String: [String: String]] = [:]
        var current: String?
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("Domain: '"), line.hasSuffix("'") {
                current = String(line.dropFirst("Domain: '".count).dropLast())
                out[current!] = [:]
            } else if let c = current, let eq = line.firstIndex(of: "=") {
                out[c]?[String(line[..<eq])] = String(line[line.index(after: eq)...])
            }
        }
        return out
    }

    // MARK: Faults

    /// Stops libvirtd alone (SIGTERM, as a package upgrade does); its QEMU domains keep running.
    public func stopDaemon() async throws {
        let p = lock.withLock { () -> BackgroundProcess? in defer { process = nil }; return process }
        guard let p else { return }
        try await offPool {
            p.signal(SIGTERM)
            if p.wait(timeout: 15) == nil { p.signal(SIGKILL); p.wait(timeout: 5) }
        }
    }

    /// Starts libvirtd again in the same run directory; it re-attaches to the running domains.
    public func startDaemon(timeout: Double = 60) async throws {
        let programs = try await offPool { try Self.requirements() }
        try await launch(programs: programs, timeout: timeout)
    }

    /// The PID of a running domain's QEMU process (from libvirt's pid file).
    public func qemuPID(of name: String) throws -> Int32 {
        let text = try String(contentsOfFile: file("run/libvirt/qemu/\(name).pid"), encoding: .utf8)
        guard let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0 else {
            throw DaemonFailed(name: "qemu of \(name)", log: "no running QEMU process (pid file: \(text))")
        }
        return pid
    }

    // MARK: Stop

    /// Stops everything off the cooperative pool (see `stop()`).
    public func shutdown() async {
        _ = try? await offPool { self.stop() }
    }

    /// Destroys the domains (their QEMU processes are killed: `virsh destroy` waits 1–2 s per domain
    /// for QEMU to act on a SIGTERM), stops libvirtd, kills whatever else still runs in its namespace,
    /// which ends the namespace and its mounts, and removes the run directory. Idempotent; blocking.
    public func stop() {
        let (first, p) = lock.withLock { () -> (Bool, BackgroundProcess?) in
            defer { stopped = true }
            return (!stopped, process)
        }
        guard first else { return }
        if let p, p.isRunning {
            let domains = Self.processes(ofRun: directory).filter { $0 != p.pid }
            for pid in domains { kill(pid, SIGKILL) }
            _ = eventually(timeout: 5, interval: 0.02) { domains.allSatisfy { kill($0, 0) != 0 } }
            p.signal(SIGTERM)
            if p.wait(timeout: 5) == nil {
                p.signal(SIGKILL)
                p.wait(timeout: 5)
            }
        }
        Self.killProcesses(ofRun: directory)
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: Processes of a run

    static let ownNamespace: String = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt")) ?? ""

    /// Processes in a mount namespace other than ours whose mounts come from the run directory: the
    /// libvirtd and QEMU processes of that run, and nothing else (the directory name is random).
    static func processes(ofRun directory: String) -> [Int32] {
        let marker = "/\((directory as NSString).lastPathComponent)/"
        let me = getpid()
        var out: [Int32] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != me else { continue }
            guard let ns = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/ns/mnt"),
                  ns != ownNamespace else { continue }
            guard let mounts = try? String(contentsOfFile: "/proc/\(entry)/mountinfo", encoding: .utf8),
                  mounts.contains(marker) else { continue }
            out.append(pid)
        }
        return out
    }

    /// SIGKILLs the processes of a run (by PID) and waits up to 10 s for them to go.
    static func killProcesses(ofRun directory: String) {
        let deadline = Date().addingTimeInterval(10)
        while true {
            let pids = processes(ofRun: directory)
            if pids.isEmpty || Date() > deadline { return }
            for pid in pids { kill(pid, SIGKILL) }
            usleep(50_000)
        }
    }

    static func startTime(of pid: Int32) -> String? { ProcessReaper.startTime(of: pid) }

    /// Removes the run directories (and kills the processes) of earlier runs whose test process is
    /// gone: a crashed or killed test run leaves libvirtd and QEMU running in their namespace.
    static func cleanUpStaleRuns() {
        let fm = FileManager.default
        for base in baseDirectories() {
            for name in (try? fm.contentsOfDirectory(atPath: base)) ?? [] where name.hasPrefix(prefix) {
                let dir = "\(base)/\(name)"
                if let owner = try? String(contentsOfFile: "\(dir)/owner", encoding: .utf8) {
                    let parts = owner.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                    if let pid = Int32(parts.first ?? ""), kill(pid, 0) == 0, startTime(of: pid) == parts.last { continue }
                } else {
                    // No owner file yet: a run being set up right now, or one that died during setup.
                    let modified = (try? fm.attributesOfItem(atPath: dir)[.modificationDate] as? Date) ?? Date()
                    if Date().timeIntervalSince(modified) < 600 { continue }
                }
                killProcesses(ofRun: dir)
                try? fm.removeItem(atPath: dir)
            }
        }
    }
}

private let blockingQueue = DispatchQueue(label: "nephometer.test.libvirtd", attributes: .concurrent)

/// Runs blocking work (spawning `virsh`, waiting for processes) on a thread of its own, not on
/// Swift's cooperative pool.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        blockingQueue.async {
            do { c.resume(returning: try body()) } catch { c.resume(throwing: error) }
        }
    }
}

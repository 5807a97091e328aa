import Foundation

/// Every daemon a test starts (etcd, snmpd, libvirtd and its QEMUs, agents, receivers, Python peers) is
/// registered here, and a watchdog in a session of its own stops whatever is still registered once the
/// test process is gone: a test that fails, crashes, hangs and is killed, or keeps a daemon in a
/// `static let`, leaves nothing running. `scripts/check-test-daemons.sh`, which `make test` runs after
/// the suite, fails if a registered daemon is still alive.
public enum ProcessReaper {
    /// `$TMPDIR/nephometer-test-daemons/<test pid>-<its start time>/<daemon pid>` = "<start time> <name>".
    public static let root = (FileManager.default.temporaryDirectory.path as NSString).appendingPathComponent("nephometer-test-daemons")

    private static let directory: String? = {
        let me = getpid()
        guard let start = startTime(of: me) else { return nil }
        let dir = "\(root)/\(me)-\(start)"
        guard (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)) != nil else { return nil }
        startWatchdog(owner: me, start: start, directory: dir)
        return dir
    }()

    /// Registers a daemon so it is stopped when this test process ends, whatever the way.
    public static func register(pid: Int32, name: String) {
        guard pid > 0, let directory, let start = startTime(of: pid) else { return }
        let clean = name.replacingOccurrences(of: " ", with: "_").replacingOccurrences(of: "\n", with: "_")
        try? "\(start) \(clean)\n".write(toFile: "\(directory)/\(pid)", atomically: true, encoding: .utf8)
    }

    /// The daemon was stopped by its test.
    public static func unregister(pid: Int32) {
        guard pid > 0, let directory else { return }
        unlink("\(directory)/\(pid)")
    }

    /// Field 22 of /proc/PID/stat (start time in clock ticks since boot): tells a reused PID apart.
    public static func startTime(of pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }

    static let watchdog = """
        import os, sys, time, signal
        os.closerange(3, 65536)
        owner, start, d = int(sys.argv[1]), sys.argv[2], sys.argv[3]
        def started(pid):
            try:
                return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[19]
            except Exception:
                return None
        while started(owner) == start:
            time.sleep(0.5)
        victims = []
        for f in os.listdir(d):
            try:
                pid = int(f)
                st, name = open(os.path.join(d, f)).read().split(None, 1)
            except Exception:
                continue
            if started(pid) == st:
                victims.append((pid, st, name.strip()))
                try: os.kill(pid, signal.SIGTERM)
                except Exception: pass
        deadline = time.time() + 5
        while time.time() < deadline and any(started(p) == s for p, s, _ in victims):
            time.sleep(0.1)
        with open(os.path.join(os.path.dirname(d), "reaped.log"), "a") as log:
            for pid, st, name in victims:
                if started(pid) == st:
                    try: os.kill(pid, signal.SIGKILL)
                    except Exception: pass
                log.write("%s: %s (pid %d) was still running when its test process ended; stopped\\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), name, pid))
        for f in os.listdir(d):
            try:
                pid = int(f)
                st = open(os.path.join(d, f)).read().split()[0]
            except Exception:
                continue
            if started(pid) != st:
                os.unlink(os.path.join(d, f))
        try: os.rmdir(d)
        except Exception: pass
        """

    /// Spawns the watchdog in a session of its own (killing the test's process group does not kill
    /// it). Not with Foundation's `Process`, whose termination pipe a long-lived child keeps open (its
    /// `waitUntilExit` would never return); the watchdog closes every inherited descriptor first.
    private static func startWatchdog(owner: Int32, start: String, directory: String) {
        guard let python = try? Command.which("python3") else { return }
        let argv = [python, "-c", watchdog, "\(owner)", start, directory]
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, 0x80)  // POSIX_SPAWN_SETSID (glibc; needs _GNU_SOURCE to be named)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        _ = posix_spawn(&pid, python, &actions, &attr, &cargs, environ)
    }
}

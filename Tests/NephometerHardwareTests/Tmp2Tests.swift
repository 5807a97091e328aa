import Foundation
import Testing
import TestSupport

@Test func bgSnmpdThenRun() throws {
    let dir = TemporaryDirectory()
    try dir.write("conf/snmpd.conf", "rocommunity public 127.0.0.1\n")
    let p = try BackgroundProcess("/usr/sbin/snmpd", ["-f", "-Lf", dir.path + "/log", "-I", "-smux,mteTrigger,mteTriggerConf", "udp:127.0.0.1:39999"], environment: ["MIBS": "", "SNMPCONFPATH": dir.path + "/conf"], logDirectory: dir.path, name: "snmpd")
    print("bg started")
    sleep(2)
    let r = try Command.run("/bin/echo", ["hi"], timeout: 5)
    print("echo", r.status, r.stdout)
    let s = try Command.run("snmpget", ["-v2c", "-c", "public", "127.0.0.1:39999", ".1.3.6.1.2.1.1.3.0"], environment: ["MIBS": ""], timeout: 5)
    print("snmpget", s.status, s.stdout, s.stderr)
    p.signal(SIGKILL)
}

import Foundation
import NephometerCore
import Testing
import TestSupport

/// The built `nephometer` binary, run as an operator runs it.
@Suite struct CLITests {
    let dir = TemporaryDirectory("nephometer-e2e")

    func setUp(domains: Int = 3, publisher: String? = nil, meters: [String] = ["power.state", "cpu", "vcpus", "memory.usage"]) throws -> (uri: String, polling: String, pipeline: String, output: String) {
        let uri = try LibvirtTestNode.uniform(count: domains).write(to: dir.file("node.xml"))
        let polling = try dir.write("polling.yaml", """
        sources:
          - name: compute
            interval: 1
            meters: [\(meters.map { "\"\($0)\"" }.joined(separator: ", "))]
        """)
        let output = dir.file("out/samples.log")
        let pipeline = try dir.write("pipeline.yaml", """
        sources:
          - name: meter_source
            meters: ["*"]
            sinks: [meter_sink]
        sinks:
          - name: meter_sink
            publishers: ["\(publisher ?? "file://\(output)")"]
        """)
        return (uri, polling, pipeline, output)
    }

    func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    static let sampleKeys = ["name", "type", "unit", "volume", "user_id", "user_name", "project_id", "project_name",
                             "resource_id", "timestamp", "resource_metadata", "source", "id", "monotonic_time"]

    @Test func pollOnceJSONPrintsOnlySampleDicts() throws {
        let s = try setUp(domains: 3)
        let r = try Command.nephometer(["poll", "--namespaces", "compute", "--once", "--format", "json",
                                        "--libvirt-uri", s.uri, "--polling", s.polling, "--pipeline", s.pipeline, "--host", "bench-host"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.lines.count == 12)
        var names: [String: Int] = [:]
        for line in r.lines {
            let v = try JSONParser.parse(line)
            #expect(v.objectValue?.keys == Self.sampleKeys)
            names[v["name"]?.stringValue ?? "", default: 0] += 1
            #expect(v["resource_metadata"]?["instance_host"] == .string("bench-host"))
        }
        #expect(names == ["power.state": 3, "cpu": 3, "vcpus": 3, "memory.usage": 3])
        // Without --publish nothing is written.
        #expect(!FileManager.default.fileExists(atPath: s.output))
    }

    @Test func pollWithPublishWritesTheFilePublisher() throws {
        let s = try setUp(domains: 2)
        let r = try Command.nephometer(["poll", "--namespaces", "compute", "--once", "--publish", "--format", "table",
                                        "--libvirt-uri", s.uri, "--polling", s.polling, "--pipeline", s.pipeline])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.lines.first?.hasPrefix("TIMESTAMP") == true)
        #expect(r.lines.count == 9)
        let written = lines(s.output)
        #expect(written.count == 8)
        for l in written { #expect(try JSONParser.parse(l).objectValue?.keys == Self.sampleKeys) }
    }

    @Test func agentRunsCyclesOnScheduleIntoTheFilePublisher() throws {
        let s = try setUp(domains: 4)
        let start = Date()
        let r = try Command.nephometer(["agent", "--namespaces", "compute", "--cycles", "3", "--libvirt-uri", s.uri,
                                        "--polling", s.polling, "--pipeline", s.pipeline, "--print", "table"])
        let elapsed = Date().timeIntervalSince(start)
        #expect(r.status == 0, "\(r.stderr)")
        let written = lines(s.output)
        #expect(written.count == 3 * 4 * 4)
        let cpuByResource = Dictionary(grouping: try written.map { try JSONParser.parse($0) }.filter { $0["name"] == .string("cpu") },
                                       by: { $0["resource_id"]?.stringValue ?? "" })
        #expect(cpuByResource.count == 4)
        for (_, samples) in cpuByResource {
            // Cumulative CPU time grows between cycles (the test driver's CPU time is the wall clock).
            let volumes = samples.compactMap { $0["volume"]?.numberValue?.doubleValue }
            #expect(volumes.count == 3 && volumes == volumes.sorted() && volumes[2] - volumes[0] >= 1e9)
        }
        #expect(elapsed >= 2 && elapsed < 20)
        #expect(r.stdout.contains("TIMESTAMP") && r.stdout.contains("memory.usage"))
    }

    @Test func agentStopsCleanlyOnSIGTERMAndFlushes() throws {
        let s = try setUp(domains: 2)
        let agent = try BackgroundProcess(Command.nephometer, ["agent", "--namespaces", "compute", "--libvirt-uri", s.uri,
                                                               "--polling", s.polling, "--pipeline", s.pipeline],
                                          logDirectory: dir.path, name: "agent")
        #expect(eventually(timeout: 20) { lines(s.output).count >= 8 })
        agent.signal(SIGTERM)
        #expect(agent.wait(timeout: 15) == 0)
        #expect(agent.stderr.contains("received SIGTERM; stopping"))
        #expect(agent.stderr.contains("flushing publishers"))
        #expect(lines(s.output).count % 8 == 0)
    }

    @Test func validateAcceptsCeilometersShippedFiles() throws {
        for (polling, pipeline) in [("polling-master.yaml", "pipeline-27.0.0.yaml"), ("polling_all-master.yaml", "pipeline-27.0.0.yaml"),
                                    ("polling-18.1.0.yaml", "pipeline-11.1.0-transformers.yaml")] {
            let r = try Command.nephometer(["validate", "--polling", Fixtures.path("ceilometer-configs/\(polling)"),
                                            "--pipeline", Fixtures.path("ceilometer-configs/\(pipeline)")],
                                           directory: dir.path)
            #expect(r.status == 0, "\(polling) + \(pipeline): \(r.stdout)")
            #expect(r.lines.count == 1 && r.stdout.hasPrefix("valid: "))
            // gnocchi:// is implemented now: no warning that it is skipped.
            #expect(!r.stderr.contains("'gnocchi://' is a Ceilometer publisher Nephometer does not implement"), "\(r.stderr)")
        }
    }

    @Test func validateRejectsWithPositionsAndExitOne() throws {
        let s = try setUp()
        let bad = try dir.write("bad.yaml", "sources:\n  - name: x\n    interval: -5\n    meters: [cpu, '!vcpus']\n")
        let r = try Command.nephometer(["validate", "--polling", bad, "--pipeline", s.pipeline], directory: dir.path)
        #expect(r.status == 1)
        #expect(r.lines == [
            "\(bad):3:15: sources[0].interval: expected interval in seconds between 1 and 2147483647, got -5",
            "\(bad):4:13: sources[0].meters: Both included and excluded meters specified (expected either names to include, or '!'-prefixed names to exclude from everything, or \"*\" with exclusions; got 'cpu' with '!vcpus')",
            "2 error(s)",
        ])
        // A config that fails validation never starts an agent.
        let a = try Command.nephometer(["agent", "--namespaces", "compute", "--polling", bad, "--pipeline", s.pipeline, "--cycles", "1"])
        #expect(a.status == 1 && a.stderr.contains("configuration is invalid") && a.stdout.isEmpty)
    }

    @Test func repositoryDefaultsValidate() throws {
        let r = try Command.nephometer(["validate"], directory: Fixtures.root.path)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.hasPrefix("valid: etc/polling.yaml"))
    }

    @Test(arguments: [["--help"], ["agent", "--help"], ["poll", "--help"], ["validate", "--help"]])
    func everyCommandExplainsItselfWithAnExample(args: [String]) throws {
        let r = try Command.nephometer(args)
        #expect(r.status == 0)
        #expect(r.stdout.contains("Example"))
        #expect(r.stdout.contains("USAGE"))
    }

    @Test func unwritableFilePublisherIsAClearError() throws {
        let s = try setUp(publisher: "file:///etc/hostname/samples.log")
        let r = try Command.nephometer(["poll", "--namespaces", "compute", "--once", "--publish",
                                        "--libvirt-uri", s.uri, "--polling", s.polling, "--pipeline", s.pipeline])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(s.pipeline):7:18: sinks[0].publishers[0]: cannot create /etc/hostname/samples.log: /etc/hostname is not a directory"))
    }

    @Test func filePublisherRotatesLikeRotatingFileHandler() throws {
        let out = dir.file("rot/samples.log")
        let s = try setUp(domains: 5, publisher: "file://\(out)?max_bytes=4000&backup_count=2&json")
        let r = try Command.nephometer(["poll", "--namespaces", "compute", "--once", "--publish", "--format", "json",
                                        "--libvirt-uri", s.uri, "--polling", s.polling, "--pipeline", s.pipeline])
        #expect(r.status == 0, "\(r.stderr)")
        let files = [out, out + ".1", out + ".2"]
        for f in files {
            #expect(FileManager.default.fileExists(atPath: f))
            let size = (try? FileManager.default.attributesOfItem(atPath: f)[.size] as? Int) ?? 0
            #expect(size > 0 && size < 4000)
        }
        #expect(!FileManager.default.fileExists(atPath: out + ".3"))
        // Only whole lines, each a sample dict; the newest samples are in the live file.
        let kept = files.flatMap(lines)
        for l in kept { #expect(try JSONParser.parse(l).objectValue?.keys == Self.sampleKeys) }
        #expect(lines(out).last == r.lines.last)
    }
}

/// The compute agent feeding a rate_of_change sink, as Ceilometer's cpu_util pipeline did.
@Suite struct CPUUtilEndToEndTests {
    @Test func agentComputesCPUUtilBetweenZeroAndHundred() throws {
        let dir = TemporaryDirectory("nephometer-cpuutil")
        let uri = try LibvirtTestNode.uniform(count: 3).write(to: dir.file("node.xml"))
        let polling = try dir.write("polling.yaml", "sources:\n  - {name: cpu, interval: 1, meters: [cpu]}\n")
        let out = dir.file("util.log")
        let pipeline = try dir.write("pipeline.yaml", """
        sources:
          - {name: cpu_source, meters: [cpu], sinks: [cpu_sink]}
        sinks:
          - name: cpu_sink
            transformers:
              - name: rate_of_change
                parameters:
                  target:
                    name: cpu_util
                    unit: "%"
                    type: gauge
                    max: 100
                    scale: "100.0 / (10**9 * (resource_metadata.cpu_number or 1))"
            publishers: ["file://\(out)"]
        """)
        let r = try Command.nephometer(["agent", "--namespaces", "compute", "--cycles", "2", "--libvirt-uri", uri,
                                        "--polling", polling, "--pipeline", pipeline])
        #expect(r.status == 0, "\(r.stderr)")
        let samples = try ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").map { try JSONParser.parse(String($0)) }
        #expect(samples.count == 3)
        for s in samples {
            #expect(s["name"] == .string("cpu_util") && s["unit"] == .string("%") && s["type"] == .string("gauge"))
            let v = s["volume"]?.numberValue?.doubleValue ?? -1
            #expect(v >= 0 && v <= 100)
            // The test driver's CPU time advances with the wall clock: one CPU busy, over 2 vCPUs ≈ 50 %.
            #expect(abs(v - 50) < 5)
        }
    }
}

@Suite struct FilePublisherConcurrencyTests {
    @Test func twoAgentsShareARotatingFileWithoutLosingOrMixingLines() throws {
        let dir = TemporaryDirectory("nephometer-shared-file")
        let uri = try LibvirtTestNode.uniform(count: 10).write(to: dir.file("node.xml"))
        let polling = try dir.write("polling.yaml", "sources:\n  - {name: c, interval: 1, meters: [cpu, vcpus, memory.usage, power.state]}\n")
        let out = dir.file("shared.log")
        let pipeline = try dir.write("pipeline.yaml", """
        sources:
          - {name: s, meters: ["*"], sinks: [k]}
        sinks:
          - {name: k, publishers: ["file://\(out)?max_bytes=20000&backup_count=100"]}
        """)
        let args = ["agent", "--namespaces", "compute", "--cycles", "3", "--libvirt-uri", uri,
                    "--polling", polling, "--pipeline", pipeline, "--print", "json"]
        let a = try BackgroundProcess(Command.nephometer, args, logDirectory: dir.path, name: "a")
        let b = try BackgroundProcess(Command.nephometer, args, logDirectory: dir.path, name: "b")
        #expect(a.wait(timeout: 60) == 0 && b.wait(timeout: 60) == 0)
        let printed = (a.stdout + b.stdout).split(separator: "\n").compactMap { try? JSONParser.parse(String($0))["id"]?.stringValue }
        #expect(printed.count == 2 * 3 * 40)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("shared.log") }
        #expect(files.count > 3)
        var written: [String] = []
        for f in files {
            let text = try String(contentsOfFile: dir.file(f), encoding: .utf8)
            for line in text.split(separator: "\n") {
                let v = try JSONParser.parse(String(line))
                written.append(v["id"]?.stringValue ?? "")
            }
        }
        #expect(written.count == printed.count)
        #expect(Set(written) == Set(printed))
    }
}

/// The test suite's own hygiene: a daemon left running by a test process that ended without stopping
/// it is stopped by the reaper (and `scripts/check-test-daemons.sh` would name any it could not stop).
@Suite struct TestDaemonReaperTests {
    let dir = TemporaryDirectory("reaper")

    @Test func aDaemonLeftByADeadTestProcessIsStopped() throws {
        let testbed = URL(fileURLWithPath: Command.nephometer).deletingLastPathComponent().appendingPathComponent("nephometer-testbed").path
        let r = try Command.run(testbed, ["leak-daemon", "--log-directory", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        let pid = try #require(Int32(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(eventually(timeout: 10) { kill(pid, 0) != 0 }, "the leaked sleep (pid \(pid)) is still running")
        let logPath = "\(ProcessReaper.root)/reaped.log"
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        #expect(log.contains("leaked-sleep (pid \(pid))"))
        // This leak was on purpose: keep it out of the suite's report of daemons tests forgot.
        let rest = log.split(separator: "\n").filter { !$0.contains("leaked-sleep (pid \(pid))") }.joined(separator: "\n")
        try? (rest.isEmpty ? "" : rest + "\n").write(toFile: logPath, atomically: true, encoding: .utf8)
    }
}

import Foundation
import Logging
import NephometerCore
import NephometerPublishers
import TestSupport

/// Samples per second into Gnocchi: our `gnocchi://` publisher against Ceilometer 27's own Gnocchi
/// publisher (`Benchmarks/peers/ceilometer_gnocchi_publish.py`), same Keystone, Gnocchi, samples and
/// batch size, in the same run. Each first publishes `--warmup` samples untimed (resources created,
/// caches filled), then the rest is timed until Gnocchi accepted the last batch.
enum GnocchiBenchmark {
    static func run(_ args: ArraySlice<String>) async throws {
        let count = option(args, "samples", default: 20_000)
        let batch = option(args, "batch", default: 50)
        let warmup = option(args, "warmup", default: 1_000)
        let runs = option(args, "runs", default: 3)
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        let dir = TemporaryDirectory("gnocchi-bench")
        // `--env-dir D`: the daemons were started there beforehand (`scripts/bench-openstack.sh`), outside the
        // benchmark's CPU pinning; otherwise they are started here and share its pinning.
        let envDir = option(args, "env-dir", default: "")
        let env = try OpenStackEnv(components: ["keystone", "gnocchi", "notification"], directory: envDir.isEmpty ? nil : envDir)
        defer { env.stop() }
        let ks = env.env["keystone"]
        let user = ks?["service_users"]?["ceilometer"]
        var credentials = ServiceCredentials()
        credentials.authURL = ks?["auth_url"]?.stringValue
        credentials.username = user?["username"]?.stringValue
        credentials.password = user?["password"]?.stringValue
        credentials.projectName = "service"
        let conf = try dir.write("ceilometer.conf", """
            [service_credentials]
            auth_type = password
            auth_url = \(credentials.authURL ?? "")
            username = \(credentials.username ?? "")
            password = \(credentials.password ?? "")
            project_name = service
            user_domain_name = Default
            project_domain_name = Default

            """)
        let url = "gnocchi://?archive_policy=low&filter_project=service"
        var ours: [Double] = [], oursCPU: [Double] = [], theirs: [Double] = [], theirsCPU: [Double] = []
        for r in 0..<runs {
            // Fresh resources per run and per publisher, so both create theirs in the warm-up.
            let mine = BenchSamples.compute(count).map { s -> Sample in var s = s; s.resourceID = "a\(r)" + s.resourceID.dropFirst(2); return s }
            let peer = BenchSamples.compute(count).map { s -> Sample in var s = s; s.resourceID = "b\(r)" + s.resourceID.dropFirst(2); return s }
            let samplesFile = dir.file("samples\(r).json")
            try JSONWriter.string(.array(peer.map { .object($0.asDict) })).write(toFile: samplesFile, atomically: true, encoding: .utf8)

            var context = PublisherContext(telemetrySecret: "bench-secret", spoolDirectory: dir.file("spool\(r)"))
            context.serviceCredentials = credentials
            guard case .publisher(let p) = try PublisherFactory.make(url: url, context: context, logger: Logger(label: "bench")) else { return }
            func publish(_ part: ArraySlice<Sample>) async {
                var i = part.startIndex
                while i < part.endIndex {
                    let end = min(i + batch, part.endIndex)
                    await p.publish(Array(part[i..<end]))
                    i = end
                }
            }
            func delivered() async -> Int { await p.deliveryStatistics()?.deliveredSamples ?? 0 }
            await publish(mine.prefix(warmup))
            while await delivered() < warmup { try await Task.sleep(for: .milliseconds(5)) }
            let start = DispatchTime.now().uptimeNanoseconds, cpu0 = processCPUSeconds()
            await publish(mine.dropFirst(warmup))
            while await delivered() < count { try await Task.sleep(for: .milliseconds(2)) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            ours.append(Double(count - warmup) / seconds)
            oursCPU.append((processCPUSeconds() - cpu0) / Double(count - warmup) * 1e6)
            await p.close()

            let (s, c) = try CeilometerPeer.run("ceilometer_gnocchi_publish.py", [conf, samplesFile, "\(batch)", url, "\(warmup)"], env: env)
            theirs.append(Double(count - warmup) / s)
            theirsCPU.append(c / Double(count - warmup) * 1e6)
        }
        let o = Stats(values: ours), t = Stats(values: theirs)
        print("into Gnocchi \(env["gnocchi", "version"] ?? "") with Keystone, \(count - warmup) timed samples (after \(warmup) untimed) in batches of \(batch), \(runs) runs")
        print("  nephometer:        samples/s median \(format(o.median)) (min \(format(o.min)), max \(format(o.max))); CPU µs/sample median \(format(Stats(values: oursCPU).median, 1))")
        print("  ceilometer 27:     samples/s median \(format(t.median)) (min \(format(t.min)), max \(format(t.max))); CPU µs/sample median \(format(Stats(values: theirsCPU).median, 1))")
        print("  ratio (median samples/s): \(format(o.median / t.median, 1))x")
    }
}

import Foundation
import Logging
import NephometerCore
import NephometerPublishers
import TestSupport

/// Signed samples per second onto the notification bus with publisher confirms: our notifier
/// (the agent's bus publisher, through the shared delivery) against Ceilometer 27's own publish path
/// (oslo.messaging 18, `Benchmarks/peers/ceilometer_bus_publish.py`), same broker, same samples, same
/// batch size, in the same run. Run it pinned to one core (`taskset -c 0`): the peer inherits it.
enum BusBenchmark {
    static func run(_ args: ArraySlice<String>) async throws {
        let count = option(args, "samples", default: 20_000)
        let batch = option(args, "batch", default: 50)
        let runs = option(args, "runs", default: 3)
        LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }
        let dir = TemporaryDirectory("bus-bench")
        // `--env-dir D`: the daemons were started there beforehand (`scripts/bench-openstack.sh`), outside the
        // benchmark's CPU pinning; otherwise they are started here and share its pinning.
        let envDir = option(args, "env-dir", default: "")
        let env = try OpenStackEnv(components: ["rabbitmq"], directory: envDir.isEmpty ? nil : envDir)
        defer { env.stop() }
        let samples = BenchSamples.compute(count)
        let samplesFile = dir.file("samples.json")
        try JSONWriter.string(.array(samples.map { .object($0.asDict) })).write(toFile: samplesFile, atomically: true, encoding: .utf8)
        let conf = try dir.write("ceilometer.conf", "[DEFAULT]\ntransport_url = \(env.transportURL)\n[publisher]\ntelemetry_secret = bench-secret\n")
        var settings = MessagingSettings()
        settings.transportURL = env.transportURL
        settings.batchSize = batch
        var ours: [Double] = [], oursCPU: [Double] = [], theirs: [Double] = [], theirsCPU: [Double] = []
        for r in 0..<runs {
            try env.rabbitmqctl(["purge_queue", "notifications.sample"])
            let context = PublisherContext(telemetrySecret: "bench-secret", spoolDirectory: dir.file("spool\(r)"))
            guard let bus = try NotifierPublisher.bus(settings, context: context, logger: Logger(label: "bench")) else { return }
            await bus.publish(Array(samples.prefix(1)))   // warm-up: connection and declarations
            await bus.flush()
            let start = DispatchTime.now().uptimeNanoseconds, cpu0 = processCPUSeconds()
            var i = 0
            while i < samples.count {
                let end = min(i + batch, samples.count)
                await bus.publish(Array(samples[i..<end]))
                i = end
            }
            while (await bus.deliveryStatistics()?.deliveredSamples ?? 0) < count + 1 { try await Task.sleep(for: .milliseconds(2)) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            ours.append(Double(count) / seconds)
            oursCPU.append((processCPUSeconds() - cpu0) / Double(count) * 1e6)
            await bus.close()

            try env.rabbitmqctl(["purge_queue", "notifications.sample"])
            let (s, c) = try CeilometerPeer.run("ceilometer_bus_publish.py", [conf, samplesFile, "\(batch)"], env: env)
            theirs.append(Double(count) / s)
            theirsCPU.append(c / Double(count) * 1e6)
        }
        let o = Stats(values: ours), t = Stats(values: theirs)
        print("notification bus with confirms, \(count) signed samples in batches of \(batch), \(runs) runs, same RabbitMQ (\(env["rabbitmq", "version"] ?? "?"))")
        print("  nephometer:        samples/s median \(format(o.median)) (min \(format(o.min)), max \(format(o.max))); CPU µs/sample median \(format(Stats(values: oursCPU).median, 1))")
        print("  ceilometer 27:     samples/s median \(format(t.median)) (min \(format(t.min)), max \(format(t.max))); CPU µs/sample median \(format(Stats(values: theirsCPU).median, 1))")
        print("  ratio (median samples/s): \(format(o.median / t.median, 1))x")
    }
}

import Foundation
import NephometerCore
import NephometerPublishers

/// A snapshot of the running agent: what `/status`, `/healthz` and `/metrics` are made from.
public struct AgentStatus: Sendable {
    public struct PublisherState: Sendable {
        public var url: String
        public var delivery: DeliveryStatistics?
    }
    public struct Group: Sendable {
        public var name: String
        public var members: [String: Int]
        public var owned: Int
    }

    public var namespaces: [String]
    public var host: String
    public var version: String
    public var configFiles: [(String, String)]
    public var startedAt: Double
    public var intervals: [Int]
    public var cycles: [Int: CycleStatistics.Figures]
    public var cyclesRunning: [Int: Double]
    public var jitter: Double
    public var publishers: [PublisherState]
    public var families: [FamilyStatus]
    public var memberID: String?
    public var groups: [Group]
    public var queueSamples: Int
    public var queueBatches: Int
    public var queueDropped: Int
    public var reloadsSucceeded: Int
    public var reloadsFailed: Int
    public var lastReload: String

    /// A spool above this fraction of its bound makes the agent unhealthy.
    public static let spoolHighWater = 0.8

    /// Why the agent is not healthy, or nothing: every scheduled interval finished a cycle within two
    /// of its intervals (the first one may also take its jitter), no publisher's spool is above its
    /// high-water mark or dropping at its bound while the far end fails, and every spool can be written.
    public func unhealthy(now: Double = Date().timeIntervalSince1970) -> [String] {
        var out: [String] = []
        for interval in intervals {
            let allowed = 2 * Double(interval)
            if let last = cycles[interval] {
                let age = now - last.finishedAt
                if age > allowed {
                    out.append("interval \(interval) s: the last cycle finished \(Int(age)) s ago (more than two intervals)")
                }
            } else if now - startedAt > allowed + jitter * Double(interval) {
                out.append("interval \(interval) s: no cycle finished in the \(Int(now - startedAt)) s since start")
            }
        }
        for p in publishers {
            guard let d = p.delivery, d.spoolLimit > 0 else { continue }
            let fill = Double(d.spoolBytes) / Double(d.spoolLimit)
            if fill > Self.spoolHighWater {
                out.append("publisher \(p.url): spool at \(Int(fill * 100)) % of its bound (\(d.spoolBytes) of \(d.spoolLimit) bytes)")
            } else if d.failing, let dropped = d.droppedSamples["spool_full"], dropped > 0 {
                out.append("publisher \(p.url): far end failing and the spool dropped \(dropped) sample(s) at its bound of \(d.spoolLimit) bytes")
            }
            if let problem = d.spoolProblem {
                out.append("publisher \(p.url): cannot write its spool: \(problem)")
            }
        }
        return out
    }

    /// The snapshot values `/metrics` exports (gauges, and counters from snapshots).
    func metricValues() -> [SnapshotMetrics.Value] {
        var v: [SnapshotMetrics.Value] = []
        func g(_ n: String, _ help: String, _ labels: [(String, String)], _ x: Double) { v.append(.init(name: n, help: help, labels: labels, value: x, counter: false)) }
        func c(_ n: String, _ help: String, _ labels: [(String, String)], _ x: Int) { v.append(.init(name: n, help: help, labels: labels, value: Double(x), counter: true)) }
        g("nephometer_build_info", "Build of the running agent (always 1)", [("version", version)], 1)
        g("nephometer_start_time_seconds", "When the agent started, in seconds since the epoch", [], startedAt)
        for (interval, f) in cycles {
            let l = [("interval", "\(interval)")]
            g("nephometer_cycle_last_duration_seconds", "Duration of the last polling cycle of an interval", l, f.seconds)
            g("nephometer_cycle_last_samples", "Samples of the last polling cycle of an interval", l, Double(f.samples))
            g("nephometer_cycle_last_end_time_seconds", "When the last polling cycle of an interval ended, in seconds since the epoch", l, f.finishedAt)
            c("nephometer_cycles_total", "Polling cycles run, by interval", l, f.cycles)
        }
        g("nephometer_pipeline_queue_samples", "Samples waiting between polling and the pipeline", [], Double(queueSamples))
        g("nephometer_pipeline_queue_batches", "Batches waiting between polling and the pipeline", [], Double(queueBatches))
        for p in publishers {
            guard let d = p.delivery else { continue }
            let l = [("publisher", p.url)]
            c("nephometer_publisher_delivered_samples_total", "Samples a publisher delivered", l, d.deliveredSamples)
            c("nephometer_publisher_refused_samples_total", "Samples the far end refused for good (not retried)", l, d.refusedSamples)
            c("nephometer_publisher_failed_attempts_total", "Delivery attempts that failed and were retried", l, d.failedAttempts)
            c("nephometer_publisher_spool_writes_total", "Batches written to a publisher's spool", l, d.spoolWrites)
            for reason in ["spool_full", "max_age", "memory", "shutdown", "damaged"] {
                c("nephometer_publisher_dropped_samples_total", "Samples a publisher dropped at a bound, by reason", l + [("reason", reason)], d.droppedSamples[reason] ?? 0)
            }
            g("nephometer_publisher_queue_batches", "Batches waiting in a publisher (memory and spool)", l, Double(d.queuedBatches))
            g("nephometer_publisher_spooled_batches", "Batches waiting in a publisher's spool", l, Double(d.spooledBatches))
            g("nephometer_publisher_spool_bytes", "Bytes of a publisher's spool", l, Double(d.spoolBytes))
            g("nephometer_publisher_spool_limit_bytes", "Bound of a publisher's spool in bytes", l, Double(d.spoolLimit))
            g("nephometer_publisher_memory_bytes", "Bytes of batches a publisher holds in memory", l, Double(d.memoryBytes))
            g("nephometer_publisher_failing", "1 while a publisher's far end fails", l, d.failing ? 1 : 0)
        }
        for gr in groups {
            let l = [("group", gr.name)]
            g("nephometer_ring_members", "Members of a coordination group", l, Double(gr.members.count))
            g("nephometer_ring_owned_resources", "Resources this agent owns in a coordination group", l, Double(gr.owned))
        }
        for f in families {
            for x in f.values { v.append(.init(name: x.name, help: x.help, labels: x.labels, value: x.value, counter: x.isCounter)) }
        }
        return v
    }
}

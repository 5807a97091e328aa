import Logging
import NephometerCore
import NephometerPipeline
import NephometerPublishers
import ServiceLifecycle
import Synchronization

/// Takes batches from the queue into the pipeline, and runs the publishers' deliveries, in structured
/// concurrency. On a graceful stop (after polling stopped): what is queued goes through the pipeline,
/// sinks release what transformers hold, publishers deliver within their timeout and spool the rest.
final class PipelineService: Service, Sendable {
    let queue: SampleQueue
    let logger: Logger
    private let current: Mutex<Pipeline>
    private let starts = AsyncStream<any Publisher>.makeStream()
    private let started = Mutex<Set<ObjectIdentifier>>([])

    /// The notification bus: every polled sample, before and besides the pipeline (ceilometer-polling's
    /// path). Kept across reloads.
    let bus: (any Publisher)?

    /// Ceilometer's Prometheus exporter: every polled sample, as the bus.
    let exporter: CeilometerExporter?

    init(pipeline: Pipeline, bus: (any Publisher)? = nil, exporter: CeilometerExporter? = nil, queue: SampleQueue, logger: Logger) {
        self.exporter = exporter
        current = Mutex(pipeline)
        self.queue = queue
        self.logger = logger
        self.bus = bus
        if let bus { start(bus) }
        for p in pipeline.publishers { start(p) }
    }

    var pipeline: Pipeline { current.withLock { $0 } }

    /// The bus, then the pipeline's publishers by URL (for `/status` and `/metrics`).
    var allPublishers: [any Publisher] {
        (bus.map { [$0] } ?? []) + pipeline.publishers.sorted(by: { $0.displayURL < $1.displayURL })
    }

    /// Runs a publisher's delivery in the service's task group (once).
    private func start(_ p: any Publisher) {
        let id = ObjectIdentifier(p as AnyObject)
        guard started.withLock({ $0.insert(id).inserted }) else { return }
        starts.continuation.yield(p)
    }

    /// After a reload: the new pipeline takes the next batches; sinks and publishers it does not reuse
    /// are drained and closed.
    func replace(with new: Pipeline) async {
        let old = current.withLock { p -> Pipeline in defer { p = new }; return p }
        for p in new.publishers { start(p) }
        await old.retire(keeping: new)
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { [starts] in
                await withDiscardingTaskGroup { runs in
                    for await p in starts.stream { runs.addTask { await p.run() } }
                }
            }
            await withGracefulShutdownHandler {
                while let batch = await queue.next() {
                    logger.trace("batch to the pipeline", metadata: ["samples": "\(batch.count)", "pollster": "\(batch.first?.name ?? "")"])
                    await bus?.publish(batch)
                    exporter?.record(batch)
                    await pipeline.publish(batch)
                }
            } onGracefulShutdown: { [queue] in
                queue.close()
            }
            // Polling has stopped and the queue is empty: release what sinks hold, deliver or spool.
            logger.info("stopping: flushing publishers (transformers release what they hold first)")
            await pipeline.shutdown()
            await bus?.close()
            starts.continuation.finish()
        }
    }
}

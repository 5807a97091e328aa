import NIOCore
import NIOPosix

/// Runs the agent's tasks on one NIO event loop thread — the one its HTTP client, AMQP connections
/// and status server use — instead of Swift's global pool.
///
/// On 2 cores the agent's own work per cycle is small and mostly waiting: a batch goes from the
/// polling loop through the pipeline to a publisher's delivery and out on a socket, and the answer
/// comes back. On the global pool each of those steps wakes another thread (the pool's, then the
/// event loop's, then the pool's again); here a step that the loop thread itself schedules runs on
/// it without waking anyone. What blocks never runs here: libvirt calls have their own lanes, file
/// I/O its `BlockingQueue`, SNMP its epoll thread (the same rule as for the global pool).
public final class EventLoopTaskExecutor: TaskExecutor {
    public let loop: any EventLoop

    public init(_ loop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()) {
        self.loop = loop
    }

    /// Whether the caller runs on the executor's thread.
    public var isCurrent: Bool { loop.inEventLoop }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { [self] in job.runSynchronously(on: asUnownedTaskExecutor()) }
    }
}

import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads on SIGHUP, and — with `--watch-config` — when one of the files changes (polled every 2 s:
/// modification time and size), until the agent stops.
struct ReloadService: Service {
    let agent: Agent
    let watch: [String]

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sighup) { await agent.reload() }
                }
                if !watch.isEmpty {
                    group.addTask {
                        // stat(2) is file I/O: on the agent's config thread, not the cooperative pool.
                        let io = agent.io
                        var last = await io.run { Self.stamps(watch) }
                        while !Task.isCancelled {
                            try? await Task.sleep(for: .seconds(2))
                            let now = await io.run { Self.stamps(watch) }
                            if now != last {
                                last = now
                                await agent.reload()
                            }
                        }
                    }
                }
            }
        }
    }

    static func stamps(_ files: [String]) -> [String] {
        files.map { f in
            var st = stat()
            guard stat(f, &st) == 0 else { return "\(f): missing" }
            return "\(f): \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_size)"
        }
    }
}

/// Logs the signal that starts a graceful stop (the service group acts on it), and exits at once on a
/// second one (status 130). Put first in the group: it is the last service stopped.
public struct SignalEscalationService: Service {
    let logger: Logger
    public init(logger: Logger) { self.logger = logger }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown { [logger] in
            var seen = 0
            for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
                seen += 1
                if seen == 1 {
                    logger.notice("received \(signal); stopping (a second signal exits at once)")
                } else {
                    logger.warning("received \(signal) again during the graceful stop; exiting now")
                    exit(130)
                }
            }
        }
    }
}

import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Ceilometer's heartbeat socket (`[polling] heartbeat_socket_dir`, Ceilometer 24+), for tools written
/// against it: a UNIX stream socket `<dir>/ceilometer-<sorted namespaces joined by '-'>.socket`; each
/// connection receives one line per pollster, `<pollster name> <ISO timestamp of the start of its last
/// poll>`, and is closed.
struct HeartbeatSocketService: Service {
    let directory: String
    let namespaces: [String]
    let statistics: CycleStatistics
    let logger: Logger

    var path: String { "\(directory)/ceilometer-\(Set(namespaces).sorted().joined(separator: "-")).socket" }

    func run() async throws {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        unlink(path)
        let stats = statistics
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        logger.info("heartbeat socket at \(path)")
        try? await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await c in connections {
                        group.addTask {
                            try? await c.executeThenClose { _, out in
                                let lines = stats.pollsterStarts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined()
                                try await out.write(ByteBuffer(string: lines))
                            }
                        }
                    }
                }
            }
        }
        unlink(path)
    }
}

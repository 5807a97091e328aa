import Logging
import NephometerCoordination
import NephometerCore
import ServiceLifecycle

/// The schedule as a service: runs the polling manager's loops; a graceful stop stops scheduling, lets
/// a running cycle finish (the service group's grace period bounds it: after it the cycle is
/// cancelled), then returns. With `cycles`, it returns after that many cycles of every interval, and
/// the agent stops.
struct PollingService: Service {
    let manager: PollingManager
    let cycles: Int?

    func run() async throws {
        await withGracefulShutdownHandler {
            await manager.run(cycles: cycles)
        } onGracefulShutdown: { [manager] in
            manager.stopScheduling()
        }
    }
}

/// Coordination as a service: membership heartbeats and watches run until a graceful stop, which leaves
/// every group at once (the members that stay take the resources over as soon as they see it, not
/// after the lease TTL).
struct MembershipService: Service {
    let partitioner: Partitioner

    func run() async throws {
        try? await cancelWhenGracefulShutdown { [partitioner] in await partitioner.run() }
        await partitioner.stop()
    }
}

// Short names for swift-service-lifecycle's log lines (it logs each service's description).
extension PollingService: CustomStringConvertible { var description: String { "PollingService" } }
extension HeartbeatSocketService: CustomStringConvertible { var description: String { "HeartbeatSocketService" } }
extension ReloadService: CustomStringConvertible { var description: String { "ReloadService" } }
extension SignalEscalationService: CustomStringConvertible { public var description: String { "SignalEscalationService" } }
extension FamiliesService: CustomStringConvertible { var description: String { "FamiliesService" } }
extension PipelineService: CustomStringConvertible { var description: String { "PipelineService" } }
extension MembershipService: CustomStringConvertible { var description: String { "MembershipService" } }

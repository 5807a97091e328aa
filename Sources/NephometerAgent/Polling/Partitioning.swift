import NephometerCoordination
import NephometerCore

/// The coordination module's partitioner is the polling manager's resource filter.
extension Partitioner: ResourcePartitioner {}

import Foundation
import NephometerCore

/// Locations in the repository and its test fixtures.
public enum Fixtures {
    /// The repository root (found from this file's path).
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    public static func url(_ relative: String) -> URL { root.appendingPathComponent("Tests/Fixtures/\(relative)") }
    public static func path(_ relative: String) -> String { url(relative).path }

    public static func text(_ relative: String) throws -> String {
        try String(contentsOf: url(relative), encoding: .utf8)
    }

    /// Parses a fixture JSON file keeping key order and number kinds.
    public static func json(_ relative: String) throws -> MetadataValue {
        try JSONParser.parse(Array(try Data(contentsOf: url(relative))))
    }
}

/// A temporary directory removed when the value is deinitialised.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String
    public init(_ prefix: String = "nephometer-test") {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }
    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    @discardableResult
    public func write(_ name: String, _ contents: String) throws -> String {
        let p = file(name)
        try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try contents.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

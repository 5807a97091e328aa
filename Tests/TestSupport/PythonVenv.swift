import Foundation

/// A Python virtualenv with PyPI packages, created once per machine under the temporary directory and
/// reused (for interop tests against real tooz, and snmpsim).
public enum PythonVenv {
    public static func ensure(name: String, packages: [String], python: String = "/usr/bin/python3") throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nephometer-venv-\(name)").path
        let marker = "\(dir)/.installed-" + packages.joined(separator: "_").replacingOccurrences(of: "/", with: "_")
        if FileManager.default.fileExists(atPath: marker) { return dir }
        let interpreter = FileManager.default.isExecutableFile(atPath: python) ? python : try Command.which("python3")
        var r = try Command.run(interpreter, ["-m", "venv", dir], timeout: 300)
        guard r.status == 0 else { throw DaemonFailed(name: "python venv", log: r.stderr) }
        r = try Command.run("\(dir)/bin/pip", ["install", "-q", "--disable-pip-version-check"] + packages, timeout: 900)
        guard r.status == 0 else { throw DaemonFailed(name: "pip install \(packages.joined(separator: " "))", log: r.stderr) }
        FileManager.default.createFile(atPath: marker, contents: nil)
        return dir
    }
}

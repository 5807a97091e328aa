import Foundation
import Logging
import NephometerPublishers
import Testing
import TestSupport

@Suite struct SpoolTests {
    let dir = TemporaryDirectory("spool")

    @Test func entriesComeBackInOrderAndSurviveReopening() throws {
        let path = dir.file("p")
        do {
            let s = try Spool(directory: path, limits: .init(), logger: Logger(label: "t"))
            for i in 0..<5 { try s.append(Array("batch \(i)".utf8)) }
            let first = try #require(s.oldest())
            #expect(String(decoding: first.body, as: UTF8.self) == "batch 0")
            s.remove(first.sequence)
        }
        // A half-written entry from a crash is ignored.
        try "partial".write(toFile: "\(path)/00000000000000000099.json.tmp", atomically: false, encoding: .utf8)
        let s = try Spool(directory: path, limits: .init(), logger: Logger(label: "t"))
        #expect(s.count == 4)
        var seen: [String] = []
        while let e = s.oldest() { seen.append(String(decoding: e.body, as: UTF8.self)); s.remove(e.sequence) }
        #expect(seen == ["batch 1", "batch 2", "batch 3", "batch 4"])
        try s.append(Array("after".utf8))
        #expect(String(decoding: s.oldest()?.body ?? [], as: UTF8.self) == "after")
        #expect(!FileManager.default.fileExists(atPath: "\(path)/00000000000000000099.json.tmp"))
    }

    @Test func theOldestAreDroppedAndCountedAtTheSizeBound() throws {
        let s = try Spool(directory: dir.file("b"), limits: .init(maxBytes: 4096, maxAge: 3600), logger: Logger(label: "t"))
        let chunk = [UInt8](repeating: 0x41, count: 1000)
        for _ in 0..<10 { try s.append(chunk) }
        #expect(s.count == 4 && s.bytes == 4000 && s.dropped == 6)
    }

    @Test func entriesOlderThanTheAgeBoundAreDropped() throws {
        let s = try Spool(directory: dir.file("a"), limits: .init(maxBytes: 1 << 20, maxAge: 1), logger: Logger(label: "t"))
        try s.append(Array("old".utf8))
        Thread.sleep(forTimeInterval: 1.2)
        try s.append(Array("new".utf8))
        #expect(String(decoding: s.oldest()?.body ?? [], as: UTF8.self) == "new")
        #expect(s.dropped == 1)
    }
}

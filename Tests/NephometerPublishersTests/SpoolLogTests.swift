import Foundation
import Logging
@testable import NephometerPublishers
import Testing
import TestSupport

@Suite struct SpoolLogTests {
    let dir = TemporaryDirectory("spool-log")

    func record(_ text: String, samples: Int = 1) -> SpoolLog.Record {
        SpoolLog.Record(tag: "t", body: Array(text.utf8), samples: samples, created: 1_700_000_000)
    }

    @Test func recordsSurviveReopeningAndDoneOnesStayDone() throws {
        let path = dir.file("a")
        do {
            let log = try SpoolLog(directory: path, logger: Logger(label: "t"))
            let seqs = try log.append((0..<5).map { record("batch \($0)", samples: $0) })
            #expect(seqs == [1, 2, 3, 4, 5])
            #expect(String(decoding: try log.read(3).body, as: UTF8.self) == "batch 2")
            log.markDone(through: 2)
            log.saveCursor()
        }
        let log = try SpoolLog(directory: path, logger: Logger(label: "t"))
        #expect(log.recovered.map(\.sequence) == [3, 4, 5])
        #expect(log.recovered.map(\.samples) == [2, 3, 4])
        #expect(String(decoding: try log.read(5).body, as: UTF8.self) == "batch 4")
        #expect(try log.read(5).tag == "t")
        #expect(try log.append([record("next")]) == [6])
        #expect(throws: SpoolError.self) { try log.read(1) }
    }

    @Test func aRecordCutShortByACrashIsCutOff() throws {
        let path = dir.file("b")
        do {
            let log = try SpoolLog(directory: path, logger: Logger(label: "t"))
            _ = try log.append([record("whole one"), record("whole two")])
        }
        // A crash in the middle of the next write: a header and half a body.
        let segment = "\(path)/\(SpoolLog.segmentName(1))"
        let size = try #require(FileManager.default.attributesOfItem(atPath: segment)[.size] as? Int)
        let h = try #require(FileHandle(forWritingAtPath: segment))
        h.seekToEndOfFile()
        h.write(Data([0x4E, 0x50, 0x53, 0x31, 100, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0]))
        h.write(Data(repeating: 0x41, count: 30))
        try h.close()
        do {
            let log = try SpoolLog(directory: path, logger: Logger(label: "t"))
            #expect(log.recovered.map(\.sequence) == [1, 2])
            #expect(try FileManager.default.attributesOfItem(atPath: segment)[.size] as? Int == size)
            #expect(try log.append([record("after")]) == [3])
            #expect(String(decoding: try log.read(3).body, as: UTF8.self) == "after")
        }
        // A flipped byte inside a record fails its CRC: that batch is skipped, the others are kept.
        let data = try #require(FileManager.default.contents(atPath: segment))
        var bytes = [UInt8](data)
        bytes[SpoolLog.headerSize + 3] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: segment))
        let again = try SpoolLog(directory: path, logger: Logger(label: "t"))
        #expect(again.recovered.map(\.sequence) == [2, 3])
        #expect(again.damaged == 1)
    }

    /// Two agents given the same spool directory (and publisher URL) would overwrite each other's
    /// records: the second one is refused with the holder's pid until the first closes its log.
    @Test func aSpoolDirectoryHasOneOwnerAtATime() throws {
        let path = dir.file("owned")
        var first: SpoolLog? = try SpoolLog(directory: path, logger: Logger(label: "t"))
        #expect(try first?.append([record("one")]) == [1])
        #expect(throws: SpoolError.self) { _ = try SpoolLog(directory: path, logger: Logger(label: "t")) }
        do {
            _ = try SpoolLog(directory: path, logger: Logger(label: "t"))
        } catch {
            #expect("\(error)".contains("is in use by another process (pid \(getpid()))"), "\(error)")
        }
        first = nil
        let second = try SpoolLog(directory: path, logger: Logger(label: "t"))
        #expect(second.recovered.map(\.sequence) == [1])
    }

    @Test func segmentsAreDeletedOnceEverythingInThemIsDone() throws {
        let path = dir.file("c")
        let log = try SpoolLog(directory: path, segmentBytes: 4096, logger: Logger(label: "t"))
        let body = String(repeating: "x", count: 1500)
        for _ in 0..<10 { _ = try log.append([record(body)]) }
        let segments = { try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".seg") }.count }
        #expect(try segments() >= 4)
        log.markDone(through: 10)
        #expect(try segments() == 0)
        #expect(log.bytesOnDisk == 0)
        #expect(try log.append([record("fresh")]) == [11])
    }

    @Test func batchesOfTheOneFilePerBatchSpoolAreImported() throws {
        let path = dir.file("legacy")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try "[1]".write(toFile: "\(path)/00000000000000000001.json", atomically: true, encoding: .utf8)
        try "[2]".write(toFile: "\(path)/00000000000000000002.json", atomically: true, encoding: .utf8)
        try "half".write(toFile: "\(path)/00000000000000000003.json.tmp", atomically: true, encoding: .utf8)
        let log = try SpoolLog(directory: path, logger: Logger(label: "t"))
        #expect(log.recovered.count == 2)
        #expect(try log.recovered.map { String(decoding: try log.read($0.sequence).body, as: UTF8.self) } == ["[1]", "[2]"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.contains(".json") }.isEmpty)
    }

    @Test func theAutomaticBoundHoldsTheConfiguredHoursOfMeasuredOutput() {
        var meter = RateMeter()
        // 1 MB/s for two minutes.
        for t in 0...120 { meter.record(bytes: 1_000_000, at: 1000 + Double(t)) }
        #expect(abs(meter.bytesPerSecond - 1_000_000) < 50_000)
        // One hour at that rate is 3.6 GB: the default (two hours) holds more.
        #expect(meter.bytesPerSecond * DeliveryOptions().spoolHoldSeconds >= 3600 * 1_000_000)
    }
}

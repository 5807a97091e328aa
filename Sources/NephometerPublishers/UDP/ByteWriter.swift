/// A growable byte buffer in manually managed memory, for the hot encoding paths.
///
/// A value type over a raw allocation so that writes are plain stores with no uniqueness or
/// exclusivity checks; the owner keeps exactly one copy and calls `deallocate()` once.
struct ByteWriter {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    func deallocate() { base.deallocate() }

    mutating func removeAll() { count = 0 }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    @inline(__always) mutating func reserve(_ n: Int) {
        if capacity - count < n { grow(n) }
    }

    @inline(never) private mutating func grow(_ n: Int) {
        let newCapacity = max(capacity * 2, count + n)
        let new = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        new.update(from: base, count: count)
        base.deallocate()
        base = new
        capacity = newCapacity
    }

    @inline(__always) mutating func append(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    @inline(__always) mutating func append(_ p: UnsafeRawBufferPointer) {
        guard let src = p.baseAddress, p.count > 0 else { return }
        reserve(p.count)
        UnsafeMutableRawPointer(base + count).copyMemory(from: src, byteCount: p.count)
        count += p.count
    }

    @inline(__always) mutating func append(_ s: StaticString) {
        append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    @inline(__always) mutating func append(_ a: [UInt8]) {
        a.withUnsafeBytes { append($0) }
    }

    /// The UTF-8 bytes of `s`, without a header.
    @inline(__always) mutating func appendUTF8(_ s: String) {
        if s.utf8.withContiguousStorageIfAvailable({ append(UnsafeRawBufferPointer($0)) }) == nil {
            for b in s.utf8 { append(b) }
        }
    }

    /// Decimal digits of `v`, as Python's `str(int)`.
    @inline(__always) mutating func appendDecimal(_ v: Int64) {
        if v < 0 {
            append(UInt8(ascii: "-"))
            appendDecimal(v.magnitude)
        } else {
            appendDecimal(UInt64(v))
        }
    }

    mutating func appendDecimal(_ v: UInt64) {
        reserve(20)
        var digits = 1
        var x = v
        while x >= 10 { x /= 10; digits += 1 }
        x = v
        var i = count + digits - 1
        repeat {
            base[i] = UInt8(truncatingIfNeeded: x % 10) &+ 0x30
            x /= 10
            i -= 1
        } while x > 0
        count += digits
    }

    @inline(__always) mutating func appendBigEndian<T: FixedWidthInteger>(_ v: T) {
        reserve(MemoryLayout<T>.size)
        UnsafeMutableRawPointer(base + count).storeBytes(of: v.bigEndian, toByteOffset: 0, as: T.self)
        count += MemoryLayout<T>.size
    }

    /// Skips `n` bytes to be filled in later at `base + offset`; returns that offset.
    @inline(__always) mutating func appendPlaceholder(_ n: Int) -> Int {
        reserve(n)
        defer { count += n }
        return count
    }
}

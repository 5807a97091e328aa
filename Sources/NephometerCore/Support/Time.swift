import Foundation

/// Time helpers matching Ceilometer's renderings.
public enum Time {
    /// `timeutils.utcnow().isoformat()`: naive UTC, microseconds, omitted when zero.
    public static func isoTimestamp(_ date: Date = Date()) -> String {
        var seconds = date.timeIntervalSince1970
        var micro = Int64((seconds * 1_000_000).rounded(.down)) % 1_000_000
        if micro < 0 { micro += 1_000_000 }
        seconds = seconds.rounded(.down)
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ w: Int) -> String {
            let s = String(v)
            return s.count >= w ? s : String(repeating: "0", count: w - s.count) + s
        }
        var out = "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
        out += "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
        if micro != 0 { out += "." + pad(Int32(micro), 6) }
        return out
    }

    /// Seconds of CLOCK_MONOTONIC, as Python's `time.monotonic()`.
    public static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Parses the ISO 8601 forms Ceilometer emits (`2024-01-01T00:00:00`, optional fraction, optional
    /// `Z` or `±HH:MM`) into seconds since the epoch. Returns nil for anything else.
    public static func parseISO(_ text: String) -> Double? {
        let b = Array(text.utf8)
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= b.count else { return nil }
            var v = 0
            for k in from..<from + len {
                guard b[k] >= 0x30 && b[k] <= 0x39 else { return nil }
                v = v * 10 + Int(b[k] - 0x30)
            }
            return v
        }
        guard b.count >= 19, let y = num(0, 4), b[4] == 0x2D, let mo = num(5, 2), b[7] == 0x2D, let d = num(8, 2),
              b[10] == UInt8(ascii: "T") || b[10] == 0x20, let h = num(11, 2), b[13] == 0x3A, let mi = num(14, 2),
              b[16] == 0x3A, let s = num(17, 2) else { return nil }
        var i = 19
        var frac = 0.0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 { frac += Double(b[i] - 0x30) * scale; scale /= 10; i += 1 }
        }
        var offset = 0
        if i < b.count {
            if b[i] == UInt8(ascii: "Z") { i += 1 }
            else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                guard let oh = num(i + 1, 2), i + 3 < b.count, b[i + 3] == 0x3A, let om = num(i + 4, 2) else { return nil }
                offset = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
                i += 6
            } else { return nil }
        }
        guard i == b.count else { return nil }
        // Days from civil (Howard Hinnant's algorithm).
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let mp = (mo + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return Double(days * 86400 + h * 3600 + mi * 60 + s - offset) + frac
    }
}

extension Duration {
    /// Seconds as a `Duration`, clamped to [0, about 292 years]: never traps on a huge, negative or
    /// non-finite value (such values are refused where they are parsed; this is the second line).
    public static func seconds(clamping s: Double) -> Duration {
        guard s.isFinite, s > 0 else { return s.isNaN || s <= 0 ? .zero : .seconds(Int64.max / 1_000_000_000) }
        let ns = s * 1e9
        return ns >= 9.2e18 ? .nanoseconds(Int64.max) : .nanoseconds(Int64(ns))
    }
}

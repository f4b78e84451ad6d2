#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One element of a packed encoding (listpack, ziplist, intset, zipmap): an integer or a byte
/// string lent from the blob (valid only inside the callback that receives it).
public enum PackedElement {
    case int(Int64)
    case bytes(UnsafeRawBufferPointer)

    /// The element as Redis would reply with it: integers in decimal.
    @inline(__always)
    public var materialized: [UInt8] {
        switch self {
        case .int(let v): return Decimal.bytes(v)
        case .bytes(let b): return [UInt8](b.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// The element as a sorted set listpack's score: an integer, or text that is a number
    /// (not NaN).
    @inlinable
    public func score() throws -> Double {
        switch self {
        case .int(let v): return Double(v)
        case .bytes(let b):
            guard let d = DoubleText.parse(b) else { throw PackedError("score is not a number") }
            if d.isNaN { throw PackedError("score is NaN") }
            return d
        }
    }

    /// Length of the element as a string (Redis's `len_largest_element`, memory estimates).
    public var stringLength: Int {
        switch self {
        case .int(let v): return Decimal.length(v)
        case .bytes(let b): return b.count
        }
    }
}

/// Integer <-> decimal text, byte-wise, with Redis's rules.
public enum Decimal {
    /// Decimal representation of `v` as bytes.
    public static func bytes(_ v: Int64) -> [UInt8] { withText(v) { Array($0) } }

    /// Appends the decimal text of `v` (no intermediate array).
    public static func append(_ v: Int64, to out: inout [UInt8]) {
        withText(v) { out.append(contentsOf: $0) }
    }

    /// Calls `body` with the decimal text of `v`, formed right to left in a stack buffer, after
    /// `prefix` when given and followed by CRLF when `crlf` (a RESP `:n` or `$n` line in one
    /// piece: the reply writer's hottest step).
    @inlinable @inline(__always)
    public static func withText<R>(_ v: Int64, prefix: UInt8? = nil, crlf: Bool = false,
                                   _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var tmp: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)   // prefix, sign, 20 digits, CRLF
        return try withUnsafeMutableBytes(of: &tmp) { b in
            var m = v.magnitude
            var p = 31
            if crlf { b[p] = 10; b[p - 1] = 13; p -= 2 }
            repeat { b[p] = UInt8(truncatingIfNeeded: 48 &+ m % 10); m /= 10; p -= 1 } while m > 0
            if v < 0 { b[p] = UInt8(ascii: "-"); p -= 1 }
            if let prefix { b[p] = prefix; p -= 1 }
            return try body(UnsafeRawBufferPointer(rebasing: b[(p + 1)...]))
        }
    }

    public static func length(_ v: Int64) -> Int {
        var m = v.magnitude
        var n = v < 0 ? 2 : 1
        while m >= 10 { m /= 10; n += 1 }
        return n
    }

    /// Redis's `string2ll`: the text is a canonical int64 (no leading zeros, no '+', no spaces,
    /// "-0" refused). Used to decide integer encodings exactly as Redis does.
    public static func parseCanonical(_ p: UnsafeRawBufferPointer) -> Int64? {
        let n = p.count
        if n == 0 || n > 20 { return nil }
        var i = 0
        var negative = false
        if p[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
            if n == 1 { return nil }
        }
        if p[i] == UInt8(ascii: "0") {
            // "0" alone is canonical; "-0" and leading zeros are not.
            return (n == 1) ? 0 : nil
        }
        var m: UInt64 = 0
        while i < n {
            let c = p[i]
            guard c >= 48 && c <= 57 else { return nil }
            let (a, o1) = m.multipliedReportingOverflow(by: 10)
            let (b, o2) = a.addingReportingOverflow(UInt64(c - 48))
            if o1 || o2 { return nil }
            m = b
            i += 1
        }
        if negative {
            if m > UInt64(Int64.max) + 1 { return nil }
            return m == UInt64(Int64.max) + 1 ? Int64.min : -Int64(m)
        }
        if m > UInt64(Int64.max) { return nil }
        return Int64(m)
    }

    public static func parseCanonical(_ bytes: [UInt8]) -> Int64? {
        bytes.withUnsafeBytes { parseCanonical($0) }
    }
}

/// Formats and parses doubles the way Redis writes them as text.
public enum DoubleText {
    /// Shortest text that parses back to the same double; "inf"/"-inf"/"nan" for the specials.
    public static func bytes(_ d: Double) -> [UInt8] {
        if d.isNaN { return Array("nan".utf8) }
        if d.isInfinite { return d < 0 ? Array("-inf".utf8) : Array("inf".utf8) }
        if d == d.rounded(), abs(d) < 1e17 {
            // Integral values print as integers, as Redis's d2string does.
            if d == 0 && d.sign == .minus { return Array("-0".utf8) }
            return Decimal.bytes(Int64(d))
        }
        return Array(d.description.utf8)
    }

    /// strtod-style parse of a score ("inf", "-inf", "+inf", decimal, exponent); the whole
    /// text must be consumed.
    public static func parse(_ p: UnsafeRawBufferPointer) -> Double? {
        let n = p.count
        if n == 0 || n > 255 { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { buf -> Double? in
            for i in 0..<n {
                let c = p[i]
                // strtod skips leading spaces and reads hex; Redis's score texts have neither.
                if c == 0 || c == 32 || (c >= 9 && c <= 13) { return nil }
                buf[i] = CChar(bitPattern: c)
            }
            buf[n] = 0
            var end: UnsafeMutablePointer<CChar>?
            let d = strtod(buf.baseAddress!, &end)
            guard let end, end == buf.baseAddress! + n else { return nil }
            return d
        }
    }

    public static func parse(_ bytes: [UInt8]) -> Double? { bytes.withUnsafeBytes { parse($0) } }
}

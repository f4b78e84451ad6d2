#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

/// Small collections packed into one byte buffer, as Redis keeps them in a listpack: each
/// element is its length (LEB128) followed by its bytes, so a 10-byte field costs 11 bytes
/// instead of a heap block of its own. Lookups scan the buffer, as Redis's do; the
/// `*-max-listpack-*` limits keep these buffers small.
enum Pack {
    @inline(__always)
    static func readLength(_ p: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Int {
        var b = p[i]
        i += 1
        if b < 0x80 { return Int(b) }
        var n = Int(b & 0x7F), shift = 7
        repeat {
            b = p[i]
            i += 1
            n |= Int(b & 0x7F) << shift
            shift += 7
        } while b >= 0x80
        return n
    }

    @inline(__always)
    static func appendLength(_ n: Int, to out: inout [UInt8]) {
        var v = n
        while v >= 0x80 { out.append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    @inline(__always)
    static func append(_ b: [UInt8], to out: inout [UInt8]) {
        appendLength(b.count, to: &out)
        out.append(contentsOf: b)
    }

    /// An element lent by the RDB reader: integers as their decimal text, as Redis replies.
    @inline(__always)
    static func append(_ e: PackedElement, to out: inout [UInt8]) {
        switch e {
        case .bytes(let b):
            appendLength(b.count, to: &out)
            out.append(contentsOf: b.assumingMemoryBound(to: UInt8.self))   // one copy, not a byte loop
        case .int(let v):
            appendLength(Decimal.length(v), to: &out)
            Decimal.append(v, to: &out)
        }
    }

    /// Writes `e` as a record element (length, then its text) at `out[w...]`; returns the end.
    /// The caller has made room (`lengthBound` per element plus its text).
    @inline(__always)
    static func write(_ e: PackedElement, _ out: UnsafeMutablePointer<UInt8>, _ w: Int) -> Int {
        switch e {
        case .bytes(let b):
            var w = writeLength(b.count, out, w)
            if b.count > 0 { memcpy(out + w, b.baseAddress!, b.count) }
            w += b.count
            return w
        case .int(let v):
            return Decimal.withText(v) { t in
                let w = writeLength(t.count, out, w)
                memcpy(out + w, t.baseAddress!, t.count)
                return w + t.count
            }
        }
    }

    @inline(__always)
    static func writeLength(_ n: Int, _ out: UnsafeMutablePointer<UInt8>, _ w: Int) -> Int {
        var v = n, w = w
        while v >= 0x80 { out[w] = UInt8(truncatingIfNeeded: v) | 0x80; v >>= 7; w += 1 }
        out[w] = UInt8(v)
        return w + 1
    }

    /// The most bytes `writeLength` takes for lengths up to `largest`.
    static func lengthBound(_ largest: Int) -> Int {
        var n = 1, v = largest
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }

    /// Walks a listpack of pairs (hash fields and values, sorted set members and scores) with
    /// every check: structure, whole pairs, the count its header declares. `body` returns
    /// false to stop early; then so does this.
    @inline(__always)
    static func forEachPair(_ blob: UnsafeRawBufferPointer, zset: Bool,
                            _ body: (PackedElement, PackedElement) throws -> Bool) throws -> Bool {
        let declared = try Listpack.header(blob)
        var p = Listpack.headerSize, pairs = 0
        while let a = try Listpack.next(blob, &p) {
            guard let b = try Listpack.next(blob, &p) else {
                throw PackedError("odd number of elements (\(zset ? "a member without a score" : "a field without a value"))")
            }
            pairs += 1
            if try !body(a, b) { return false }
        }
        try Listpack.checkCount(declared, pairs * 2)
        return true
    }

    /// Room for converting a listpack of `bytes` bytes into records: an element's record is
    /// at most about twice its listpack entry (an integer becomes its decimal text), a score
    /// at most four times (8 bytes for an entry of 2 or more).
    static func listpackBound(_ bytes: Int) -> Int { bytes * 4 + 64 }

    /// The text length of an element whose bytes are at most `limit` long, or nil when longer.
    @inline(__always)
    static func textLength(_ e: PackedElement, within limit: Int) -> Int? {
        let n: Int
        switch e {
        case .bytes(let b): n = b.count
        case .int(let v): n = Decimal.length(v)
        }
        return n <= limit ? n : nil
    }

    /// True when `p[at..<at+len]` holds exactly `key`.
    @inline(__always)
    static func equal(_ p: UnsafeBufferPointer<UInt8>, _ at: Int, _ len: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        len == key.count && (len == 0 || memcmp(p.baseAddress! + at, key.baseAddress!, len) == 0)
    }

    /// Whether the member of the record at `a` sorts before the one at `b` (both in
    /// `out[..<end]`).
    @inline(__always)
    static func recordLess(_ out: UnsafeMutablePointer<UInt8>, _ a: Int, _ b: Int, end: Int) -> Bool {
        let p = UnsafeBufferPointer(start: UnsafePointer(out), count: end)
        var i = a, j = b
        let al = readLength(p, &i), bl = readLength(p, &j)
        return compare(p, i, al, UnsafeBufferPointer(rebasing: p[j..<j + bl])) < 0
    }

    /// sdscmp order of `p[at..<at+len]` against `key`: negative, zero or positive.
    @inline(__always)
    static func compare(_ p: UnsafeBufferPointer<UInt8>, _ at: Int, _ len: Int, _ key: UnsafeBufferPointer<UInt8>) -> Int {
        let n = min(len, key.count)
        if n > 0 {
            let c = memcmp(p.baseAddress! + at, key.baseAddress!, n)
            if c != 0 { return Int(c) }
        }
        return len - key.count
    }

    /// Whether any of the `n` strings `key(0)...` occurs twice (sorting indices: no hashing, no
    /// table, for the few elements a packed value holds).
    static func hasRepeats(_ n: Int, _ key: (Int) -> [UInt8]) -> Bool {
        if n < 2 { return false }
        let order = (0..<n).sorted { bytesLess(key($0), key($1)) }
        for i in 1..<n where key(order[i - 1]) == key(order[i]) { return true }
        return false
    }

    /// The same bytes in a block of their own size (a buffer built by appending has up to
    /// twice the room it needs).
    static func fitted(_ b: [UInt8]) -> [UInt8] {
        if b.capacity - b.count < 32 { return b }
        return [UInt8](unsafeUninitializedCapacity: b.count) { out, n in
            _ = out.initialize(from: b)
            n = b.count
        }
    }

    @inline(__always)
    static func readScore(_ p: UnsafeBufferPointer<UInt8>, _ at: Int) -> Double {
        Double(bitPattern: UInt64(littleEndian: UnsafeRawPointer(p.baseAddress! + at).loadUnaligned(as: UInt64.self)))
    }

    @inline(__always)
    static func appendScore(_ s: Double, to out: inout [UInt8]) {
        withUnsafeBytes(of: s.bitPattern.littleEndian) { out.append(contentsOf: $0) }
    }
}

/// A hash's field/value pairs in insertion order (HGETALL shows that order, as from Redis's
/// listpack).
struct PackedPairs {
    private(set) var buf: [UInt8] = []
    private(set) var count = 0

    init() {}

    init(_ pairs: [(field: [UInt8], value: [UInt8])]) {
        buf.reserveCapacity(pairs.reduce(0) { $0 + $1.field.count + $1.value.count + 2 })
        for (f, v) in pairs { Pack.append(f, to: &buf); Pack.append(v, to: &buf) }
        count = pairs.count
    }

    /// Where the pair with `field` lies: its start, where its value's length begins, its end.
    private func locate(_ field: [UInt8]) -> (start: Int, value: Int, end: Int)? {
        buf.withUnsafeBufferPointer { p in
            field.withUnsafeBufferPointer { key in
                var i = 0
                while i < p.count {
                    let start = i
                    let fl = Pack.readLength(p, &i)
                    let fs = i
                    i += fl
                    let value = i
                    i += Pack.readLength(p, &i)
                    if Pack.equal(p, fs, fl, key) { return (start, value, i) }
                }
                return nil
            }
        }
    }

    func get(_ field: [UInt8]) -> [UInt8]? {
        guard let at = locate(field) else { return nil }
        return buf.withUnsafeBufferPointer { p in
            var i = at.value
            let n = Pack.readLength(p, &i)
            return Array(p[i..<i + n])
        }
    }

    /// Sets a field's value; returns true when the field is new (appended at the end).
    mutating func set(_ field: [UInt8], _ value: [UInt8]) -> Bool {
        if let at = locate(field) {
            var enc = [UInt8]()
            enc.reserveCapacity(value.count + 2)
            Pack.append(value, to: &enc)
            buf.replaceSubrange(at.value..<at.end, with: enc)
            return false
        }
        Pack.append(field, to: &buf)
        Pack.append(value, to: &buf)
        count += 1
        return true
    }

    /// Appends a pair known to have a new field (the RDB reader refuses repeated fields).
    mutating func appendLoaded(_ f: PackedElement, _ v: PackedElement) {
        Pack.append(f, to: &buf)
        Pack.append(v, to: &buf)
        count += 1
    }

    /// From a hash's listpack in one pass, checking it as it goes (structure, whole pairs, the
    /// count its header declares), through `scratch` (`Pack.listpackBound` of the blob's size).
    /// nil when a field or value is longer than `maxValue` (a table is built instead). The
    /// summary is the RDB reader's: pairs, their text bytes, the longest field.
    static func converting(listpack blob: UnsafeRawBufferPointer, maxValue: Int,
                           scratch out: UnsafeMutablePointer<UInt8>) throws -> (PackedPairs, ValueSummary)? {
        var w = 0
        var s = ValueSummary()
        let whole = try Pack.forEachPair(blob, zset: false) { f, v in
            guard let fl = Pack.textLength(f, within: maxValue), let vl = Pack.textLength(v, within: maxValue) else { return false }
            s.elements += 1
            s.elementBytes += fl + vl
            if fl > s.largestElement { s.largestElement = fl }
            w = Pack.write(f, out, w)
            w = Pack.write(v, out, w)
            return true
        }
        guard whole else { return nil }
        var r = PackedPairs()
        r.buf = Array(UnsafeBufferPointer(start: out, count: w))
        r.count = s.elements
        return (r, s)
    }

    /// Drops the spare room appending left (after loading).
    mutating func fit() { buf = Pack.fitted(buf) }
    mutating func reserve(_ n: Int) { buf.reserveCapacity(n) }

    mutating func remove(_ field: [UInt8]) -> Bool {
        guard let at = locate(field) else { return false }
        buf.removeSubrange(at.start..<at.end)
        count -= 1
        if count == 0 { buf = [] }
        return true
    }

    var pairs: [(field: [UInt8], value: [UInt8])] {
        var out = [(field: [UInt8], value: [UInt8])]()
        out.reserveCapacity(count)
        buf.withUnsafeBufferPointer { p in
            var i = 0
            while i < p.count {
                let fl = Pack.readLength(p, &i)
                let f = Array(p[i..<i + fl])
                i += fl
                let vl = Pack.readLength(p, &i)
                out.append((f, Array(p[i..<i + vl])))
                i += vl
            }
        }
        return out
    }
}

/// A small sorted set's members and scores, kept in (score, member) order as Redis's listpack
/// keeps them: each record is the member (length, bytes) and its score's 8 bytes.
struct PackedScores {
    private(set) var buf: [UInt8] = []
    private(set) var count = 0

    init() {}

    /// From members already in (score, member) order with no member twice.
    init(sorted ms: [(member: [UInt8], score: Double)]) {
        buf.reserveCapacity(ms.reduce(0) { $0 + $1.member.count + 9 })
        for m in ms { Pack.append(m.member, to: &buf); Pack.appendScore(m.score, to: &buf) }
        count = ms.count
    }

    /// Appends a record at the end (loading a file, whose members the reader has checked are
    /// distinct). Returns where it starts and whether it sorts after the record starting at
    /// `previous` (-1 for none): when one does not, the caller sorts with `sortedAgain`.
    mutating func appendLoaded(_ m: PackedElement, _ score: Double, after previous: Int) -> (start: Int, inOrder: Bool) {
        let start = buf.count
        Pack.append(m, to: &buf)
        Pack.appendScore(score, to: &buf)
        count += 1
        guard previous >= 0 else { return (start, true) }
        let inOrder = buf.withUnsafeBufferPointer { p in
            var i = previous
            let pl = Pack.readLength(p, &i)
            let ps = Pack.readScore(p, i + pl)
            if ps != score { return ps < score }
            var j = start
            let ml = Pack.readLength(p, &j)
            return Pack.compare(p, i, pl, UnsafeBufferPointer(rebasing: p[j..<j + ml])) < 0
        }
        return (start, inOrder)
    }

    /// From a sorted set's listpack in one pass, checking it as it goes (structure, whole
    /// pairs, numeric scores, the declared count), through `scratch` (`Pack.listpackBound` of
    /// the blob's size). nil when a member is longer than `maxValue` (a skiplist is built
    /// instead). `inOrder` is false when the records are not in (score, member) order (the
    /// caller sorts with `sortedAgain`). The summary is the RDB reader's: pairs, member bytes
    /// plus 8 per score, the longest member.
    static func converting(listpack blob: UnsafeRawBufferPointer, maxValue: Int, scratch out: UnsafeMutablePointer<UInt8>)
        throws -> (scores: PackedScores, summary: ValueSummary, inOrder: Bool)? {
        var w = 0
        var s = ValueSummary()
        var ordered = true
        var prev = -1, prevScore = 0.0
        let whole = try Pack.forEachPair(blob, zset: true) { m, e in
            let score = try e.score()
            guard let ml = Pack.textLength(m, within: maxValue) else { return false }
            s.elements += 1
            s.elementBytes += ml + 8
            if ml > s.largestElement { s.largestElement = ml }
            let start = w
            w = Pack.write(m, out, w)
            UnsafeMutableRawPointer(out + w).storeBytes(of: score.bitPattern.littleEndian, as: UInt64.self)
            w += 8
            if ordered && prev >= 0 && (prevScore > score || (prevScore == score && !Pack.recordLess(out, prev, start, end: w))) {
                ordered = false
            }
            prev = start
            prevScore = score
            return true
        }
        guard whole else { return nil }
        var r = PackedScores()
        r.buf = Array(UnsafeBufferPointer(start: out, count: w))
        r.count = s.elements
        return (r, s, ordered)
    }

    /// Drops the spare room appending left (after loading).
    mutating func fit() { buf = Pack.fitted(buf) }
    mutating func reserve(_ n: Int) { buf.reserveCapacity(n) }

    /// The same records in (score, member) order.
    func sortedAgain() -> PackedScores {
        PackedScores(sorted: members.sorted { SkipList.less($0.score, $0.member, $1.score, $1.member) })
    }

    /// The record holding `member`: start, end, score and rank.
    private func locate(_ member: [UInt8]) -> (start: Int, end: Int, score: Double, rank: Int)? {
        buf.withUnsafeBufferPointer { p in
            member.withUnsafeBufferPointer { key in
                var i = 0, r = 0
                while i < p.count {
                    let start = i
                    let ml = Pack.readLength(p, &i)
                    let ms = i
                    i += ml + 8
                    if Pack.equal(p, ms, ml, key) { return (start, i, Pack.readScore(p, i - 8), r) }
                    r += 1
                }
                return nil
            }
        }
    }

    func score(_ member: [UInt8]) -> Double? { locate(member)?.score }
    func rank(_ member: [UInt8]) -> Int? { locate(member)?.rank }

    /// Where (score, member) belongs: the start of the first record after it.
    private func insertionPoint(_ score: Double, _ member: [UInt8]) -> Int {
        buf.withUnsafeBufferPointer { p in
            member.withUnsafeBufferPointer { key in
                var i = 0
                while i < p.count {
                    let start = i
                    let ml = Pack.readLength(p, &i)
                    let s = Pack.readScore(p, i + ml)
                    if s > score || (s == score && Pack.compare(p, i, ml, key) > 0) { return start }
                    i += ml + 8
                }
                return p.count
            }
        }
    }

    /// Adds or rescores a member; returns true when it is new.
    mutating func set(_ member: [UInt8], _ score: Double) -> Bool {
        var isNew = true
        if let at = locate(member) {
            if at.score == score { return false }
            buf.removeSubrange(at.start..<at.end)
            count -= 1
            isNew = false
        }
        var enc = [UInt8]()
        enc.reserveCapacity(member.count + 10)
        Pack.append(member, to: &enc)
        Pack.appendScore(score, to: &enc)
        buf.insert(contentsOf: enc, at: insertionPoint(score, member))
        count += 1
        return isNew
    }

    mutating func remove(_ member: [UInt8]) -> Double? {
        guard let at = locate(member) else { return nil }
        buf.removeSubrange(at.start..<at.end)
        count -= 1
        if count == 0 { buf = [] }
        return at.score
    }

    /// Visits records from rank `from` on, in order, while `body` returns true.
    func walk(from: Int = 0, _ body: (Double, [UInt8]) -> Bool) {
        buf.withUnsafeBufferPointer { p in
            var i = 0, r = 0
            while i < p.count {
                let ml = Pack.readLength(p, &i)
                if r >= from {
                    if !body(Pack.readScore(p, i + ml), Array(p[i..<i + ml])) { return }
                }
                i += ml + 8
                r += 1
            }
        }
    }

    var members: [(member: [UInt8], score: Double)] {
        var out = [(member: [UInt8], score: Double)]()
        out.reserveCapacity(count)
        walk { s, m in out.append((m, s)); return true }
        return out
    }

    /// How many records come before the first whose score satisfies `isAtOrAfter`.
    func countBefore(score isAtOrAfter: (Double) -> Bool) -> Int {
        buf.withUnsafeBufferPointer { p in
            var i = 0, r = 0
            while i < p.count {
                let ml = Pack.readLength(p, &i)
                if isAtOrAfter(Pack.readScore(p, i + ml)) { return r }
                i += ml + 8
                r += 1
            }
            return r
        }
    }
}

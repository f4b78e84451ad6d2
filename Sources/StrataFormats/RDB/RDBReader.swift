/// Streaming RDB reader: bytes in, `RDBEvent`s out, one key at a time.
///
/// Memory stays bounded by the largest single value. Every length is checked against the bytes
/// that remain before anything is allocated for it, every packed blob is validated before it is
/// trusted, and the CRC-64 is verified as the bytes pass (a mismatch is an error, never silent).
public final class RDBReader {
    public struct Options: Sendable {
        /// Keep values (dump, convert). Off: values are validated and counted only (check, inspect).
        public var materialize = true
        /// Validate stream node contents entry by entry (what redis-check-rdb's deep sanitisation does).
        public var deepValidation = true
        /// Return each key's bytes in its entry. Off (check): keys are read into a reused buffer.
        public var keepKeys = true
        /// Stop right after the checksum (an AOF's RDB preamble is followed by commands);
        /// otherwise bytes after it are counted and reported as trailing.
        public var stopAfterChecksum = false
        /// Fail on a CRC-64 mismatch. Only salvage turns this off (and reports the mismatch).
        public var verifyChecksum = true
        /// Refuse a hash or sorted set listpack that repeats a field or member. `strata serve`
        /// turns this off unless `sanitize-dump-payload yes`, as redis-server loads an RDB
        /// (it is a third of the cost of loading those listpacks).
        public var checkPackedDuplicates = true
        public init(materialize: Bool = true, deepValidation: Bool = true, verifyChecksum: Bool = true) {
            self.materialize = materialize
            self.deepValidation = deepValidation
            self.verifyChecksum = verifyChecksum
        }
    }

    public let source: ByteSource
    public let options: Options
    /// When set, lists, sets, sorted sets and hashes are streamed to it (see
    /// `RDBCollectionVisitor`) and their entries carry a `.summary` value.
    public var visitor: RDBCollectionVisitor?   // strong: a weak load per key costs more than it saves
    public private(set) var version = RDBVersion(family: .redis, number: 0)
    /// The database keys are being read into.
    public private(set) var currentDB = 0
    /// The key being read, for error messages.
    public var currentKey: [UInt8]? { hasKey ? keyBuffer : nil }
    /// Lets go of the key just returned (the entry holds its own reference): a loader that
    /// hands entries to another thread calls this first, so that only that thread holds them.
    public func dropCurrentKey() {
        keyBuffer = []
        hasKey = false
    }
    private var keyBuffer: [UInt8] = []
    private var hasKey = false
    // LZF output lands here (reused, grown on demand) instead of a new array per string.
    private var scratch = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
    private var scratchCapacity = 1 << 16
    private var scratchInUse = false
    /// What the reader is doing, for error messages ("reading a hash value", ...).
    public var doing: String {
        if let t = doingValueType { return "reading a \(typeName(t)) value" }
        return doingText.description
    }
    // Kept as a StaticString (no allocation, no reference counting): this is set per record.
    private var doingText: StaticString = "reading the header"
    private var doingValueType: UInt8?
    private var started = false
    private var finished = false

    public init(source: ByteSource, options: Options = Options()) {
        self.source = source
        self.options = options
    }

    deinit { scratch.deallocate() }

    /// Reads and checks the 9-byte magic. Called by `next()` if not called first.
    @discardableResult
    public func readHeader() throws -> RDBVersion {
        if started { return version }
        started = true
        let magic: [UInt8]
        do { magic = try source.readBytes(9, "the 9-byte magic") } catch {
            throw FormatError(offset: 0, "file too short for an RDB header (needs \"REDIS\" + 4 digits or \"VALKEY\" + 3 digits)")
        }
        guard let v = RDBVersion.parse(magic: magic) else {
            let shown = String(decoding: magic.map { $0 >= 32 && $0 < 127 ? $0 : UInt8(ascii: ".") }, as: UTF8.self)
            throw FormatError(offset: 0, "wrong signature \"\(shown)\": expected \"REDIS\" + 4 digits or \"VALKEY\" + 3 digits")
        }
        switch v.family {
        case .redis:
            guard v.number >= 1 && v.number <= RDBVersion.newestRedisRecognised else {
                throw FormatError(offset: 5, "unsupported RDB version \(v.number) (Redis versions 1-\(RDBVersion.newestRedisRecognised) are known)")
            }
        case .valkey:
            guard v.number == 80 else {
                throw FormatError(offset: 6, "unsupported Valkey RDB version \(v.number) (80, written by Valkey 9.0/9.1, is known)")
            }
        }
        version = v
        return v
    }

    /// Decodes a DUMP payload (type byte, value, u16 LE RDB version, u64 LE CRC-64), as RESTORE
    /// does: the version must be at most `maxVersion` and the CRC must match (Redis's
    /// "DUMP payload version or checksum are wrong"); the value must use every byte
    /// ("Bad data format" when it does not decode). Returns the type byte and the value.
    public static func readDumpPayload(_ payload: [UInt8], maxVersion: Int) throws -> (type: UInt8, value: RDBValue) {
        let (src, r) = try openPayload(payload, maxVersion: maxVersion)
        do {
            let t = try src.readByte()
            try r.checkTypeAllowed(t, at: 0)
            // Like Redis 7.0, bytes after the value (inside a valid checksum) are not an error.
            return (t, try r.readValue(type: t))
        } catch let e as DumpPayloadError {
            throw e
        } catch {
            throw DumpPayloadError.badFormat
        }
    }

    public enum DumpPayloadError: Error { case versionOrChecksum, badFormat }

    /// A DUMP-style payload's trailer checked (RDB version at most `maxVersion`, CRC-64 of the
    /// rest), and a reader over its body.
    private static func openPayload(_ payload: [UInt8], maxVersion: Int) throws -> (ByteSource, RDBReader) {
        let n = payload.count
        guard n >= 10 else { throw DumpPayloadError.versionOrChecksum }
        let version = Int(payload[n - 10]) | (Int(payload[n - 9]) << 8)
        guard version <= maxVersion else { throw DumpPayloadError.versionOrChecksum }
        var stored: UInt64 = 0
        for i in 0..<8 { stored |= UInt64(payload[n - 8 + i]) << (8 * UInt64(i)) }
        guard CRC64.checksum(Array(payload[0..<(n - 8)])) == stored else { throw DumpPayloadError.versionOrChecksum }
        let src = ByteSource(bytes: Array(payload[0..<(n - 10)]))
        let r = RDBReader(source: src)
        r.resume(version: RDBVersion(family: version >= 80 ? .valkey : .redis, number: version), db: 0)
        return (src, r)
    }

    /// FUNCTION RESTORE's payload: the library codes of its FUNCTION2 entries.
    public static func readFunctionsPayload(_ payload: [UInt8], maxVersion: Int) throws -> [[UInt8]] {
        let (src, r) = try openPayload(payload, maxVersion: maxVersion)
        var out = [[UInt8]]()
        do {
            while src.offset < payload.count - 10 {
                guard try src.readByte() == RDBOpcode.function2 else { throw DumpPayloadError.badFormat }
                out.append(try r.readString("a function library"))
            }
        } catch {
            throw DumpPayloadError.badFormat
        }
        return out
    }

    /// Continues reading the body at the source's current position (salvage, after a seek).
    public func resume(version: RDBVersion, db: Int) {
        started = true
        finished = false
        self.version = version
        currentDB = db
        hasKey = false
    }

    private func fail(_ message: String, at offset: Int? = nil) -> FormatError {
        FormatError(offset: offset ?? source.offset, message, context: contextDescription)
    }

    /// "db 0, key "user:1", reading a hash value"
    public var contextDescription: String {
        var parts = [String]()
        if let k = currentKey { parts.append("db \(currentDB), key \(RDBReader.printable(k))") }
        parts.append(doing)
        return parts.joined(separator: ", ")
    }

    /// Quoted, escaped and shortened form of a key for messages.
    public static func printable(_ bytes: [UInt8], limit: Int = 80) -> String {
        var s = "\""
        for b in bytes.prefix(limit) {
            switch b {
            case UInt8(ascii: "\""): s += "\\\""
            case UInt8(ascii: "\\"): s += "\\\\"
            case 32..<127: s.unicodeScalars.append(UnicodeScalar(b))
            default: s += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
            }
        }
        if bytes.count > limit { s += "..." }
        return s + "\""
    }

    // MARK: - Events

    /// The next event, or nil after `.end`.
    public func next() throws -> RDBEvent? {
        if !started { try readHeader() }
        if finished { return nil }
        do {
            return try nextEvent()
        } catch let e as FormatError {
            if e.context == nil { throw FormatError(offset: e.offset, e.message, context: contextDescription) }
            throw e
        }
    }

    private func nextEvent() throws -> RDBEvent? {
        var expireMs: Int64?
        var idle: UInt64?
        var freq: UInt8?
        var recordStart: Int?
        hasKey = false
        while true {
            doingText = "reading a type or opcode"
            let at = source.offset
            let t = try source.readByte("a type or opcode byte")
            switch t {
            case RDBOpcode.eof:
                doingText = "reading the checksum"
                return try readEnd()
            case RDBOpcode.selectDB:
                doingText = "reading a SELECTDB opcode"
                let db = try readLen("the database number")
                guard db <= UInt64(Int32.max) else { throw fail("database number \(db) is out of range", at: at) }
                currentDB = Int(db)
                return .selectDB(Int(db))
            case RDBOpcode.resizeDB:
                doingText = "reading a RESIZEDB opcode"
                let a = try readLen("the db size hint")
                let b = try readLen("the expires size hint")
                return .resizeDB(keys: a, expires: b)
            case RDBOpcode.aux:
                doingText = "reading an AUX field"
                let k = try readString("an AUX key")
                let v = try readString("an AUX value")
                return .aux(key: k, value: v)
            case RDBOpcode.expireTimeMS:
                doingText = "reading an EXPIRETIME_MS opcode"
                if recordStart == nil { recordStart = at }
                expireMs = try source.readLE(Int64.self, "an 8-byte millisecond expire time")
            case RDBOpcode.expireTime:
                doingText = "reading an EXPIRETIME opcode"
                if recordStart == nil { recordStart = at }
                expireMs = Int64(try source.readLE(Int32.self, "a 4-byte expire time")) * 1000
            case RDBOpcode.idle:
                guard version.level >= 9 || version.family == .valkey else { throw fail("opcode IDLE (248) in an RDB version \(version.number) file", at: at) }
                doingText = "reading an IDLE opcode"
                if recordStart == nil { recordStart = at }
                idle = try readLen("the LRU idle time")
            case RDBOpcode.freq:
                guard version.level >= 9 else { throw fail("opcode FREQ (249) in an RDB version \(version.number) file", at: at) }
                doingText = "reading a FREQ opcode"
                if recordStart == nil { recordStart = at }
                freq = try source.readByte("the LFU counter")
            case RDBOpcode.moduleAux:
                doingText = "reading a MODULE_AUX opcode"
                let id = try readLen("a module id")
                let whenOp = try readLen("the module aux when-opcode")
                guard whenOp == RDBModuleOpcode.uint else { throw fail("module aux when-opcode is \(whenOp), expected 2 (UINT)") }
                let when = try readLen("the module aux 'when'")
                var m = try readModuleOps(id: id)
                m.when = when
                return .moduleAux(m)
            case RDBOpcode.function2:
                doingText = "reading a FUNCTION2 library"
                return .function(try readString("a function library's code"))
            case RDBOpcode.functionPreGA:
                // Redis 7.0-rc1/rc2 (`rdbSaveFunctions` at tag 7.0-rc2): library name, engine
                // name, has-description flag, [description], library code without the shebang
                // GA requires. Redis 7.0 GA refuses these files; we hand the library on in
                // FUNCTION2 form ("#!lua name=NAME" + code). The description has no GA
                // equivalent and is dropped.
                guard version.level >= 10 else { throw fail("opcode FUNCTION (246) in an RDB version \(version.number) file", at: at) }
                doingText = "reading a pre-release FUNCTION library"
                let name = try readString("a function library name")
                let engine = try readString("a function engine name")
                if try readLen("the function description flag") != 0 { _ = try readString("a function description") }
                let code = try readString("a function library's code")
                if code.starts(with: Array("#!".utf8)) { return .function(code) }
                let shebang = "#!" + String(decoding: engine, as: UTF8.self).lowercased() + " name="
                return .function(Array(shebang.utf8) + name + [10] + code)
            case RDBOpcode.slotInfo:
                guard version.family == .valkey || version.number >= 12 else {
                    throw fail("opcode SLOT_INFO (244) in an RDB version \(version.number) file", at: at)
                }
                doingText = "reading a SLOT_INFO opcode"
                let slot = try readLen("the slot number")
                let keys = try readLen("the slot size")
                let expires = try readLen("the slot expires size")
                return .slotInfo(slot: slot, keys: keys, expires: expires)
            case 243:
                if version.family == .valkey {
                    doingText = "reading a SLOT_IMPORT opcode"
                    let name = try readString("the slot import job name")
                    let n = try readCount("the number of slot ranges", minBytes: 2)
                    var ranges = [(UInt64, UInt64)]()
                    for _ in 0..<n { ranges.append((try readLen("a slot range start"), try readLen("a slot range end"))) }
                    return .slotImport(name: name, ranges: ranges)
                }
                if version.number >= 13 {
                    throw fail("opcode KEY_META (243, Redis 8.6 module key metadata) is not supported yet", at: at)
                }
                throw fail("invalid opcode 243 in an RDB version \(version.number) file", at: at)
            default:
                if recordStart == nil { recordStart = at }
                try checkTypeAllowed(t, at: at)
                doingText = "reading a key"
                // A fresh array per key, exactly its size. (Refilling one buffer in place made
                // each key a copy of the buffer at the buffer's capacity, which crept up with
                // every key the caller kept: 2 KB per key after a million.)
                keyBuffer = try withString("a key") { [UInt8]($0) }
                hasKey = true
                let key = options.keepKeys ? keyBuffer : []
                doingValueType = t
                let value: RDBValue
                if let v = visitor, let kind = RDBReader.visitedKind(t, family: version.family) {
                    v.begin(db: currentDB, key: keyBuffer, kind: kind, expireMs: expireMs, idle: idle, freq: freq)
                    value = try visitValue(type: t, kind: kind, v)
                    v.end()
                } else {
                    value = try readValue(type: t)
                }
                doingValueType = nil
                doingText = "reading a type or opcode"
                let start = recordStart ?? at
                return .entry(RDBEntry(db: currentDB, key: key, value: value, expireMs: expireMs, idle: idle,
                                       freq: freq, typeByte: t, offset: start, serializedSize: source.offset - start))
            }
        }
    }

    /// The context a value's error carries ("db 0, key "h", reading a hash value"), for a
    /// loader that finishes decoding a value after the reader has moved on.
    public static func valueContext(db: Int, key: [UInt8], typeByte: UInt8) -> String {
        "db \(db), key \(printable(key)), reading a \(typeName(typeByte)) value"
    }

    private func typeName(_ t: UInt8) -> String { RDBReader.typeName(t) }

    private static func typeName(_ t: UInt8) -> String {
        switch t {
        case 0: return "string"
        case 1, 10, 14, 18: return "list"
        case 2, 11, 20: return "set"
        case 3, 5, 12, 17: return "zset"
        case 4, 9, 13, 16, 22, 23, 24, 25: return "hash"
        case 15, 19, 21, 26, 27: return "stream"
        case 6, 7: return "module"
        default: return "type-\(t)"
        }
    }

    func checkTypeAllowed(_ t: UInt8, at: Int) throws {
        switch t {
        case 0...5, 7, 9...21: return
        case 6:
            throw fail("module value of the pre-release module format (type 6, Redis 4.0 RC) cannot be read; Redis refuses it too", at: at)
        case 22:
            if version.family == .valkey || version.number >= 12 { return }
        case 23, 24, 25:
            if version.family == .redis && version.number >= 12 { return }
        case 26, 27, 28:
            if version.family == .redis && version.number >= 13 {
                throw fail("object type \(t) (Redis 8.6+ \(t == 28 ? "array" : "stream v\(t - 22)")) is not supported yet", at: at)
            }
        default: break
        }
        throw fail("invalid object type \(t) for an \(version) file", at: at)
    }

    private func readEnd() throws -> RDBEvent {
        var verdict = ChecksumVerdict.absent
        if version.hasChecksum {
            let computed = source.checksum
            source.setChecksumming(false)
            let at = source.offset
            let stored = try source.readLE(UInt64.self, "the 8-byte CRC-64 after EOF")
            if stored == 0 {
                verdict = .disabled
            } else if stored != computed {
                guard !options.verifyChecksum else {
                    throw FormatError(offset: at, "CRC-64 mismatch: the file says \(hex(stored)), its contents give \(hex(computed))",
                                      context: "verifying the checksum")
                }
                verdict = .mismatch(stored: stored, computed: computed)
            } else {
                verdict = .verified(stored)
            }
        }
        finished = true
        source.setChecksumming(false)
        var trailing = 0
        while !options.stopAfterChecksum, !(try source.isAtEnd()) {
            _ = try source.readByte()
            trailing += 1
            if trailing >= 1 << 30 { break }
        }
        return .end(verdict, trailingBytes: trailing)
    }

    func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 16 - s.count) + s
    }

    // MARK: - Lengths and strings

    /// `rdbLoadLen`: 6, 14, 32 or 64-bit length.
    @inline(__always)
    func readLen(_ what: @autoclosure () -> String) throws -> UInt64 {
        let b = try source.readByte(what())
        switch b >> 6 {
        case 0: return UInt64(b & 0x3F)
        case 1: return (UInt64(b & 0x3F) << 8) | UInt64(try source.readByte(what()))
        case 2:
            if b == RDBLength.bits32 { return UInt64(try source.readBE(UInt32.self, what())) }
            if b == RDBLength.bits64 { return try source.readBE(UInt64.self, what()) }
            throw fail("invalid length prefix 0x\(String(b, radix: 16)) while reading \(what())", at: source.offset - 1)
        default:
            throw fail("expected a length for \(what()), found a string-encoding byte 0x\(String(b, radix: 16))", at: source.offset - 1)
        }
    }

    /// A count of items that each take at least `minBytes`: refused when the rest of the file
    /// cannot hold them, so a hostile 2^60 never reaches an allocation.
    func readCount(_ what: @autoclosure () -> String, minBytes: Int = 1) throws -> Int {
        let at = source.offset
        let n = try readLen(what())
        if let rem = source.remainingKnown, n > UInt64(max(rem, 0) / minBytes) {
            throw fail("\(what()) is \(n), more than the \(max(rem, 0)) bytes left in the file can hold", at: at)
        }
        guard n <= UInt64(Int32.max) * 8 else { throw fail("\(what()) is \(n), beyond any real value", at: at) }
        return Int(n)
    }

    /// Calls `body` with the bytes of an RDB string (raw, integer-encoded or LZF), borrowed.
    @inline(__always)
    func withString<R>(_ what: @autoclosure () -> String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let at = source.offset
        let b = try source.readByte(what())
        if b >> 6 == RDBLength.encodedTag {
            switch Int(b & 0x3F) {
            case RDBLength.encInt8:
                return try withDecimal(Int64(Int8(bitPattern: try source.readByte(what()))), body)
            case RDBLength.encInt16:
                return try withDecimal(Int64(try source.readLE(Int16.self, what())), body)
            case RDBLength.encInt32:
                return try withDecimal(Int64(try source.readLE(Int32.self, what())), body)
            case RDBLength.encLZF:
                let clen = try readLen("the compressed length of \(what())")
                let ulen = try readLen("the uncompressed length of \(what())")
                if let rem = source.remainingKnown, clen > UInt64(max(rem, 0)) {
                    throw fail("LZF string of \(clen) compressed bytes runs past the end of the file (\(rem) left)", at: at)
                }
                // LZF expands at most ~88x (a 3-byte back reference yields 264 bytes).
                guard clen > 0, ulen > 0, ulen <= clen * 100 + 64 else {
                    throw fail("LZF string claims \(ulen) bytes from \(clen) compressed bytes, which LZF cannot produce", at: at)
                }
                let n = Int(ulen)
                if scratchInUse {
                    // Nested use (not done by this reader today): a private array keeps it correct.
                    let out: [UInt8]
                    do {
                        out = try source.withBytes(Int(clen), "an LZF payload") { try LZF.decompress($0, outputLength: n) }
                    } catch let e as LZF.Failure {
                        throw fail("LZF data does not decompress to the declared \(ulen) bytes (\(e))", at: at)
                    }
                    return try out.withUnsafeBytes(body)
                }
                if n > scratchCapacity {
                    scratch.deallocate()
                    scratchCapacity = max(n, scratchCapacity * 2)
                    scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchCapacity, alignment: 16)
                }
                let target = UnsafeMutableRawBufferPointer(start: scratch, count: n)
                let failure: LZF.Failure? = try source.withBytes(Int(clen), "an LZF payload") { input in
                    var produced = 0
                    if let f = LZF.decompress(input, into: target, produced: &produced) { return f }
                    return produced == n ? nil : .lengthMismatch(expected: n, got: produced)
                }
                if let failure { throw fail("LZF data does not decompress to the declared \(ulen) bytes (\(failure))", at: at) }
                scratchInUse = true
                defer { scratchInUse = false }
                return try body(UnsafeRawBufferPointer(target))
            default:
                throw fail("unknown string encoding \(b & 0x3F) while reading \(what())", at: at)
            }
        }
        var len: UInt64
        switch b >> 6 {
        case 0: len = UInt64(b & 0x3F)
        case 1: len = (UInt64(b & 0x3F) << 8) | UInt64(try source.readByte(what()))
        default:
            if b == RDBLength.bits32 { len = UInt64(try source.readBE(UInt32.self, what())) }
            else if b == RDBLength.bits64 { len = try source.readBE(UInt64.self, what()) }
            else { throw fail("invalid length prefix 0x\(String(b, radix: 16)) while reading \(what())", at: at) }
        }
        if let rem = source.remainingKnown, len > UInt64(max(rem, 0)) {
            throw fail("\(what()) of \(len) bytes runs past the end of the file (\(max(rem, 0)) bytes left)", at: at)
        }
        guard len <= UInt64(Int.max / 2) else { throw fail("\(what()) claims \(len) bytes", at: at) }
        return try source.withBytes(Int(len), what(), body)
    }

    /// Lends the decimal text of `v` from a stack buffer (no allocation).
    @inline(__always)
    private func withDecimal<R>(_ v: Int64, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buf in
            var m = v.magnitude
            var i = 20
            repeat { i -= 1; buf[i] = UInt8(48 + m % 10); m /= 10 } while m > 0
            if v < 0 { i -= 1; buf[i] = UInt8(ascii: "-") }
            return try body(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buf)[i..<20]))
        }
    }

    func readString(_ what: @autoclosure () -> String) throws -> [UInt8] {
        try withString(what()) { [UInt8]($0) }
    }

    /// A string and its length only (summary mode).
    func measureString(_ what: @autoclosure () -> String) throws -> Int {
        try withString(what()) { $0.count }
    }

    /// A blob (listpack, ziplist, ...) validated by `body`; PackedErrors get the blob's offset.
    func withBlob<R>(_ what: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let at = source.offset
        do {
            return try withString(what, body)
        } catch let e as PackedError {
            throw fail("corrupt \(what): \(e.description)", at: at)
        }
    }

    // MARK: - Values

    private struct Collector {
        let materialize: Bool
        var items = [[UInt8]]()
        var summary = ValueSummary()

        @inline(__always) mutating func add(_ e: PackedElement) {
            let n = e.stringLength
            summary.elements += 1
            summary.elementBytes += n
            if n > summary.largestElement { summary.largestElement = n }
            if materialize { items.append(e.materialized) }
        }
        @inline(__always) mutating func add(_ b: UnsafeRawBufferPointer) { add(.bytes(b)) }
    }

    // Members/fields of the collection being read, to refuse duplicates as Redis does
    // ("Duplicate set members detected").
    var seen = DuplicateFilter()

    @inline(__always) func unique(_ b: UnsafeRawBufferPointer) -> Bool {
        seen.insert(b)
    }

    /// For an element of a packed encoding (listpack, ziplist, zipmap): checked only when
    /// `checkPackedDuplicates` (plain encodings are always checked, as redis-server does).
    @inline(__always) func unique(_ e: PackedElement) -> Bool {
        if !options.checkPackedDuplicates { return true }
        switch e {
        case .bytes(let b): return unique(b)
        case .int(let v): return withDecimal(v) { unique($0) }
        }
    }

    func readValue(type t: UInt8) throws -> RDBValue {
        let mat = options.materialize
        seen.reset()
        switch t {
        case RDBType.string:
            if mat { return .string(try readString("a string value")) }
            let n = try measureString("a string value")
            return .summary(kind: .string, ValueSummary(elements: 1, largestElement: n, elementBytes: n))

        case RDBType.list, RDBType.set:
            let n = try readCount("the number of elements")
            var c = Collector(materialize: mat)
            if mat { c.items.reserveCapacity(n) }
            for _ in 0..<n {
                try withString("an element") {
                    if t == RDBType.set && !unique($0) { throw fail("duplicate set member \(RDBReader.printable([UInt8]($0)))") }
                    c.add($0)
                }
            }
            if t == RDBType.list { return mat ? .list(c.items) : .summary(kind: .list, c.summary) }
            return mat ? .set(c.items) : .summary(kind: .set, c.summary)

        case RDBType.listZiplist:
            var c = Collector(materialize: mat)
            try withBlob("ziplist") { try Ziplist.forEach($0) { c.add($0) } }
            return mat ? .list(c.items) : .summary(kind: .list, c.summary)

        case RDBType.listQuicklist, RDBType.listQuicklist2:
            let nodes = try readCount("the number of quicklist nodes", minBytes: 2)
            var c = Collector(materialize: mat)
            for _ in 0..<nodes {
                var container: UInt64 = 2
                if t == RDBType.listQuicklist2 {
                    container = try readLen("a quicklist node container")
                    guard container == 1 || container == 2 else { throw fail("quicklist node container \(container) is neither PLAIN (1) nor PACKED (2)") }
                }
                if container == 1 {
                    try withString("a plain quicklist node") { c.add($0) }
                } else if t == RDBType.listQuicklist {
                    let k = try withBlob("quicklist ziplist node") { try Ziplist.forEach($0) { c.add($0) } }
                    if k == 0 { throw fail("empty ziplist inside a quicklist") }
                } else {
                    try withBlob("quicklist listpack node") { try Listpack.forEach($0) { c.add($0) } }
                }
            }
            return mat ? .list(c.items) : .summary(kind: .list, c.summary)

        case RDBType.setIntset:
            var c = Collector(materialize: mat)
            try withBlob("intset") { try Intset.forEach($0) { c.add(.int($0)) } }
            return mat ? .set(c.items) : .summary(kind: .set, c.summary)

        case RDBType.setListpack:
            var c = Collector(materialize: mat)
            let k = try withBlob("set listpack") {
                try Listpack.forEach($0) { e in
                    guard unique(e) else { throw PackedError("duplicate member") }
                    c.add(e)
                }
            }
            if k == 0 { throw fail("empty set listpack") }
            return mat ? .set(c.items) : .summary(kind: .set, c.summary)

        case RDBType.zset, RDBType.zset2:
            let n = try readCount("the number of sorted set members", minBytes: 2)
            var members = [ZSetMember]()
            var c = Collector(materialize: false)
            if mat { members.reserveCapacity(n) }
            for _ in 0..<n {
                let m = mat ? try readString("a sorted set member") : []
                if mat {
                    if !m.withUnsafeBytes({ unique($0) }) { throw fail("duplicate sorted set member \(RDBReader.printable(m))") }
                } else {
                    try withString("a sorted set member") {
                        if !unique($0) { throw fail("duplicate sorted set member") }
                        c.add($0)
                    }
                }
                let score: Double
                if t == RDBType.zset2 {
                    score = Double(bitPattern: try source.readLE(UInt64.self, "a binary double score"))
                } else {
                    score = try readStringDouble()
                }
                if score.isNaN { throw fail("sorted set score is NaN") }
                if mat { members.append(ZSetMember(member: m, score: score)) }
            }
            c.summary.elementBytes += 8 * n
            return mat ? .sortedSet(members) : .summary(kind: .zset, c.summary)

        case RDBType.zsetZiplist, RDBType.zsetListpack:
            var members = [ZSetMember]()
            var c = Collector(materialize: false)
            var pending: [UInt8]?
            var pendingOK = false
            let what = t == RDBType.zsetZiplist ? "zset ziplist" : "zset listpack"
            try withBlob(what) { blob in
                let visit: (PackedElement) throws -> Void = { e in
                    if !pendingOK {
                        guard self.unique(e) else { throw PackedError("duplicate member") }
                        if mat { pending = e.materialized } else { c.add(e) }
                        pendingOK = true
                    } else {
                        let score: Double
                        switch e {
                        case .int(let v): score = Double(v)
                        case .bytes(let b):
                            guard let d = DoubleText.parse(b) else { throw PackedError("score is not a number") }
                            score = d
                        }
                        if score.isNaN { throw PackedError("score is NaN") }
                        if mat { members.append(ZSetMember(member: pending!, score: score)) }
                        pendingOK = false
                    }
                }
                if t == RDBType.zsetZiplist { try Ziplist.forEach(blob, visit) } else { try Listpack.forEach(blob, visit) }
            }
            if pendingOK { throw fail("\(what) has an odd number of elements (a member without a score)") }
            if !mat { c.summary.elementBytes += 8 * c.summary.elements }
            return mat ? .sortedSet(members) : .summary(kind: .zset, c.summary)

        case RDBType.hash:
            let n = try readCount("the number of hash fields", minBytes: 2)
            return try readHashPairs(n, ttlMode: .none)

        case RDBType.hashZipmap, RDBType.hashZiplist, RDBType.hashListpack:
            var fields = [HashField]()
            var c = Collector(materialize: false)
            var pending: [UInt8]?
            let what = t == RDBType.hashZipmap ? "zipmap" : (t == RDBType.hashZiplist ? "hash ziplist" : "hash listpack")
            try withBlob(what) { blob in
                if t == RDBType.hashZipmap {
                    try Zipmap.forEach(blob) { f, v in
                        guard unique(f) else { throw PackedError("duplicate field") }
                        if mat { fields.append(HashField(field: f.materialized, value: v.materialized)) }
                        else { c.add(f); c.summary.elements -= 1; c.summary.elementBytes += v.stringLength; c.summary.largestElement = max(c.summary.largestElement, v.stringLength) }
                    }
                    return
                }
                let visit: (PackedElement) throws -> Void = { e in
                    if pending == nil {
                        guard self.unique(e) else { throw PackedError("duplicate field") }
                        pending = mat ? e.materialized : []
                        if !mat { c.add(e) }
                    } else {
                        if mat { fields.append(HashField(field: pending!, value: e.materialized)) }
                        else { c.summary.elementBytes += e.stringLength; c.summary.largestElement = max(c.summary.largestElement, e.stringLength) }
                        pending = nil
                    }
                }
                if t == RDBType.hashZiplist { try Ziplist.forEach(blob, visit) } else { try Listpack.forEach(blob, visit) }
            }
            if pending != nil { throw fail("\(what) has an odd number of elements (a field without a value)") }
            return mat ? .hash(fields) : .summary(kind: .hash, c.summary)

        case 22 where version.family == .valkey:   // Valkey RDB_TYPE_HASH_2
            let n = try readCount("the number of hash fields", minBytes: 10)
            return try readHashPairs(n, ttlMode: .valkeyTrailing)

        case RDBType.hashMetadataPreGA:            // Redis 7.4 RC
            let n = try readCount("the number of hash fields", minBytes: 3)
            return try readHashPairs(n, ttlMode: .leadingAbsolute)

        case RDBType.hashMetadata:
            let minExpire = try source.readLE(Int64.self, "the hash minimum expire time")
            let n = try readCount("the number of hash fields", minBytes: 3)
            return try readHashPairs(n, ttlMode: .leadingRelative(minExpire))

        case RDBType.hashListpackExPreGA, RDBType.hashListpackEx:
            if t == RDBType.hashListpackEx { _ = try source.readLE(Int64.self, "the hash minimum expire time") }
            var fields = [HashField]()
            var c = Collector(materialize: false)
            var slot = 0
            var f: [UInt8] = [], v: [UInt8] = []
            try withBlob("hash listpack-ex") { blob in
                try Listpack.forEach(blob) { e in
                    switch slot {
                    case 0:
                        guard unique(e) else { throw PackedError("duplicate field") }
                        if mat { f = e.materialized } else { c.add(e) }
                    case 1: if mat { v = e.materialized } else { c.summary.elementBytes += e.stringLength }
                    default:
                        guard case .int(let ttl) = e else { throw PackedError("field TTL is not an integer") }
                        if mat { fields.append(HashField(field: f, value: v, expireMs: ttl == 0 ? nil : ttl)) }
                    }
                    slot = (slot + 1) % 3
                }
            }
            if slot != 0 { throw fail("hash listpack-ex does not hold whole (field, value, ttl) triplets") }
            return mat ? .hash(fields) : .summary(kind: .hash, c.summary)

        case RDBType.streamListpacks, RDBType.streamListpacks2, RDBType.streamListpacks3:
            let s = try readStream(type: t)
            if mat { return .stream(s) }
            return .summary(kind: .stream, RDBValue.stream(s).summary)

        case RDBType.module2:
            let id = try readLen("a module id")
            let m = try readModuleOps(id: id)
            return mat ? .module(m) : .summary(kind: .module, ValueSummary(elements: m.ops.count))

        default:
            throw fail("invalid object type \(t)")
        }
    }

    private enum HashTTLMode {
        case none
        case valkeyTrailing            // field, value, i64 LE absolute ms (-1 none)
        case leadingAbsolute           // len absolute ms (0 none), field, value
        case leadingRelative(Int64)    // len t (0 none; else t + minExpire - 1), field, value
    }

    private func readHashPairs(_ n: Int, ttlMode: HashTTLMode) throws -> RDBValue {
        let mat = options.materialize
        var fields = [HashField]()
        if mat { fields.reserveCapacity(n) }
        var c = Collector(materialize: false)
        for _ in 0..<n {
            var expire: Int64?
            switch ttlMode {
            case .leadingAbsolute:
                let t = try readLen("a field expire time")
                expire = t == 0 ? nil : Int64(bitPattern: t)
            case .leadingRelative(let minExpire):
                let t = try readLen("a field expire time")
                expire = t == 0 ? nil : Int64(bitPattern: t) &+ minExpire &- 1
            default: break
            }
            if mat {
                let f = try readString("a hash field")
                if !f.withUnsafeBytes({ unique($0) }) { throw fail("duplicate hash field \(RDBReader.printable(f))") }
                let v = try readString("a hash value")
                if case .valkeyTrailing = ttlMode {
                    let e = try source.readLE(Int64.self, "a field expire time")
                    expire = e == -1 ? nil : e
                }
                fields.append(HashField(field: f, value: v, expireMs: expire))
            } else {
                try withString("a hash field") {
                    if !unique($0) { throw fail("duplicate hash field") }
                    c.add($0)
                }
                let vl = try measureString("a hash value")
                c.summary.elementBytes += vl
                c.summary.largestElement = max(c.summary.largestElement, vl)
                if case .valkeyTrailing = ttlMode { _ = try source.readLE(Int64.self, "a field expire time") }
            }
        }
        return mat ? .hash(fields) : .summary(kind: .hash, c.summary)
    }

    /// `rdbLoadDoubleValue`: length byte then ASCII; 253 NaN, 254 +inf, 255 -inf.
    func readStringDouble() throws -> Double {
        let len = try source.readByte("a string-encoded double")
        switch len {
        case 253: return .nan
        case 254: return .infinity
        case 255: return -.infinity
        default:
            let d = try source.withBytes(Int(len), "a string-encoded double") { DoubleText.parse($0) }
            guard let d else { throw fail("string-encoded double score is not a number") }
            return d
        }
    }

    private func readModuleOps(id: UInt64) throws -> ModuleValue {
        var ops = [ModuleOp]()
        while true {
            let op = try readLen("a module opcode")
            switch op {
            case RDBModuleOpcode.eof: return ModuleValue(moduleID: id, ops: ops, when: nil)
            case RDBModuleOpcode.sint: ops.append(.sint(Int64(bitPattern: try readLen("a module signed integer"))))
            case RDBModuleOpcode.uint: ops.append(.uint(try readLen("a module unsigned integer")))
            case RDBModuleOpcode.float: ops.append(.float(try source.readLE(UInt32.self, "a module float")))
            case RDBModuleOpcode.double: ops.append(.double(try source.readLE(UInt64.self, "a module double")))
            case RDBModuleOpcode.string: ops.append(.string(try readString("a module string")))
            default: throw fail("unknown module opcode \(op) in a value of module \(ModuleValue(moduleID: id, ops: []).name)")
            }
            if ops.count > 1 << 28 { throw fail("module value has more than 2^28 items") }
        }
    }

    /// Decodes a collection straight into `v` (validating it exactly as `readValue` does).
    private func visitValue(type t: UInt8, kind: RDBValueKind, _ v: RDBCollectionVisitor) throws -> RDBValue {
        seen.reset()
        var summary = ValueSummary()
        @inline(__always) func count(_ n: Int) {
            summary.elements += 1
            summary.elementBytes += n
            if n > summary.largestElement { summary.largestElement = n }
        }
        var scratch = [UInt8]()   // a field or member whose partner comes later in the stream
        switch t {
        case RDBType.list, RDBType.set:
            let n = try readCount("the number of elements")
            v.expect(n)
            let visitorChecks = t == RDBType.set && v.detectsSetDuplicates
            for _ in 0..<n {
                try withString("an element") {
                    count($0.count)
                    if visitorChecks {
                        if !v.setMember($0) { throw fail("duplicate set member \(RDBReader.printable([UInt8]($0)))") }
                        return
                    }
                    if t == RDBType.set && !unique($0) { throw fail("duplicate set member \(RDBReader.printable([UInt8]($0)))") }
                    v.item(.bytes($0))
                }
            }
        case RDBType.listZiplist:
            try withBlob("ziplist") { try Ziplist.forEach($0) { e in count(e.stringLength); v.item(e) } }
        case RDBType.listQuicklist, RDBType.listQuicklist2:
            let nodes = try readCount("the number of quicklist nodes", minBytes: 2)
            for _ in 0..<nodes {
                var container: UInt64 = 2
                if t == RDBType.listQuicklist2 {
                    container = try readLen("a quicklist node container")
                    guard container == 1 || container == 2 else { throw fail("quicklist node container \(container) is neither PLAIN (1) nor PACKED (2)") }
                }
                if container == 1 {
                    try withString("a plain quicklist node") { count($0.count); v.item(.bytes($0)) }
                } else if t == RDBType.listQuicklist {
                    let k = try withBlob("quicklist ziplist node") { try Ziplist.forEach($0) { e in count(e.stringLength); v.item(e) } }
                    if k == 0 { throw fail("empty ziplist inside a quicklist") }
                } else {
                    try withBlob("quicklist listpack node") { try Listpack.forEach($0) { e in count(e.stringLength); v.item(e) } }
                }
            }
        case RDBType.setIntset:
            try withBlob("intset") { try Intset.forEach($0) { x in count(Decimal.length(x)); v.item(.int(x)) } }
        case RDBType.setListpack:
            let k = try withBlob("set listpack") {
                try Listpack.forEach($0) { e in
                    guard self.unique(e) else { throw PackedError("duplicate member") }
                    count(e.stringLength)
                    v.item(e)
                }
            }
            if k == 0 { throw fail("empty set listpack") }
        case RDBType.zset, RDBType.zset2:
            let n = try readCount("the number of sorted set members", minBytes: 2)
            for _ in 0..<n {
                scratch.removeAll(keepingCapacity: true)
                try withString("a sorted set member") {
                    if !unique($0) { throw fail("duplicate sorted set member \(RDBReader.printable([UInt8]($0)))") }
                    scratch.append(contentsOf: $0)
                }
                let score = t == RDBType.zset2
                    ? Double(bitPattern: try source.readLE(UInt64.self, "a binary double score"))
                    : try readStringDouble()
                if score.isNaN { throw fail("sorted set score is NaN") }
                count(scratch.count)
                summary.elementBytes += 8
                try scratch.withUnsafeBytes { v.member(.bytes($0), score: score) }
            }
        case RDBType.zsetListpack where v.takesListpacks, RDBType.hashListpack where v.takesListpacks:
            let zset = t == RDBType.zsetListpack
            let what = zset ? "zset listpack" : "hash listpack"
            let at = source.offset
            try withBlob(what) { blob in
                if options.checkPackedDuplicates { try checkDistinct(blob, zset: zset) }
                summary = try v.listpack(blob, zset: zset, at: at)
            }
        case RDBType.zsetZiplist, RDBType.zsetListpack:
            let what = t == RDBType.zsetZiplist ? "zset ziplist" : "zset listpack"
            var pending: PackedElement?
            try withBlob(what) { blob in
                v.expect(packedBytes: blob.count)
                let visit: (PackedElement) throws -> Void = { e in
                    if let m = pending {
                        let score = try e.score()
                        count(m.stringLength)
                        summary.elementBytes += 8
                        v.member(m, score: score)
                        pending = nil
                    } else {
                        guard self.unique(e) else { throw PackedError("duplicate member") }
                        pending = e
                    }
                }
                if t == RDBType.zsetZiplist { try Ziplist.forEach(blob, visit) } else { try Listpack.forEach(blob, visit) }
            }
            if pending != nil { throw fail("\(what) has an odd number of elements (a member without a score)") }
        case RDBType.hash, 22, RDBType.hashMetadata:
            var minExpire: Int64 = 0
            if t == RDBType.hashMetadata { minExpire = try source.readLE(Int64.self, "the hash minimum expire time") }
            let valkey2 = t == 22 && version.family == .valkey
            let redisPreGA = t == 22 && version.family == .redis
            let n = try readCount("the number of hash fields", minBytes: valkey2 ? 10 : (t == RDBType.hash ? 2 : 3))
            for _ in 0..<n {
                var expire: Int64?
                if redisPreGA {
                    let x = try readLen("a field expire time")
                    expire = x == 0 ? nil : Int64(bitPattern: x)
                } else if t == RDBType.hashMetadata {
                    let x = try readLen("a field expire time")
                    expire = x == 0 ? nil : Int64(bitPattern: x) &+ minExpire &- 1
                }
                scratch.removeAll(keepingCapacity: true)
                try withString("a hash field") {
                    if !unique($0) { throw fail("duplicate hash field \(RDBReader.printable([UInt8]($0)))") }
                    scratch.append(contentsOf: $0)
                }
                count(scratch.count)
                if valkey2 {
                    // The TTL follows the value: keep the value until it is read.
                    let value = try readString("a hash value")
                    let x = try source.readLE(Int64.self, "a field expire time")
                    summary.elementBytes += value.count
                    try scratch.withUnsafeBytes { f in try value.withUnsafeBytes { v.field(.bytes(f), value: .bytes($0), expireMs: x == -1 ? nil : x) } }
                } else {
                    try withString("a hash value") { val in
                        summary.elementBytes += val.count
                        scratch.withUnsafeBytes { f in v.field(.bytes(f), value: .bytes(val), expireMs: expire) }
                    }
                }
            }
        case RDBType.hashZipmap:
            try withBlob("zipmap") {
                try Zipmap.forEach($0) { f, val in
                    guard self.unique(f) else { throw PackedError("duplicate field") }
                    count(f.stringLength)
                    summary.elementBytes += val.stringLength
                    v.field(f, value: val, expireMs: nil)
                }
            }
        case RDBType.hashZiplist, RDBType.hashListpack:
            let what = t == RDBType.hashZiplist ? "hash ziplist" : "hash listpack"
            var pending: PackedElement?
            try withBlob(what) { blob in
                v.expect(packedBytes: blob.count)
                let visit: (PackedElement) throws -> Void = { e in
                    if let f = pending {
                        count(f.stringLength)
                        summary.elementBytes += e.stringLength
                        v.field(f, value: e, expireMs: nil)
                        pending = nil
                    } else {
                        guard self.unique(e) else { throw PackedError("duplicate field") }
                        pending = e
                    }
                }
                if t == RDBType.hashZiplist { try Ziplist.forEach(blob, visit) } else { try Listpack.forEach(blob, visit) }
            }
            if pending != nil { throw fail("\(what) has an odd number of elements (a field without a value)") }
        case RDBType.hashListpackExPreGA, RDBType.hashListpackEx:
            if t == RDBType.hashListpackEx { _ = try source.readLE(Int64.self, "the hash minimum expire time") }
            var f: PackedElement?, val: PackedElement?
            var slot = 0
            try withBlob("hash listpack-ex") {
                try Listpack.forEach($0) { e in
                    switch slot {
                    case 0:
                        guard self.unique(e) else { throw PackedError("duplicate field") }
                        f = e
                    case 1: val = e
                    default:
                        guard case .int(let ttl) = e else { throw PackedError("field TTL is not an integer") }
                        count(f!.stringLength)
                        summary.elementBytes += val!.stringLength
                        v.field(f!, value: val!, expireMs: ttl == 0 ? nil : ttl)
                    }
                    slot = (slot + 1) % 3
                }
            }
            if slot != 0 { throw fail("hash listpack-ex does not hold whole (field, value, ttl) triplets") }
        default:
            throw fail("invalid object type \(t)")
        }
        return .summary(kind: kind, summary)
    }

    /// Throws on a field or member a hash's or sorted set's listpack repeats (or on a broken
    /// entry); the visitor checks the rest (whole pairs, scores, the declared count).
    private func checkDistinct(_ blob: UnsafeRawBufferPointer, zset: Bool) throws {
        let declared = try Listpack.header(blob)
        if declared != 65535 { seen.reset(expecting: declared / 2) }
        var p = Listpack.headerSize
        var firstOfPair = true
        while let e = try Listpack.next(blob, &p) {
            if firstOfPair { guard unique(e) else { throw PackedError(zset ? "duplicate member" : "duplicate field") } }
            firstOfPair.toggle()
        }
    }

    private func readStreamID(_ what: String) throws -> StreamID {
        StreamID(ms: try readLen("\(what) milliseconds"), seq: try readLen("\(what) sequence"))
    }

    private func readRawStreamID() throws -> StreamID {
        let hi = try source.readBE(UInt64.self, "a 16-byte stream ID")
        let lo = try source.readBE(UInt64.self, "a 16-byte stream ID")
        return StreamID(ms: hi, seq: lo)
    }

    private func readStream(type t: UInt8) throws -> StreamValue {
        let nodeCount = try readCount("the number of stream listpacks", minBytes: 2)
        var nodes = [StreamValue.Node]()
        var lastMaster: StreamID?
        for _ in 0..<nodeCount {
            let keyAt = source.offset
            let key = try readString("a stream node key")
            guard let master = StreamID(raw: key) else {
                throw fail("stream node key is \(key.count) bytes, expected 16", at: keyAt)
            }
            if let lastMaster, master <= lastMaster { throw fail("stream node IDs are not increasing", at: keyAt) }
            lastMaster = master
            let lpAt = source.offset
            let lp = try readString("a stream listpack")
            let node = StreamValue.Node(masterID: master, listpack: lp)
            do {
                let k = try lp.withUnsafeBytes { try Listpack.forEach($0) { _ in } }
                if k == 0 { throw PackedError("empty listpack inside a stream") }
                if options.deepValidation { try StreamValue.decodeNode(node) { _ in } }
            } catch let e as PackedError {
                throw fail("corrupt stream listpack: \(e.description)", at: lpAt)
            }
            nodes.append(node)
        }
        let length = try readLen("the stream length")
        let lastID = try readStreamID("the last ID")
        var firstID: StreamID?, maxDeleted: StreamID?, added: UInt64?
        if t >= RDBType.streamListpacks2 {
            firstID = try readStreamID("the first ID")
            maxDeleted = try readStreamID("the max deleted ID")
            added = try readLen("the entries-added counter")
        }
        let groupCount = try readCount("the number of consumer groups", minBytes: 4)
        var groups = [StreamGroup]()
        for _ in 0..<groupCount {
            let name = try readString("a consumer group name")
            let last = try readStreamID("a group's last ID")
            var entriesRead: Int64?
            if t >= RDBType.streamListpacks2 { entriesRead = Int64(bitPattern: try readLen("a group's entries-read")) }
            let pelCount = try readCount("a group's pending count", minBytes: 17)
            var pel = [StreamPendingEntry]()
            var pelIDs = Set<StreamID>()
            for _ in 0..<pelCount {
                let id = try readRawStreamID()
                let time = try source.readLE(UInt64.self, "a delivery time")
                let count = try readLen("a delivery count")
                guard pelIDs.insert(id).inserted else { throw fail("duplicate ID \(id) in a group's pending entries list") }
                pel.append(StreamPendingEntry(id: id, deliveryTimeMs: time, deliveryCount: count))
            }
            let consumerCount = try readCount("a group's consumer count", minBytes: 10)
            var consumers = [StreamConsumer]()
            for _ in 0..<consumerCount {
                let cname = try readString("a consumer name")
                let seen = try source.readLE(UInt64.self, "a consumer's seen time")
                var active: UInt64?
                if t >= RDBType.streamListpacks3 { active = try source.readLE(UInt64.self, "a consumer's active time") }
                let n = try readCount("a consumer's pending count", minBytes: 16)
                var ids = [StreamID]()
                for _ in 0..<n {
                    let id = try readRawStreamID()
                    guard pelIDs.contains(id) else { throw fail("consumer pending ID \(id) is not in the group's pending entries list") }
                    ids.append(id)
                }
                consumers.append(StreamConsumer(name: cname, seenTimeMs: seen, activeTimeMs: active, pending: ids))
            }
            groups.append(StreamGroup(name: name, lastID: last, entriesRead: entriesRead, pending: pel, consumers: consumers))
        }
        return StreamValue(nodes: nodes, length: length, lastID: lastID, firstID: firstID, maxDeletedID: maxDeleted,
                           entriesAdded: added, groups: groups)
    }
}

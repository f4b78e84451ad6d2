/// Writes RDB files for a chosen `RDBTarget`, choosing encodings as that Redis would
/// (listpacks, ziplists, intsets under the size thresholds; plain types above them) and
/// converting what the input held into what the target can hold.
public final class RDBWriter {
    /// The target cannot hold a value (a stream before RDB 9, field TTLs before 7.4, ...).
    public struct Unsupported: Error, CustomStringConvertible {
        public let description: String
    }

    public let sink: ByteSink
    public let target: RDBTarget
    /// LZF-compress strings over 20 bytes (`rdbcompression yes`).
    public var compression = true
    /// Write the CRC-64 (`rdbchecksum yes`); otherwise eight zero bytes.
    public var checksum = true

    public init(sink: ByteSink, target: RDBTarget) {
        self.sink = sink
        self.target = target
    }

    private var level: Int { target.level }

    public func writeHeader() throws {
        try sink.write(target.version.magic)
    }

    public func writeAux(_ key: [UInt8], _ value: [UInt8]) throws {
        guard target.supportsAux else { return }
        try sink.write(RDBOpcode.aux)
        try writeString(key)
        try writeString(value)
    }

    /// The AUX fields a server of the target's kind writes first.
    public func writeStandardAux(ctime: Int64) throws {
        if target.version.family == .valkey {
            try writeAux(Array("valkey-ver".utf8), Array(target.serverVersion.utf8))
        } else {
            try writeAux(Array("redis-ver".utf8), Array(target.serverVersion.utf8))
        }
        try writeAux(Array("redis-bits".utf8), Array("64".utf8))
        try writeAux(Array("ctime".utf8), Decimal.bytes(ctime))
        try writeAux(Array("used-mem".utf8), Array("0".utf8))
    }

    public func writeSelectDB(_ db: Int) throws {
        try sink.write(RDBOpcode.selectDB)
        try writeLen(UInt64(db))
    }

    public func writeResizeDB(keys: UInt64, expires: UInt64) throws {
        guard level >= 7 else { return }
        try sink.write(RDBOpcode.resizeDB)
        try writeLen(keys)
        try writeLen(expires)
    }

    public func writeFunction(_ code: [UInt8]) throws {
        guard target.supportsFunctions else { throw Unsupported(description: "functions need RDB 10 (Redis 7.0) or later") }
        try sink.write(RDBOpcode.function2)
        try writeString(code)
    }

    public func writeModuleAux(_ m: ModuleValue) throws {
        guard level >= 9 else { throw Unsupported(description: "module aux data needs RDB 9 or later") }
        try sink.write(RDBOpcode.moduleAux)
        try writeLen(m.moduleID)
        try writeLen(RDBModuleOpcode.uint)
        try writeLen(m.when ?? 2)
        try writeModuleOps(m)
    }

    /// Checks, before anything is written, that the target can hold `value`; returns the
    /// reason when it cannot.
    public func unsupportedReason(_ value: RDBValue, expireMs: Int64? = nil) -> String? {
        if let e = expireMs, level < 3, e / 1000 > Int64(Int32.max) || e / 1000 < Int64(Int32.min) {
            return "an expire time after 2038 needs RDB 3 or later (RDB 1-2 store 32-bit seconds)"
        }
        if value.isEmptyCollection { return "an empty collection is not a key in Redis (redis-check-rdb rejects one)" }
        switch value {
        case .stream: return target.supportsStreams ? nil : "streams need RDB 9 (Redis 5.0) or later"
        case .module: return target.supportsModules ? nil : "module values need RDB 8 (Redis 4.0) or later"
        case .hash(let fields):
            if !target.supportsFieldTTL && fields.contains(where: { $0.expireMs != nil }) {
                return "hash field TTLs need redis-7.4 (RDB 12) or valkey-9"
            }
            return nil
        case .summary: return "value was not kept by the reader"
        default: return nil
        }
    }

    /// Writes one key with its modifiers. Throws `Unsupported` (having written nothing) when
    /// the target cannot hold the value.
    public func writeEntry(key: [UInt8], value: RDBValue, expireMs: Int64?, idle: UInt64? = nil, freq: UInt8? = nil) throws {
        if let reason = unsupportedReason(value, expireMs: expireMs) { throw Unsupported(description: reason) }
        if let e = expireMs {
            if level >= 3 {
                try sink.write(RDBOpcode.expireTimeMS)
                try sink.writeLE(e)
            } else {
                try sink.write(RDBOpcode.expireTime)
                try sink.writeLE(Int32(e / 1000))   // range checked by unsupportedReason
            }
        }
        if level >= 9 {
            if let idle { try sink.write(RDBOpcode.idle); try writeLen(idle) }
            if let freq { try sink.write(RDBOpcode.freq); try sink.write(freq) }
        }
        try writeValue(key: key, value)
    }

    /// EOF opcode and the CRC-64 trailer (RDB 5+).
    public func finish() throws {
        try sink.write(RDBOpcode.eof)
        if target.version.hasChecksum {
            let crc = checksum ? sink.checksum : 0
            try sink.setChecksumming(false)
            try sink.writeLE(crc)
        }
        try sink.flush()
    }

    // MARK: - Primitives

    /// `rdbSaveLen`: the shortest of the 6, 14, 32 and 64-bit forms.
    public func writeLen(_ n: UInt64) throws {
        if n < 1 << 6 {
            try sink.write(UInt8(n))
        } else if n < 1 << 14 {
            try sink.write(UInt8(0x40 | (n >> 8))); try sink.write(UInt8(n & 0xFF))
        } else if n <= UInt64(UInt32.max) {
            try sink.write(RDBLength.bits32); try sink.writeBE(UInt32(n))
        } else {
            try sink.write(RDBLength.bits64); try sink.writeBE(n)
        }
    }

    /// `rdbSaveRawString`: integer encoding for short canonical integers that fit 32 bits,
    /// LZF for strings over 20 bytes when it saves at least 4 bytes, raw otherwise.
    public func writeString(_ s: [UInt8]) throws {
        try s.withUnsafeBytes { try writeString($0) }
    }

    public func writeString(_ s: UnsafeRawBufferPointer) throws {
        let n = s.count
        if n <= 11, n > 0, let v = Decimal.parseCanonical(s) {
            if v >= Int64(Int8.min) && v <= Int64(Int8.max) {
                try sink.write(0xC0); try sink.write(UInt8(bitPattern: Int8(v))); return
            } else if v >= Int64(Int16.min) && v <= Int64(Int16.max) {
                try sink.write(0xC1); try sink.writeLE(Int16(v)); return
            } else if v >= Int64(Int32.min) && v <= Int64(Int32.max) {
                try sink.write(0xC2); try sink.writeLE(Int32(v)); return
            }
        }
        if compression && n > 20, let c = LZF.compress(s, maxOutput: n - 4) {
            try sink.write(0xC3)
            try writeLen(UInt64(c.count))
            try writeLen(UInt64(n))
            try sink.write(c)
            return
        }
        try writeLen(UInt64(n))
        try sink.write(s)
    }

    private func writeBinaryDouble(_ d: Double) throws { try sink.writeLE(d.bitPattern) }

    /// `rdbSaveDoubleValue` (ZSET type 3 before RDB 8).
    private func writeStringDouble(_ d: Double) throws {
        if d.isNaN { try sink.write(253); return }
        if d.isInfinite { try sink.write(d > 0 ? 254 : 255); return }
        let text = DoubleText.bytes(d)
        try sink.write(UInt8(text.count))
        try sink.write(text)
    }

    private func writeModuleOps(_ m: ModuleValue) throws {
        for op in m.ops {
            switch op {
            case .sint(let v): try writeLen(RDBModuleOpcode.sint); try writeLen(UInt64(bitPattern: v))
            case .uint(let v): try writeLen(RDBModuleOpcode.uint); try writeLen(v)
            case .float(let bits): try writeLen(RDBModuleOpcode.float); try sink.writeLE(bits)
            case .double(let bits): try writeLen(RDBModuleOpcode.double); try sink.writeLE(bits)
            case .string(let s): try writeLen(RDBModuleOpcode.string); try writeString(s)
            }
        }
        try writeLen(RDBModuleOpcode.eof)
    }

    // MARK: - Collections

    /// The key after a type byte; nil in a DUMP payload, which has none.
    @inline(__always) private func writeKey(_ key: [UInt8]?) throws {
        if let key { try writeString(key) }
    }

    /// FUNCTION DUMP's payload: every library as a FUNCTION2 opcode and its code, then the RDB
    /// version (u16 LE) and a CRC-64 (u64 LE), as a DUMP payload ends.
    public static func functionsPayload(_ libraries: [[UInt8]], target: RDBTarget) throws -> [UInt8] {
        let sink = ByteSink()
        let w = RDBWriter(sink: sink, target: target)
        for code in libraries { try w.writeFunction(code) }
        return try finishPayload(sink, target)
    }

    /// A DUMP payload's trailer: the RDB version (u16 LE), then a CRC-64 (u64 LE) of it all.
    private static func finishPayload(_ sink: ByteSink, _ target: RDBTarget) throws -> [UInt8] {
        try sink.writeLE(UInt16(target.version.number))
        try sink.flush()
        var out = sink.memory
        let crc = CRC64.checksum(out)
        withUnsafeBytes(of: crc.littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    /// Redis's DUMP payload of a value: type byte and value as RDB writes them, then the RDB
    /// version (u16 LE) and a CRC-64 (u64 LE) of everything before it.
    public static func dumpPayload(_ value: RDBValue, target: RDBTarget) throws -> [UInt8] {
        let sink = ByteSink()
        let w = RDBWriter(sink: sink, target: target)
        if let reason = w.unsupportedReason(value) { throw Unsupported(description: reason) }
        try w.writeValue(key: nil, value)
        return try finishPayload(sink, target)
    }

    private func writeValue(key: [UInt8]?, _ value: RDBValue) throws {
        switch value {
        case .string(let s):
            try sink.write(RDBType.string); try writeKey(key); try writeString(s)
        case .list(let items): try writeList(key, items)
        case .set(let members): try writeSet(key, members)
        case .sortedSet(let members): try writeZSet(key, members)
        case .hash(let fields): try writeHash(key, fields)
        case .stream(let st): try writeStream(key, st)
        case .module(let m):
            try sink.write(RDBType.module2); try writeKey(key)
            try writeLen(m.moduleID)
            try writeModuleOps(m)
        case .summary:
            throw Unsupported(description: "value was not kept by the reader")
        }
    }

    private func writeList(_ key: [UInt8]?, _ items: [[UInt8]]) throws {
        if level >= 10 {
            // Quicklist of listpack nodes of at most `listMaxNodeBytes` each.
            var nodes = [[UInt8]]()
            var b = Listpack.Builder()
            for e in items {
                if b.count > 0 && b.byteCount + e.count + 11 > target.listMaxNodeBytes {
                    nodes.append(b.finish()); b = Listpack.Builder()
                }
                b.append(e)
            }
            if b.count > 0 { nodes.append(b.finish()) }
            try sink.write(RDBType.listQuicklist2); try writeKey(key)
            try writeLen(UInt64(nodes.count))
            for n in nodes { try writeLen(2); try writeString(n) }
        } else if level >= 7 {
            var nodes = [[UInt8]]()
            var b = Ziplist.Builder()
            for e in items {
                if b.count > 0 && b.byteCount + e.count + 11 > target.listMaxNodeBytes {
                    nodes.append(b.finish()); b = Ziplist.Builder()
                }
                b.append(e)
            }
            if b.count > 0 { nodes.append(b.finish()) }
            try sink.write(RDBType.listQuicklist); try writeKey(key)
            try writeLen(UInt64(nodes.count))
            for n in nodes { try writeString(n) }
        } else {
            try sink.write(RDBType.list); try writeKey(key)
            try writeLen(UInt64(items.count))
            for e in items { try writeString(e) }
        }
    }

    private func writeSet(_ key: [UInt8]?, _ members: [[UInt8]]) throws {
        if level >= 2 && members.count <= target.setMaxIntsetEntries {
            var ints = [Int64]()
            ints.reserveCapacity(members.count)
            for m in members {
                guard let v = Decimal.parseCanonical(m) else { ints.removeAll(); break }
                ints.append(v)
            }
            if ints.count == members.count && !ints.isEmpty {
                ints.sort()
                try sink.write(RDBType.setIntset); try writeKey(key)
                try writeString(Intset.encode(ints))
                return
            }
        }
        if level >= 11 && members.count <= target.setMaxListpackEntries
            && members.allSatisfy({ $0.count <= target.setMaxListpackValue }) {
            var b = Listpack.Builder()
            for m in members { b.append(m) }
            try sink.write(RDBType.setListpack); try writeKey(key)
            try writeString(b.finish())
            return
        }
        try sink.write(RDBType.set); try writeKey(key)
        try writeLen(UInt64(members.count))
        for m in members { try writeString(m) }
    }

    private func writeZSet(_ key: [UInt8]?, _ members: [ZSetMember]) throws {
        let packed = level >= 2 && members.count <= target.zsetMaxPackedEntries
            && members.allSatisfy({ $0.member.count <= target.zsetMaxPackedValue })
        if packed {
            // Packed zsets are ordered by score, then member bytes.
            let sorted = members.sorted { a, b in
                a.score != b.score ? a.score < b.score : a.member.lexicographicallyPrecedes(b.member)
            }
            if level >= 10 {
                var b = Listpack.Builder()
                for m in sorted { b.append(m.member); b.append(DoubleText.bytes(m.score)) }
                try sink.write(RDBType.zsetListpack); try writeKey(key)
                try writeString(b.finish())
            } else {
                var b = Ziplist.Builder()
                for m in sorted { b.append(m.member); b.append(DoubleText.bytes(m.score)) }
                try sink.write(RDBType.zsetZiplist); try writeKey(key)
                try writeString(b.finish())
            }
            return
        }
        if level >= 8 {
            try sink.write(RDBType.zset2); try writeKey(key)
            try writeLen(UInt64(members.count))
            for m in members { try writeString(m.member); try writeBinaryDouble(m.score) }
        } else {
            try sink.write(RDBType.zset); try writeKey(key)
            try writeLen(UInt64(members.count))
            for m in members { try writeString(m.member); try writeStringDouble(m.score) }
        }
    }

    private func writeHash(_ key: [UInt8]?, _ fields: [HashField]) throws {
        let hasTTL = fields.contains { $0.expireMs != nil }
        if hasTTL {
            if target.version.family == .valkey {
                // Valkey RDB_TYPE_HASH_2: field, value, i64 LE absolute ms (-1 = none).
                try sink.write(RDBType.valkeyHash2); try writeKey(key)
                try writeLen(UInt64(fields.count))
                for f in fields { try writeString(f.field); try writeString(f.value); try sink.writeLE(f.expireMs ?? -1) }
            } else {
                // Redis RDB_TYPE_HASH_METADATA: min expire, then per field (t, field, value)
                // with t = expire - min + 1, 0 = none.
                let minExpire = fields.compactMap { $0.expireMs }.min() ?? 0
                try sink.write(RDBType.hashMetadata); try writeKey(key)
                try sink.writeLE(minExpire)
                try writeLen(UInt64(fields.count))
                for f in fields {
                    if let e = f.expireMs { try writeLen(UInt64(bitPattern: e - minExpire + 1)) } else { try writeLen(0) }
                    try writeString(f.field); try writeString(f.value)
                }
            }
            return
        }
        let packed = level >= 4 && fields.count <= target.hashMaxPackedEntries
            && fields.allSatisfy({ $0.field.count <= target.hashMaxPackedValue && $0.value.count <= target.hashMaxPackedValue })
        if packed && level >= 10 {
            var b = Listpack.Builder()
            for f in fields { b.append(f.field); b.append(f.value) }
            try sink.write(RDBType.hashListpack); try writeKey(key)
            try writeString(b.finish())
        } else if packed {
            var b = Ziplist.Builder()
            for f in fields { b.append(f.field); b.append(f.value) }
            try sink.write(RDBType.hashZiplist); try writeKey(key)
            try writeString(b.finish())
        } else {
            try sink.write(RDBType.hash); try writeKey(key)
            try writeLen(UInt64(fields.count))
            for f in fields { try writeString(f.field); try writeString(f.value) }
        }
    }

    private func writeStreamID(_ id: StreamID) throws { try writeLen(id.ms); try writeLen(id.seq) }

    private func writeStream(_ key: [UInt8]?, _ s: StreamValue) throws {
        let type: UInt8 = level >= 11 ? RDBType.streamListpacks3 : (level >= 10 ? RDBType.streamListpacks2 : RDBType.streamListpacks)
        try sink.write(type); try writeKey(key)
        try writeLen(UInt64(s.nodes.count))
        for n in s.nodes {
            try writeString(n.masterID.rawBytes)
            try writeString(n.listpack)
        }
        try writeLen(s.length)
        try writeStreamID(s.lastID)
        if type >= RDBType.streamListpacks2 {
            var first = s.firstID
            if first == nil {
                // A v1 stream does not store its first ID: it is the first live entry's.
                first = .zero
                for node in s.nodes {
                    var found: StreamID?
                    try? StreamValue.decodeNode(node) { e in if found == nil { found = e.id } }
                    if let found { first = found; break }
                }
            }
            try writeStreamID(first ?? .zero)
            try writeStreamID(s.maxDeletedID ?? .zero)
            try writeLen(s.entriesAdded ?? s.length)
        }
        try writeLen(UInt64(s.groups.count))
        for g in s.groups {
            try writeString(g.name)
            try writeStreamID(g.lastID)
            if type >= RDBType.streamListpacks2 {
                try writeLen(UInt64(bitPattern: g.entriesRead ?? -1))
            }
            try writeLen(UInt64(g.pending.count))
            for p in g.pending {
                try sink.write(p.id.rawBytes)
                try sink.writeLE(p.deliveryTimeMs)
                try writeLen(p.deliveryCount)
            }
            try writeLen(UInt64(g.consumers.count))
            for c in g.consumers {
                try writeString(c.name)
                try sink.writeLE(c.seenTimeMs)
                if type >= RDBType.streamListpacks3 { try sink.writeLE(c.activeTimeMs ?? c.seenTimeMs) }
                try writeLen(UInt64(c.pending.count))
                for id in c.pending { try sink.write(id.rawBytes) }
            }
        }
    }
}

/// Where RESP commands are written: the CLI's output buffer, or a byte array.
public protocol RESPCommandSink {
    /// `*N\r\n`: a command of `n` arguments follows.
    mutating func respHeader(_ n: Int)
    mutating func bulk(_ a: [UInt8])
    mutating func bulk(_ s: StaticString)
}

extension RESPCommandSink {
    /// One command as a RESP array of bulk strings.
    public mutating func resp(_ args: [[UInt8]]) {
        respHeader(args.count)
        for a in args { bulk(a) }
    }
}

/// RESP commands in a byte array.
public struct RESPBytes: RESPCommandSink {
    public var bytes: [UInt8] = []
    public init() {}

    public mutating func respHeader(_ n: Int) {
        bytes.append(UInt8(ascii: "*")); Decimal.append(Int64(n), to: &bytes); bytes.append(13); bytes.append(10)
    }

    public mutating func bulk(_ a: [UInt8]) {
        a.withUnsafeBufferPointer { bulk($0) }
    }

    public mutating func bulk(_ s: StaticString) {
        bulk(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    private mutating func bulk(_ b: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "$")); Decimal.append(Int64(b.count), to: &bytes); bytes.append(13); bytes.append(10)
        bytes.append(contentsOf: b); bytes.append(13); bytes.append(10)
    }
}

/// The commands that recreate a key, in the form Redis's AOF rewrite writes them
/// (`rewriteAppendOnlyFileRio`): SET; RPUSH, SADD, ZADD, HSET in batches of 64 items; a stream
/// as XADDs, XSETID, XGROUP CREATE/CREATECONSUMER and XCLAIMs for its pending entries; then
/// PEXPIREAT. Used for `aof-use-rdb-preamble no` bases, `aof rewrite --preamble none` and
/// `rdb dump --format resp`.
public enum RESPRewrite {
    /// AOF_REWRITE_ITEMS_PER_CMD.
    public static let itemsPerCommand = 64

    /// Throws when a stream's nodes do not decode (naming the key and its record's offset):
    /// a rewrite never drops entries silently.
    public static func write<S: RESPCommandSink>(_ e: RDBEntry, into o: inout S) throws {
        let key = e.key
        // At most 64 items per command; a zset/hash item is a pair.
        func batched(_ cmd: StaticString, count: Int, per: Int, _ item: (Int, inout S) -> Void) {
            var i = 0
            while i < count {
                let end = min(count, i + itemsPerCommand)
                o.respHeader(2 + (end - i) * per)
                o.bulk(cmd); o.bulk(key)
                for k in i..<end { item(k, &o) }
                i = end
            }
        }
        switch e.value {
        case .string(let s): o.respHeader(3); o.bulk("SET"); o.bulk(key); o.bulk(s)
        case .list(let l): batched("RPUSH", count: l.count, per: 1) { k, o in o.bulk(l[k]) }
        case .set(let s): batched("SADD", count: s.count, per: 1) { k, o in o.bulk(s[k]) }
        case .sortedSet(let z):
            batched("ZADD", count: z.count, per: 2) { k, o in o.bulk(DoubleText.bytes(z[k].score)); o.bulk(z[k].member) }
        case .hash(let h):
            batched("HSET", count: h.count, per: 2) { k, o in o.bulk(h[k].field); o.bulk(h[k].value) }
            for f in h { if let x = f.expireMs { o.resp([b("HPEXPIREAT"), key, Decimal.bytes(x), b("FIELDS"), b("1"), f.field]) } }
        case .stream(let s):
            do { try writeStream(key, s, into: &o) } catch {
                throw FormatError(offset: e.offset, "stream \(RDBReader.printable(key)) cannot be rewritten as commands: \(error)")
            }
        case .module, .summary: return
        }
        if let x = e.expireMs { o.respHeader(3); o.bulk("PEXPIREAT"); o.bulk(key); o.bulk(Decimal.bytes(x)) }
    }

    static func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    static func writeStream<S: RESPCommandSink>(_ key: [UInt8], _ s: StreamValue, into o: inout S) throws {
        var any = false
        try s.forEachEntry { entry in
            var cmd = [b("XADD"), key, b(entry.id.description)]
            for fv in entry.fields { cmd.append(fv.field); cmd.append(fv.value) }
            o.resp(cmd)
            any = true
        }
        if !any {
            // An empty stream still exists: create it with 0-1 and trim it, as Redis's rewrite
            // does (its last ID may be 0-0, which XADD refuses); XSETID then sets the real one.
            o.resp([b("XADD"), key, b("MAXLEN"), b("0"), b("0-1"), b("x"), b("y")])
        }
        var setid = [b("XSETID"), key, b(s.lastID.description)]
        if let added = s.entriesAdded, let md = s.maxDeletedID {
            setid += [b("ENTRIESADDED"), Decimal.bytes(Int64(bitPattern: added)), b("MAXDELETEDID"), b(md.description)]
        }
        o.resp(setid)
        for g in s.groups {
            var create = [b("XGROUP"), b("CREATE"), key, g.name, b(g.lastID.description)]
            if let r = g.entriesRead, r >= 0 { create += [b("ENTRIESREAD"), Decimal.bytes(r)] }
            o.resp(create)
            let pel = Dictionary(g.pending.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            for c in g.consumers {
                o.resp([b("XGROUP"), b("CREATECONSUMER"), key, g.name, c.name])
                for id in c.pending {
                    guard let p = pel[id] else { continue }
                    o.resp([b("XCLAIM"), key, g.name, c.name, b("0"), b(id.description),
                            b("TIME"), Decimal.bytes(Int64(bitPattern: p.deliveryTimeMs)),
                            b("RETRYCOUNT"), Decimal.bytes(Int64(bitPattern: p.deliveryCount)), b("JUSTID"), b("FORCE")])
                }
            }
        }
    }
}

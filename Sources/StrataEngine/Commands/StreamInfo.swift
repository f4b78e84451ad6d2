import StrataFormats

/// XINFO STREAM [FULL [COUNT n]] / GROUPS / CONSUMERS / HELP, field for field as Redis 7.0
/// replies (maps in RESP3, flat arrays in RESP2).
extension StreamCommands {
    static func xinfo(_ c: inout CommandContext) throws -> Reply {
        let sub = c.argString(1)
        let arity: [String: Int] = ["consumers": 4, "groups": 3, "stream": -3, "help": 2]
        guard let n = arity[sub] else {
            throw CommandError("ERR unknown subcommand '\(String(decoding: c.arg(1), as: UTF8.self))'. Try XINFO HELP.")
        }
        if (n > 0 && c.args.count != n) || (n < 0 && c.args.count < -n) {
            throw CommandError("ERR wrong number of arguments for 'xinfo|\(sub)' command")
        }
        if sub == "help" {
            return .array(["XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                           "CONSUMERS <key> <groupname>", "    Show consumers of <groupname>.",
                           "GROUPS <key>", "    Show the stream consumer groups.",
                           "STREAM <key> [FULL [COUNT <count>]", "    Show information about the stream.",
                           "HELP", "    Prints this help."].map { .status($0) })
        }
        guard let s = try c.getStream(c.arg(2)) else { throw CommandError.noSuchKey }
        switch sub {
        case "consumers":
            guard let g = s.groups[ByteKey(c.arg(3))] else {
                throw CommandError("NOGROUP No such consumer group '\(c.argText(3))' for key name '\(c.argText(2))'")
            }
            let now = c.now
            return .array(sortedConsumers(g).map { name, consumer in
                .map([.bulk("name"), .bulk(name), .bulk("pending"), .integer(Int64(consumer.pending.count)),
                      .bulk("idle"), .integer(max(0, now - Int64(consumer.seenTime)))])
            })
        case "groups":
            return .array(sortedGroups(s).map { name, g in
                .map([.bulk("name"), .bulk(name), .bulk("consumers"), .integer(Int64(g.consumers.count)),
                      .bulk("pending"), .integer(Int64(g.pel.count)), .bulk("last-delivered-id"), .bulk(idBytes(g.lastID)),
                      .bulk("entries-read"), g.entriesRead.map { .integer($0) } ?? .null, .bulk("lag"), lag(s, g)])
            })
        default:
            return try streamInfo(&c, s)
        }
    }

    private static func streamInfo(_ c: inout CommandContext, _ s: StreamObject) throws -> Reply {
        var full = false
        var count: Int64 = 10
        let opts = c.args.count - 3
        if opts > 0 {
            let syntax = CommandError("ERR unknown subcommand or wrong number of arguments for '\(c.argText(1))'. Try XINFO HELP.")
            guard opts == 1 || opts == 3, c.argString(3) == "full" else { throw syntax }
            full = true
            if opts == 3 {
                guard c.argString(4) == "count" else { throw syntax }
                guard let v = Decimal.parseCanonical(c.arg(5)) else { throw CommandError.notInteger }
                count = v < 0 ? 10 : v
            }
        }
        let starts = StreamValue.nodeStarts(count: s.count) { StreamValue.entryBytes(s.fields[$0]) }
        var out: [Reply] = [
            .bulk("length"), .integer(Int64(s.count)),
            .bulk("radix-tree-keys"), .integer(Int64(starts.count)),
            .bulk("radix-tree-nodes"), .integer(Int64(raxNodeCount(starts.map { s.ids[$0] }))),
            .bulk("last-generated-id"), .bulk(idBytes(s.lastID)),
            .bulk("max-deleted-entry-id"), .bulk(idBytes(s.maxDeletedID)),
            .bulk("entries-added"), .integer(Int64(s.entriesAdded)),
            .bulk("recorded-first-entry-id"), .bulk(idBytes(s.firstID)),
        ]
        if !full {
            out += [.bulk("groups"), .integer(Int64(s.groups.count)),
                    .bulk("first-entry"), s.count > 0 ? entryReply(s.entry(at: 0)) : .null,
                    .bulk("last-entry"), s.count > 0 ? entryReply(s.entry(at: s.count - 1)) : .null]
            return .map(out)
        }
        let shown = count == 0 ? s.count : min(s.count, Int(min(count, Int64(Int32.max))))
        out += [.bulk("entries"), .array((0..<shown).map { entryReply(s.entry(at: $0)) })]
        let limit = count == 0 ? Int.max : Int(min(count, Int64(Int32.max)))
        out += [.bulk("groups"), .array(sortedGroups(s).map { name, g in
            let pel = g.pel.sorted { $0.key < $1.key }.prefix(limit).map { id, p in
                Reply.array([.bulk(idBytes(id)), .bulk(p.consumer), .integer(Int64(bitPattern: p.deliveryTime)), .integer(Int64(bitPattern: p.deliveryCount))])
            }
            let consumers = sortedConsumers(g).map { name, consumer in
                let pending = consumer.pending.sorted().prefix(limit).map { id -> Reply in
                    let p = g.pel[id]
                    return .array([.bulk(idBytes(id)), .integer(Int64(bitPattern: p?.deliveryTime ?? 0)), .integer(Int64(bitPattern: p?.deliveryCount ?? 0))])
                }
                return Reply.map([.bulk("name"), .bulk(name), .bulk("seen-time"), .integer(Int64(bitPattern: consumer.seenTime)),
                                  .bulk("pel-count"), .integer(Int64(consumer.pending.count)), .bulk("pending"), .array(Array(pending))])
            }
            return .map([.bulk("name"), .bulk(name), .bulk("last-delivered-id"), .bulk(idBytes(g.lastID)),
                         .bulk("entries-read"), g.entriesRead.map { .integer($0) } ?? .null, .bulk("lag"), lag(s, g),
                         .bulk("pel-count"), .integer(Int64(g.pel.count)), .bulk("pending"), .array(Array(pel)),
                         .bulk("consumers"), .array(consumers)])
        })]
        return .map(out)
    }

    /// `streamReplyWithCGLag`: entries added minus the group's read counter, when it is known.
    static func lag(_ s: StreamObject, _ g: StreamObject.Group) -> Reply {
        if s.entriesAdded == 0 { return .integer(0) }
        if let read = g.entriesRead, !s.rangeHasTombstones(from: g.lastID) { return .integer(Int64(s.entriesAdded) - read) }
        if let read = s.estimateDistanceFromFirstEverEntry(g.lastID) { return .integer(Int64(s.entriesAdded) - read) }
        return .null
    }

    /// Groups and consumers come in name order, as Redis's radix trees give them.
    static func sortedGroups(_ s: StreamObject) -> [(Bytes, StreamObject.Group)] {
        s.groups.map { ($0.key.bytes, $0.value) }.sorted { $0.0.lexicographicallyPrecedes($1.0) }
    }

    static func sortedConsumers(_ g: StreamObject.Group) -> [(Bytes, StreamObject.Consumer)] {
        g.consumers.map { ($0.key.bytes, $0.value) }.sorted { $0.0.lexicographicallyPrecedes($1.0) }
    }

    /// The nodes of a radix tree (Redis's rax) holding these node keys (128-bit big-endian
    /// master IDs, ascending): one per chain of shared bytes, per branching and per key end.
    static func raxNodeCount(_ masters: [StreamID]) -> Int {
        if masters.isEmpty { return 1 }
        let keys: [[UInt8]] = masters.map { id in
            (0..<8).map { UInt8(truncatingIfNeeded: id.ms >> (56 - 8 * $0)) } + (0..<8).map { UInt8(truncatingIfNeeded: id.seq >> (56 - 8 * $0)) }
        }
        func nodes(_ lo: Int, _ hi: Int, _ depth: Int) -> Int {
            if depth == 16 { return 1 }
            if hi - lo == 1 { return 2 }
            var d = depth
            while d < 16 && keys[lo][d] == keys[hi - 1][d] { d += 1 }
            var n = (d > depth ? 1 : 0) + 1
            var i = lo
            while i < hi {
                var j = i
                while j < hi && keys[j][d] == keys[i][d] { j += 1 }
                n += nodes(i, j, d + 1)
                i = j
            }
            return n
        }
        return nodes(0, keys.count, 0)
    }
}

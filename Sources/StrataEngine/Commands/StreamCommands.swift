import StrataFormats

extension CommandContext {
    func getStream(_ key: Bytes) throws -> StreamObject? {
        guard let v = lookup(key) else { return nil }
        switch v {
        case .stream(let s): return s
        case .stored(let r):
            // A stream whose nodes the engine could not take apart stays stored; refuse to edit it.
            if case .stream = r { throw CommandError("ERR this stream could not be decoded; it can only be read back as it was loaded") }
            throw CommandError.wrongType
        default: throw CommandError.wrongType
        }
    }
}

enum StreamCommands {
    static let invalidID = CommandError("ERR Invalid stream ID specified as stream command argument")

    /// `ms-seq`, `ms` (seq = `missingSeq`), and with `allowStar` `ms-*` (seq nil).
    static func parseID(_ b: Bytes, missingSeq: UInt64, allowStar: Bool = false, strict: Bool = true) throws -> (ms: UInt64, seq: UInt64?) {
        guard b.count <= 127, !b.isEmpty else { throw invalidID }
        if b == Array("-".utf8) { if strict { throw invalidID }; return (0, 0) }
        if b == Array("+".utf8) { if strict { throw invalidID }; return (UInt64.max, UInt64.max) }
        func number(_ s: ArraySlice<UInt8>) -> UInt64? {
            guard !s.isEmpty, s.count <= 20, s.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            return UInt64(String(decoding: s, as: UTF8.self))
        }
        if let dash = b.firstIndex(of: UInt8(ascii: "-")) {
            guard let ms = number(b[..<dash]) else { throw invalidID }
            let rest = b[(dash + 1)...]
            if allowStar && rest.count == 1 && rest.first == UInt8(ascii: "*") { return (ms, nil) }
            guard let seq = number(rest) else { throw invalidID }
            return (ms, seq)
        }
        guard let ms = number(b[...]) else { throw invalidID }
        return (ms, missingSeq)
    }

    static func id(_ b: Bytes, missingSeq: UInt64 = 0, strict: Bool = true) throws -> StreamID {
        let p = try parseID(b, missingSeq: missingSeq, strict: strict)
        return StreamID(ms: p.ms, seq: p.seq!)
    }

    static func idBytes(_ id: StreamID) -> Bytes { Array("\(id.ms)-\(id.seq)".utf8) }

    static func entryReply(_ e: (id: StreamID, fields: [(field: Bytes, value: Bytes)])) -> Reply {
        var fv = [Reply]()
        fv.reserveCapacity(e.fields.count * 2)
        for p in e.fields { fv.append(.bulk(p.field)); fv.append(.bulk(p.value)) }
        return .array([.bulk(idBytes(e.id)), .array(fv)])
    }

    struct Trim {
        var maxLen: Int64?
        var minID: StreamID?
        var approx = false
        var limit: Int64?
        var argIndex = 0
    }

    /// MAXLEN|MINID [=|~] threshold [LIMIT count] (and NOMKSTREAM and the ID for XADD), from
    /// `start`, in Redis's order (`streamParseAddOrTrimArgsOrReply`). Returns the trim, the
    /// index of XADD's ID argument, NOMKSTREAM and the parsed ID (nil for "*").
    static func parseTrim(_ c: CommandContext, from start: Int, xadd: Bool) throws -> (Trim, Int, Bool, (ms: UInt64, seq: UInt64?)?) {
        var t = Trim()
        var noMkStream = false
        var i = start
        var parsedID: (ms: UInt64, seq: UInt64?)?
        while i < c.args.count {
            let a = c.argString(i)
            let more = c.args.count - 1 - i
            if xadd && c.args[i] == Array("*".utf8) { break }
            if more >= 1 && (a == "maxlen" || a == "minid") {
                var j = i + 1
                if more >= 2 && c.args[j] == Array("~".utf8) { t.approx = true; j += 1 }
                else if more >= 2 && c.args[j] == Array("=".utf8) { j += 1 }
                if a == "maxlen" {
                    if t.minID != nil { throw CommandError("ERR syntax error, MAXLEN and MINID options at the same time are not compatible") }
                    guard let n = Decimal.parseCanonical(c.args[j]) else { throw CommandError.notInteger }
                    guard n >= 0 else { throw CommandError("ERR The MAXLEN argument must be >= 0.") }
                    t.maxLen = n
                } else {
                    if t.maxLen != nil { throw CommandError("ERR syntax error, MAXLEN and MINID options at the same time are not compatible") }
                    t.minID = try id(c.args[j])
                }
                t.argIndex = j
                i = j + 1
                continue
            }
            if more >= 1 && a == "limit" {
                guard let n = Decimal.parseCanonical(c.args[i + 1]) else { throw CommandError.notInteger }
                guard n >= 0 else { throw CommandError("ERR The LIMIT argument must be >= 0.") }
                t.limit = n
                i += 2
                continue
            }
            if xadd && a == "nomkstream" { noMkStream = true; i += 1; continue }
            if xadd {
                parsedID = try parseID(c.args[i], missingSeq: 0, allowStar: true)
                break
            }
            throw CommandError.syntax
        }
        if t.limit != nil && !t.approx {
            throw CommandError("ERR syntax error, LIMIT cannot be used without the special ~ option")
        }
        return (t, i, noMkStream, parsedID)
    }

    /// Trims (exactly; `~` trims exactly too, see the manual) and returns how many went.
    static func trim(_ s: StreamObject, _ t: Trim) -> Int {
        var n = 0
        if let m = t.maxLen, s.count > Int(m) { n = s.count - Int(m) }
        if let id = t.minID { n = s.lowerBound(id) }
        if t.approx, let l = t.limit, l > 0 { n = min(n, Int(l)) }
        s.removeFirst(n)
        return n
    }

    static func group(_ c: CommandContext, _ s: StreamObject, _ key: Bytes, _ name: Bytes) throws -> StreamObject.Group {
        guard let g = s.groups[ByteKey(name)] else {
            throw CommandError("NOGROUP No such consumer group '\(String(decoding: name, as: UTF8.self))' for key name '\(String(decoding: key, as: UTF8.self))'")
        }
        return g
    }

    static let all: [Command] = [
        cmd("xadd", -5, [.write, .denyoom, .fast], 1, 1, 1) { c in
            let (t, idAt, noMk, requested) = try parseTrim(c, from: 2, xadd: true)
            let fieldCount = c.args.count - idAt - 1
            guard fieldCount >= 2 && fieldCount % 2 == 0 else { throw CommandError("ERR wrong number of arguments for 'xadd' command") }
            if let r = requested, r.ms == 0, r.seq == 0 { throw CommandError("ERR The ID specified in XADD must be greater than 0-0") }
            let key = c.arg(1)
            var s = try c.getStream(key)
            if s == nil {
                if noMk { return .null }
                s = StreamObject()
            }
            let stream = s!
            let last = stream.lastID
            if last.ms == UInt64.max && last.seq == UInt64.max {
                throw CommandError("ERR The stream has exhausted the last possible ID, unable to add more items")
            }
            var newID: StreamID
            if let r = requested {
                if let seq = r.seq {
                    newID = StreamID(ms: r.ms, seq: seq)
                    if !(last < newID) { throw CommandError("ERR The ID specified in XADD is equal or smaller than the target stream top item") }
                } else {
                    if r.ms < last.ms || (r.ms == last.ms && last.seq == UInt64.max) {
                        throw CommandError("ERR The ID specified in XADD is equal or smaller than the target stream top item")
                    }
                    newID = StreamID(ms: r.ms, seq: r.ms == last.ms ? last.seq + 1 : 0)
                }
            } else {
                let now = UInt64(max(0, c.now))
                if now > last.ms { newID = StreamID(ms: now, seq: 0) } else if last.seq < UInt64.max {
                    newID = StreamID(ms: last.ms, seq: last.seq + 1)
                } else if last.ms < UInt64.max {
                    newID = StreamID(ms: last.ms + 1, seq: 0)
                } else { throw CommandError("ERR The stream has exhausted the last possible ID, unable to add more items") }
            }
            var fv = [(field: Bytes, value: Bytes)]()
            for i in stride(from: idAt + 1, to: c.args.count, by: 2) { fv.append((c.args[i], c.args[i + 1])) }
            if c.lookup(key) == nil { c.engine.store(c.db, key, .stream(stream)) }
            stream.append(newID, fv)
            if t.maxLen != nil || t.minID != nil { _ = trim(stream, t) }
            var prop = c.args
            prop[idAt] = idBytes(newID)
            if t.approx {
                // As Redis: the trim is propagated exact, with the threshold it reached.
                prop[t.argIndex - 1] = Array("=".utf8)
            }
            c.propagate(prop)
            return .bulk(idBytes(newID))
        },
        cmd("xinfo", -2, [.readonly], 2, 2, 1) { c in try xinfo(&c) },
        cmd("xlen", 2, [.readonly, .fast], 1, 1, 1) { c in
            .integer(Int64(try c.getStream(c.arg(1))?.count ?? 0))
        },
        cmd("xrange", -4, [.readonly], 1, 1, 1) { c in try range(&c, reverse: false) },
        cmd("xrevrange", -4, [.readonly], 1, 1, 1) { c in try range(&c, reverse: true) },
        cmd("xdel", -3, [.write, .fast], 1, 1, 1) { c in
            guard let s = try c.getStream(c.arg(1)) else { return .integer(0) }
            var ids = [StreamID]()
            for i in 2..<c.args.count { ids.append(try id(c.args[i])) }
            var n: Int64 = 0
            for i in ids where s.delete(i) { n += 1 }
            if n > 0 { c.propagateAsIs() }
            return .integer(n)
        },
        cmd("xtrim", -4, [.write], 1, 1, 1) { c in
            let (t, _, _, _) = try parseTrim(c, from: 2, xadd: false)
            guard t.maxLen != nil || t.minID != nil else { throw CommandError("ERR syntax error, XTRIM must be called with a trimming strategy") }
            guard let s = try c.getStream(c.arg(1)) else { return .integer(0) }
            let n = trim(s, t)
            if n > 0 {
                var prop = c.args
                if t.approx { prop[t.argIndex - 1] = Array("=".utf8) }
                c.propagate(prop)
            }
            return .integer(Int64(n))
        },
        cmd("xsetid", -3, [.write, .denyoom, .fast], 1, 1, 1) { c in
            let newID = try id(c.arg(2))
            var added: Int64?
            var maxDel: StreamID?
            var i = 3
            while i < c.args.count {
                let a = c.argString(i)
                guard i + 1 < c.args.count else { throw CommandError.syntax }
                if a == "entriesadded" {
                    guard let n = Decimal.parseCanonical(c.args[i + 1]) else { throw CommandError.notInteger }
                    guard n >= 0 else { throw CommandError("ERR entries_added must be positive") }
                    added = n
                } else if a == "maxdeletedid" {
                    let m = try id(c.args[i + 1])
                    guard !(newID < m) else { throw CommandError("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id") }
                    maxDel = m
                } else { throw CommandError.syntax }
                i += 2
            }
            guard let s = try c.getStream(c.arg(1)) else { throw CommandError.noSuchKey }
            if let last = s.ids.last, newID < last {
                throw CommandError("ERR The ID specified in XSETID is smaller than the target stream top item")
            }
            if let a = added, a < Int64(s.count) {
                throw CommandError("ERR The entries_added specified in XSETID is smaller than the target stream length")
            }
            s.lastID = newID
            if let a = added { s.entriesAdded = UInt64(a) }
            if let m = maxDel { s.maxDeletedID = m }
            c.propagateAsIs()
            return .ok
        },
        cmd("xgroup", -2, [], 2, 2, 1) { c in try xgroup(&c) },
        cmd("xack", -4, [.write, .fast], 1, 1, 1) { c in
            guard let s = try c.getStream(c.arg(1)), let g = s.groups[ByteKey(c.arg(2))] else { return .integer(0) }
            var ids = [StreamID]()
            for i in 3..<c.args.count { ids.append(try id(c.args[i])) }
            var n: Int64 = 0
            for i in ids {
                guard let p = g.pel.removeValue(forKey: i) else { continue }
                g.consumers[ByteKey(p.consumer)]?.pending.remove(i)
                n += 1
            }
            if n > 0 { c.propagateAsIs() }
            return .integer(n)
        },
        cmd("xclaim", -6, [.write, .fast], 1, 1, 1) { c in try xclaim(&c) },
        cmd("xread", -4, [.readonly], 0, 0, 0) { c in try xread(&c) },
        cmd("xreadgroup", -7, [.write], 0, 0, 0) { c in try xread(&c, group: true) },
        cmd("xpending", -3, [.readonly], 1, 1, 1) { c in try xpending(&c) },
        cmd("xautoclaim", -6, [.write, .fast], 1, 1, 1) { c in try xautoclaim(&c) },
    ]

    /// XREAD [COUNT n] [BLOCK ms] STREAMS key... id... and XREADGROUP GROUP g c [COUNT n]
    /// [BLOCK ms] [NOACK] STREAMS key... id... (Redis 7.0 `xreadCommand`): the non-blocking
    /// core (the server adds the waiting). A group read of ">" delivers new entries, adds them
    /// to the PEL and propagates them as XCLAIM ... JUSTID (and XGROUP SETID with NOACK), as
    /// Redis writes them to the AOF; any other ID serves the consumer's own pending history.
    static func B(_ s: String) -> Bytes { Array(s.utf8) }

    static func xread(_ c: inout CommandContext, group: Bool = false) throws -> Reply {
        var count: Int64 = 0
        var streamsAt = -1
        var groupName: Bytes?, consumerName: Bytes?
        var noack = false
        var i = 1
        while i < c.args.count {
            let a = c.argString(i)
            let more = c.args.count - 1 - i
            if a == "block" && more > 0 {
                guard let n = Decimal.parseCanonical(c.args[i + 1]) else { throw CommandError("ERR timeout is not an integer or out of range") }
                guard n >= 0 else { throw CommandError("ERR timeout is negative") }
                i += 2
            } else if a == "count" && more > 0 {
                guard let n = Decimal.parseCanonical(c.args[i + 1]) else { throw CommandError.notInteger }
                count = max(0, n)
                i += 2
            } else if a == "streams" && more > 0 {
                streamsAt = i + 1
                if (c.args.count - streamsAt) % 2 != 0 {
                    throw CommandError("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")
                }
                break
            } else if a == "group" && more >= 2 {
                if !group { throw CommandError("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.") }
                groupName = c.args[i + 1]; consumerName = c.args[i + 2]
                i += 3
            } else if a == "noack" {
                if !group { throw CommandError("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.") }
                noack = true
                i += 1
            } else {
                throw CommandError.syntax
            }
        }
        guard streamsAt > 0 else { throw CommandError.syntax }
        if group && groupName == nil { throw CommandError("ERR Missing GROUP option for XREADGROUP") }
        let n = (c.args.count - streamsAt) / 2
        let newOnly = StreamID(ms: .max, seq: .max)
        var after = [StreamID]()
        var groups = [StreamObject.Group]()
        for k in 0..<n {
            let key = c.args[streamsAt + k], idArg = c.args[streamsAt + n + k]
            let s = try c.getStream(key)
            if let groupName {
                guard let s, let g = s.groups[ByteKey(groupName)] else {
                    throw CommandError("NOGROUP No such key '\(String(decoding: key, as: UTF8.self))' or consumer group '\(String(decoding: groupName, as: UTF8.self))' in XREADGROUP with GROUP option")
                }
                groups.append(g)
            }
            if idArg == Array("$".utf8) {
                if group { throw CommandError("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.") }
                after.append(s?.lastID ?? .zero)
                continue
            }
            if idArg == Array(">".utf8) {
                if !group { throw CommandError("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.") }
                after.append(newOnly)
                continue
            }
            after.append(try id(idArg, strict: true))
        }
        var out = [Reply]()
        let now = UInt64(max(0, c.now))
        for k in 0..<n {
            let key = c.args[streamsAt + k]
            guard let s = try c.getStream(key) else { continue }
            let history = group && after[k] != newOnly
            var serve = history
            if !history, let last = s.ids.last { serve = last > (group ? groups[k].lastID : after[k]) }
            guard serve else { continue }
            var start = after[k]
            if start != newOnly { start = start.seq == .max ? StreamID(ms: start.ms &+ 1, seq: 0) : StreamID(ms: start.ms, seq: start.seq + 1) }
            guard group else {
                var j = s.lowerBound(start)
                var entries = [Reply]()
                while j < s.count && (count == 0 || entries.count < count) { entries.append(entryReply(s.entry(at: j))); j += 1 }
                out.append(.bulk(key)); out.append(.array(entries))
                continue
            }
            let g = groups[k]
            let cname = consumerName!
            var consumer = g.consumers[ByteKey(cname)]
            if let cons = consumer { cons.seenTime = now } else {
                let cons = StreamObject.Consumer(seenTime: now)
                g.consumers[ByteKey(cname)] = cons
                consumer = cons
                if noack { c.propagate([B("XGROUP"), B("CREATECONSUMER"), key, groupName!, cname]) }
            }
            var entries = [Reply]()
            if history {
                // The consumer's own pending entries from `start` on; a deleted one as [id, nil].
                for id in consumer!.pending.sorted() where id >= start {
                    if count > 0 && entries.count >= count { break }
                    let j = s.lowerBound(id)
                    if j < s.count && s.ids[j] == id {
                        entries.append(entryReply(s.entry(at: j)))
                        g.pel[id]?.deliveryTime = now
                        g.pel[id]?.deliveryCount += 1
                    } else {
                        entries.append(.array([.bulk(idBytes(id)), .array(nil)]))
                    }
                }
            } else {
                var j = s.lowerBound(g.lastID)
                if j < s.count && s.ids[j] == g.lastID { j += 1 }
                var moved = false
                while j < s.count && (count == 0 || entries.count < count) {
                    let (eid, _) = s.entry(at: j)
                    if eid > g.lastID {
                        if let r = g.entriesRead, !s.rangeHasTombstones(from: eid) { g.entriesRead = r + 1 }
                        else if s.entriesAdded > 0 { g.entriesRead = s.estimateDistanceFromFirstEverEntry(eid) }
                        g.lastID = eid
                        moved = true
                    }
                    entries.append(entryReply(s.entry(at: j)))
                    if !noack {
                        if let old = g.pel[eid] { g.consumers[ByteKey(old.consumer)]?.pending.remove(eid) }
                        let p = StreamObject.PendingEntry(consumer: cname, deliveryTime: now, deliveryCount: 1)
                        g.pel[eid] = p
                        consumer!.pending.insert(eid)
                        c.propagate([B("XCLAIM"), key, groupName!, cname, B("0"), idBytes(eid), B("TIME"), Decimal.bytes(Int64(bitPattern: p.deliveryTime)),
                                     B("RETRYCOUNT"), Decimal.bytes(Int64(bitPattern: p.deliveryCount)), B("FORCE"), B("JUSTID"), B("LASTID"), idBytes(g.lastID)])
                    }
                    j += 1
                }
                if noack && moved {
                    c.propagate([B("XGROUP"), B("SETID"), key, groupName!, idBytes(g.lastID), B("ENTRIESREAD"), Decimal.bytes(g.entriesRead ?? -1)])
                }
            }
            out.append(.bulk(key)); out.append(.array(entries))
        }
        return out.isEmpty ? .array(nil) : .keyedPairs(out)
    }

    /// `streamParseIntervalIDOrReply` with the exclusive-bound adjustment XRANGE and XPENDING
    /// make: "(" excludes the bound; "-" and "+" are the extremes.
    static func intervalBound(_ b: Bytes, start: Bool) throws -> StreamID {
        if b.first == UInt8(ascii: "(") {
            let inner = Array(b.dropFirst())
            let v = try id(inner, missingSeq: start ? 0 : UInt64.max)
            if start {
                if v.seq == UInt64.max {
                    guard v.ms < UInt64.max else { throw CommandError("ERR invalid start ID for the interval") }
                    return StreamID(ms: v.ms + 1, seq: 0)
                }
                return StreamID(ms: v.ms, seq: v.seq + 1)
            }
            if v.seq == 0 {
                guard v.ms > 0 else { throw CommandError("ERR invalid end ID for the interval") }
                return StreamID(ms: v.ms - 1, seq: UInt64.max)
            }
            return StreamID(ms: v.ms, seq: v.seq - 1)
        }
        return try id(b, missingSeq: start ? 0 : UInt64.max, strict: false)
    }

    static func range(_ c: inout CommandContext, reverse: Bool) throws -> Reply {
        func bound(_ b: Bytes, start: Bool) throws -> StreamID? { try intervalBound(b, start: start) }
        let startArg = reverse ? c.arg(3) : c.arg(2)
        let endArg = reverse ? c.arg(2) : c.arg(3)
        let lo = try bound(startArg, start: true)
        let hi = try bound(endArg, start: false)
        var count: Int64 = -1
        var j = 4
        while j < c.args.count {
            guard c.argString(j) == "count", j + 1 < c.args.count else { throw CommandError.syntax }
            guard let n = Decimal.parseCanonical(c.args[j + 1]) else { throw CommandError.notInteger }
            count = n < 0 ? 0 : n
            j += 2
        }
        guard let s = try c.getStream(c.arg(1)) else { return .array([]) }
        if count == 0 { return .array(nil) }
        guard let lo, let hi, !(hi < lo) else { return .array([]) }
        let a = s.lowerBound(lo)
        var b = s.lowerBound(hi)
        if b < s.count && s.ids[b] == hi { b += 1 }
        var out = [Reply]()
        let idx = reverse ? Array((a..<b).reversed()) : Array(a..<b)
        for i in idx {
            if count >= 0 && out.count >= count { break }
            out.append(entryReply(s.entry(at: i)))
        }
        return .array(out)
    }

    static let xgroupNoKey = CommandError("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.")

    static func xgroup(_ c: inout CommandContext) throws -> Reply {
        let sub = c.argString(1)
        /// The stream every subcommand but CREATE ... MKSTREAM needs.
        func existing() throws -> StreamObject {
            guard let s = try c.getStream(c.arg(2)) else { throw xgroupNoKey }
            return s
        }
        func need(_ n: Int) throws {
            guard c.args.count >= n else { throw CommandError("ERR wrong number of arguments for 'xgroup|\(sub)' command") }
        }
        switch sub {
        case "create":
            try need(5)
            var mk = false
            var entriesRead: Int64?
            var i = 5
            while i < c.args.count {
                switch c.argString(i) {
                case "mkstream": mk = true; i += 1
                case "entriesread" where i + 1 < c.args.count:
                    guard let n = Decimal.parseCanonical(c.args[i + 1]) else { throw CommandError.notInteger }
                    guard n >= -1 else { throw CommandError("ERR value for ENTRIESREAD must be positive or -1") }
                    entriesRead = n; i += 2
                default: throw CommandError.syntax
                }
            }
            let key = c.arg(2)
            var s = try c.getStream(key)
            if s == nil {
                guard mk else { throw xgroupNoKey }
            }
            let gid: StreamID
            if c.args[4] == Array("$".utf8) { gid = s?.lastID ?? .zero } else { gid = try id(c.args[4]) }   // strict: no - or + (SETID takes them)
            if s == nil { s = StreamObject(); c.engine.store(c.db, key, .stream(s!)) }
            let name = ByteKey(c.arg(3))
            if s!.groups[name] != nil { throw CommandError("BUSYGROUP Consumer Group name already exists") }
            s!.groups[name] = StreamObject.Group(lastID: gid, entriesRead: entriesRead == -1 ? nil : entriesRead)
            c.propagateAsIs()
            return .ok
        case "setid":
            try need(5)
            var entriesRead: Int64?
            if c.args.count > 5 {
                guard c.args.count == 7, c.argString(5) == "entriesread" else { throw CommandError.syntax }
                guard let n = Decimal.parseCanonical(c.args[6]) else { throw CommandError.notInteger }
                guard n >= -1 else { throw CommandError("ERR value for ENTRIESREAD must be positive or -1") }
                entriesRead = n
            }
            let s = try existing()
            let g = try group(c, s, c.arg(2), c.arg(3))
            // Without ENTRIESREAD the counter becomes unknown, "$" included (Redis 7.0).
            if c.args[4] == Array("$".utf8) { g.lastID = s.lastID }
            else { g.lastID = try id(c.args[4], strict: false) }   // "-" and "+" allowed, as in Redis
            g.entriesRead = entriesRead == -1 ? nil : entriesRead
            c.propagateAsIs()
            return .ok
        case "destroy":
            try need(4)
            let s = try existing()
            guard s.groups.removeValue(forKey: ByteKey(c.arg(3))) != nil else { return .integer(0) }
            c.propagateAsIs()
            return .integer(1)
        case "createconsumer":
            try need(5)
            let s = try existing()
            let g = try group(c, s, c.arg(2), c.arg(3))
            let name = ByteKey(c.arg(4))
            if g.consumers[name] != nil { return .integer(0) }
            g.consumers[name] = StreamObject.Consumer(seenTime: UInt64(max(0, c.now)))
            c.propagateAsIs()
            return .integer(1)
        case "delconsumer":
            try need(5)
            let s = try existing()
            let g = try group(c, s, c.arg(2), c.arg(3))
            guard let consumer = g.consumers.removeValue(forKey: ByteKey(c.arg(4))) else { return .integer(0) }
            for id in consumer.pending { g.pel.removeValue(forKey: id) }
            c.propagateAsIs()
            return .integer(Int64(consumer.pending.count))
        case "help":
            guard c.args.count == 2 else { throw CommandError("ERR wrong number of arguments for 'xgroup|help' command") }
            return .array(["XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                           "CREATE <key> <groupname> <id|$> [option]",
                           "    Create a new consumer group. Options are:",
                           "    * MKSTREAM",
                           "      Create the empty stream if it does not exist.",
                           "    * ENTRIESREAD entries_read",
                           "      Set the group's entries_read counter (internal use).",
                           "CREATECONSUMER <key> <groupname> <consumer>",
                           "    Create a new consumer in the specified group.",
                           "DELCONSUMER <key> <groupname> <consumer>",
                           "    Remove the specified consumer.",
                           "DESTROY <key> <groupname>",
                           "    Remove the specified group.",
                           "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
                           "    Set the current group ID and entries_read counter.",
                           "HELP",
                           "    Prints this help."].map { .status($0) })
        default:
            throw CommandError("ERR unknown subcommand '\(String(decoding: c.arg(1), as: UTF8.self))'. Try XGROUP HELP.")
        }
    }

    static func xclaim(_ c: inout CommandContext) throws -> Reply {
        let noGroup = CommandError("NOGROUP No such key '\(String(decoding: c.arg(1), as: UTF8.self))' or consumer group '\(String(decoding: c.arg(2), as: UTF8.self))'")
        guard let s = try c.getStream(c.arg(1)) else { throw noGroup }
        guard let g = s.groups[ByteKey(c.arg(2))] else { throw noGroup }
        guard let minIdle0 = Decimal.parseCanonical(c.args[4]) else { throw CommandError("ERR Invalid min-idle-time argument for XCLAIM") }
        let minIdle = max(0, minIdle0)
        var ids = [StreamID]()
        var i = 5
        while i < c.args.count, let v = try? id(c.args[i]) { ids.append(v); i += 1 }
        let now = UInt64(max(0, c.now))
        var deliveryTime: Int64?
        var retry: Int64 = -1
        var justID = false, force = false
        var lastID: StreamID?
        while i < c.args.count {
            let a = c.argString(i)
            let more = i + 1 < c.args.count
            switch a {
            case "force": force = true
            case "justid": justID = true
            case "idle" where more:
                guard let v = Decimal.parseCanonical(c.args[i + 1]) else { throw CommandError("ERR Invalid IDLE option argument for XCLAIM") }
                deliveryTime = Int64(bitPattern: now) &- v; i += 1
            case "time" where more:
                guard let v = Decimal.parseCanonical(c.args[i + 1]) else { throw CommandError("ERR Invalid TIME option argument for XCLAIM") }
                deliveryTime = v; i += 1
            case "retrycount" where more:
                guard let v = Decimal.parseCanonical(c.args[i + 1]) else { throw CommandError("ERR Invalid RETRYCOUNT option argument for XCLAIM") }
                retry = v; i += 1
            case "lastid" where more:
                lastID = try id(c.args[i + 1]); i += 1
            default:
                throw CommandError("ERR Unrecognized XCLAIM option '\(String(decoding: c.args[i], as: UTF8.self))'")
            }
            i += 1
        }
        // A bogus delivery time becomes now, as Redis does.
        let delivery: UInt64 = deliveryTime.map { $0 < 0 || $0 > Int64(bitPattern: now) ? now : UInt64($0) } ?? now
        if let l = lastID, g.lastID < l { g.lastID = l }
        let cname = c.arg(3)
        var consumer = g.consumers[ByteKey(cname)]
        var out = [Reply]()
        for id in ids {
            var nack = g.pel[id]
            if !s.contains(id) {
                // The entry is gone: its PEL entry goes too.
                if let p = nack {
                    g.pel.removeValue(forKey: id)
                    g.consumers[ByteKey(p.consumer)]?.pending.remove(id)
                }
                continue
            }
            if nack == nil && force { nack = StreamObject.PendingEntry(consumer: [], deliveryTime: now, deliveryCount: 0) }
            guard var p = nack else { continue }
            if !p.consumer.isEmpty && minIdle > 0, Int64(bitPattern: now &- p.deliveryTime) < minIdle { continue }
            if consumer == nil {
                consumer = StreamObject.Consumer(seenTime: now)
                g.consumers[ByteKey(cname)] = consumer
            }
            if !p.consumer.isEmpty && p.consumer != cname { g.consumers[ByteKey(p.consumer)]?.pending.remove(id) }
            p.deliveryTime = delivery
            if retry >= 0 { p.deliveryCount = UInt64(retry) } else if !justID { p.deliveryCount += 1 }
            p.consumer = cname
            g.pel[id] = p
            consumer!.pending.insert(id)
            consumer!.activeTime = now
            if justID { out.append(.bulk(idBytes(id))) } else {
                out.append(entryReply(s.entry(at: s.lowerBound(id))))
            }
        }
        c.propagateAsIs()
        return .array(out)
    }

    /// XPENDING key group [[IDLE ms] start end count [consumer]] (Redis 7.0 `xpendingCommand`).
    static func xpending(_ c: inout CommandContext) throws -> Reply {
        let argc = c.args.count
        if argc != 3 && (argc < 6 || argc > 9) { throw CommandError.syntax }
        var lo = StreamID.zero, hi = StreamID(ms: .max, seq: .max)
        var count: Int64 = 0, minIdle: Int64 = 0
        var consumerName: Bytes?
        if argc >= 6 {
            var at = 3
            if c.argString(3) == "idle" {
                guard let v = Decimal.parseCanonical(c.args[4]) else { throw CommandError.notInteger }
                minIdle = v
                if argc < 8 { throw CommandError.syntax }
                at += 2
            }
            guard let n = Decimal.parseCanonical(c.args[at + 2]) else { throw CommandError.notInteger }
            count = max(0, n)
            lo = try intervalBound(c.args[at], start: true)
            hi = try intervalBound(c.args[at + 1], start: false)
            if at + 3 < argc { consumerName = c.args[at + 3] }
        }
        let noGroup = CommandError("NOGROUP No such key '\(String(decoding: c.arg(1), as: UTF8.self))' or consumer group '\(String(decoding: c.arg(2), as: UTF8.self))'")
        guard let s = try c.getStream(c.arg(1)), let g = s.groups[ByteKey(c.arg(2))] else { throw noGroup }
        if argc == 3 {
            guard !g.pel.isEmpty else { return .array([.integer(0), .null, .null, .array(nil)]) }
            let ids = g.pel.keys.sorted()
            var consumers = [Reply]()
            for (name, cons) in g.consumers.sorted(by: { bytesLess($0.key.bytes, $1.key.bytes) }) where !cons.pending.isEmpty {
                consumers.append(.array([.bulk(name.bytes), .bulk(Decimal.bytes(Int64(cons.pending.count)))]))
            }
            return .array([.integer(Int64(ids.count)), .bulk(idBytes(ids.first!)), .bulk(idBytes(ids.last!)), .array(consumers)])
        }
        var ids: [StreamID]
        if let consumerName {
            guard let cons = g.consumers[ByteKey(consumerName)] else { return .array([]) }
            ids = cons.pending.sorted()
        } else {
            ids = g.pel.keys.sorted()
        }
        let now = c.now
        var out = [Reply]()
        for id in ids where id >= lo {
            if id > hi || Int64(out.count) >= count { break }
            guard let p = g.pel[id] else { continue }
            let idle = now - Int64(bitPattern: p.deliveryTime)
            if minIdle > 0 && idle < minIdle { continue }
            out.append(.array([.bulk(idBytes(id)), .bulk(p.consumer), .integer(idle < 0 ? 0 : idle), .integer(Int64(bitPattern: p.deliveryCount))]))
        }
        return .array(out)
    }

    /// The XCLAIM Redis propagates for a claimed or delivered pending entry.
    static func claimPropagation(_ key: Bytes, _ group: Bytes, _ g: StreamObject.Group, _ id: StreamID, _ p: StreamObject.PendingEntry) -> [Bytes] {
        [B("XCLAIM"), key, group, p.consumer, B("0"), idBytes(id), B("TIME"), Decimal.bytes(Int64(bitPattern: p.deliveryTime)),
         B("RETRYCOUNT"), Decimal.bytes(Int64(bitPattern: p.deliveryCount)), B("FORCE"), B("JUSTID"), B("LASTID"), idBytes(g.lastID)]
    }

    /// XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID] (Redis 7.0): claims
    /// idle pending entries from `start` on (at most COUNT, scanning at most 10*COUNT), drops
    /// the PEL entries of deleted ones, replies [next start, claimed, deleted IDs].
    static func xautoclaim(_ c: inout CommandContext) throws -> Reply {
        guard let minIdle0 = Decimal.parseCanonical(c.args[4]) else { throw CommandError("ERR Invalid min-idle-time argument for XAUTOCLAIM") }
        let minIdle = max(0, minIdle0)
        let start = try intervalBound(c.args[5], start: true)
        var count = 100
        var justID = false
        var j = 6
        while j < c.args.count {
            let more = c.args.count - 1 - j
            let o = c.argString(j)
            if o == "count" && more > 0 {
                guard let n = Decimal.parseCanonical(c.args[j + 1]), n >= 1, n <= Int64.max / 16 else { throw CommandError("ERR COUNT must be > 0") }
                count = Int(n)
                j += 1
            } else if o == "justid" {
                justID = true
            } else {
                throw CommandError.syntax
            }
            j += 1
        }
        let key = c.arg(1), gname = c.arg(2), cname = c.arg(3)
        guard let s = try c.getStream(key), let g = s.groups[ByteKey(gname)] else {
            throw CommandError("NOGROUP No such key '\(String(decoding: key, as: UTF8.self))' or consumer group '\(String(decoding: gname, as: UTF8.self))'")
        }
        let ids = g.pel.keys.sorted()
        var idx = ids.firstIndex { $0 >= start } ?? ids.count
        var attempts = count * 10
        let now = UInt64(max(0, c.now))
        var claimed = [Reply]()
        var deleted = [Reply]()
        var consumer: StreamObject.Consumer?
        while attempts > 0 && count > 0 && idx < ids.count {
            attempts -= 1
            let id = ids[idx]
            idx += 1
            guard var p = g.pel[id] else { continue }
            if !s.contains(id) {
                c.propagate(claimPropagation(key, gname, g, id, p))
                g.pel.removeValue(forKey: id)
                g.consumers[ByteKey(p.consumer)]?.pending.remove(id)
                deleted.append(.bulk(idBytes(id)))
                count -= 1
                continue
            }
            if minIdle > 0 && Int64(bitPattern: now &- p.deliveryTime) < minIdle { continue }
            if consumer == nil {
                if let cons = g.consumers[ByteKey(cname)] { cons.seenTime = now; consumer = cons } else {
                    let cons = StreamObject.Consumer(seenTime: now)
                    g.consumers[ByteKey(cname)] = cons
                    consumer = cons
                }
            }
            if p.consumer != cname { g.consumers[ByteKey(p.consumer)]?.pending.remove(id) }
            p.deliveryTime = now
            if !justID { p.deliveryCount += 1 }
            p.consumer = cname
            g.pel[id] = p
            consumer!.pending.insert(id)
            claimed.append(justID ? .bulk(idBytes(id)) : entryReply(s.entry(at: s.lowerBound(id))))
            count -= 1
            c.propagate(claimPropagation(key, gname, g, id, p))
        }
        let next = idx < ids.count ? ids[idx] : StreamID.zero
        return .array([.bulk(idBytes(next)), .array(claimed), .array(deleted)])
    }
}

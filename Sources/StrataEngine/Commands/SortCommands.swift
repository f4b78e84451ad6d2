#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

/// SORT and SORT_RO (Redis 7.0 `sort.c`): lists, sets and sorted sets, numeric or ALPHA,
/// BY pattern (a constant pattern means "do not sort"), GET patterns (`#`, `key*`,
/// `hash*->field`), LIMIT, ASC/DESC and STORE into a list.
enum SortCommands {
    static let all: [Command] = [
        cmd("sort", -2, [.write, .denyoom], 1, 1, 1) { c in try sort(&c, readonly: false) },
        cmd("sort_ro", -2, [.readonly], 1, 1, 1) { c in try sort(&c, readonly: true) },
    ]

    /// `lookupKeyByPattern`: "#" is the element; otherwise the first '*' is replaced by it,
    /// and "->field" after the '*' reads a hash field. nil when missing or of the wrong type.
    static func byPattern(_ c: CommandContext, _ pattern: Bytes, _ subst: Bytes) -> Bytes? {
        if pattern == [UInt8(ascii: "#")] { return subst }
        guard let star = pattern.firstIndex(of: UInt8(ascii: "*")) else { return nil }
        var field: Bytes? = nil
        var keyEnd = pattern.count
        var i = star + 1
        while i + 1 < pattern.count {
            if pattern[i] == UInt8(ascii: "-") && pattern[i + 1] == UInt8(ascii: ">") {
                if i + 2 < pattern.count { field = Array(pattern[(i + 2)...]); keyEnd = i }
                break
            }
            i += 1
        }
        let key = Array(pattern[..<star]) + subst + Array(pattern[(star + 1)..<keyEnd])
        guard let v = c.lookup(key) else { return nil }
        if let field {
            guard case .hash(let h) = v else { return nil }
            return h.get(field)
        }
        guard case .string(let s) = v else { return nil }
        return s.bytes
    }

    /// strtod over a C string (stops at a NUL), as SORT converts weights.
    static func weight(_ b: Bytes) -> Double? {
        let end = b.firstIndex(of: 0) ?? b.count
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: end + 1) { buf -> Double? in
            for i in 0..<end { buf[i] = CChar(bitPattern: b[i]) }
            buf[end] = 0
            var e: UnsafeMutablePointer<CChar>?
            errno = 0
            let v = strtod(buf.baseAddress!, &e)
            if e!.pointee != 0 || errno == ERANGE || v.isNaN { return nil }
            return v
        }
    }

    /// Binary comparison (compareStringObjects).
    static func compareBinary(_ a: Bytes, _ b: Bytes) -> Int {
        if bytesLess(a, b) { return -1 }
        return a == b ? 0 : 1
    }

    /// strcoll in the C locale: strcmp over the bytes up to the first NUL.
    static func compareCollate(_ a: Bytes, _ b: Bytes) -> Int {
        let x = a.prefix { $0 != 0 }, y = b.prefix { $0 != 0 }
        return compareBinary(Array(x), Array(y))
    }

    struct Item { var obj: Bytes; var score = 0.0; var cmp: Bytes? = nil }

    static func sort(_ c: inout CommandContext, readonly: Bool) throws -> Reply {
        var desc = false, alpha = false, dontsort = false
        var limitStart = 0, limitCount = -1
        var sortBy: Bytes? = nil, store: Bytes? = nil
        var gets = [Bytes]()
        var j = 2
        while j < c.args.count {
            let left = c.args.count - j - 1
            let a = c.argString(j)
            if a == "asc" { desc = false }
            else if a == "desc" { desc = true }
            else if a == "alpha" { alpha = true }
            else if a == "limit" && left >= 2 {
                guard let s = Decimal.parseCanonical(c.arg(j + 1)), let n = Decimal.parseCanonical(c.arg(j + 2)) else { throw CommandError.notInteger }
                limitStart = Int(s); limitCount = Int(n)
                j += 2
            } else if !readonly && a == "store" && left >= 1 {
                store = c.arg(j + 1); j += 1
            } else if a == "by" && left >= 1 {
                sortBy = c.arg(j + 1)
                if !sortBy!.contains(UInt8(ascii: "*")) { dontsort = true }
                j += 1
            } else if a == "get" && left >= 1 {
                gets.append(c.arg(j + 1)); j += 1
            } else {
                throw CommandError.syntax
            }
            j += 1
        }
        let value = c.lookup(c.arg(1))
        enum Kind { case list([Bytes]), set([Bytes]), zset(ZSetObject), empty }
        let kind: Kind
        switch value {
        case nil: kind = .empty
        case .list(let l)?: kind = .list(l.items.elements)
        case .set(let s)?: kind = .set(s.members)
        case .zset(let z)?:
            z.forceSkiplist()   // Redis converts a sorted set it sorts, for good
            kind = .zset(z)
        default: throw CommandError.wrongType
        }
        if dontsort, case .set = kind, store != nil {
            dontsort = false; alpha = true; sortBy = nil
        }
        var vectorLen: Int
        switch kind {
        case .list(let l): vectorLen = l.count
        case .set(let s): vectorLen = s.count
        case .zset(let z): vectorLen = z.count
        case .empty: vectorLen = 0
        }
        var start = min(max(limitStart, 0), vectorLen)
        let count = min(max(limitCount, -1), vectorLen)
        var end = count < 0 ? vectorLen - 1 : start + count - 1
        if start >= vectorLen { start = vectorLen - 1; end = vectorLen - 2 }
        if end >= vectorLen { end = vectorLen - 1 }

        var items = [Item]()
        switch kind {
        case .list(let l) where dontsort:
            if end >= start {
                let n = end - start + 1
                if desc { items = l.reversed().dropFirst(start).prefix(n).map { Item(obj: $0) } }
                else { items = l.dropFirst(start).prefix(n).map { Item(obj: $0) } }
                end -= start; start = 0
            }
        case .zset(let z) where dontsort:
            let all = z.members.map(\.member)
            let n = end - start + 1
            if n > 0 { items = (desc ? Array(all.reversed()) : all).dropFirst(start).prefix(n).map { Item(obj: $0) } }
            end -= start; start = 0
        case .list(let l): items = l.map { Item(obj: $0) }
        case .set(let s): items = s.map { Item(obj: $0) }
        case .zset(let z): items = z.members.map { Item(obj: $0.member) }
        case .empty: break
        }

        var conversionError = false
        if !dontsort {
            for k in items.indices {
                let by: Bytes
                if let sortBy {
                    guard let v = byPattern(c, sortBy, items[k].obj) else { continue }
                    by = v
                } else {
                    by = items[k].obj
                }
                if alpha {
                    if sortBy != nil { items[k].cmp = by }
                } else if let w = weight(by) {
                    items[k].score = w
                } else {
                    conversionError = true
                }
            }
            let byPatternSort = sortBy != nil, storing = store != nil
            func compare(_ a: Item, _ b: Item) -> Int {
                var r: Int
                if !alpha {
                    r = a.score > b.score ? 1 : (a.score < b.score ? -1 : compareBinary(a.obj, b.obj))
                } else if byPatternSort {
                    switch (a.cmp, b.cmp) {
                    case (nil, nil): r = 0
                    case (nil, _): r = -1
                    case (_, nil): r = 1
                    case (let x?, let y?): r = storing ? compareBinary(x, y) : compareCollate(x, y)
                    }
                } else {
                    r = storing ? compareBinary(a.obj, b.obj) : compareCollate(a.obj, b.obj)
                }
                return desc ? -r : r
            }
            // A stable merge sort, as glibc's qsort is for these sizes.
            items = mergeSorted(items) { compare($0, $1) < 0 }
        }
        if conversionError { throw CommandError("ERR One or more scores can't be converted into double") }

        let range = start <= end ? Array(items[start...end]) : []
        var out = [Bytes?]()
        for it in range {
            if gets.isEmpty { out.append(it.obj) }
            for g in gets { out.append(byPattern(c, g, it.obj)) }
        }
        guard let store else { return .array(out.map { .bulk($0) }) }
        if !out.isEmpty {
            c.engine.store(c.db, store, .list(ListObject(out.map { $0 ?? [] })))
            c.propagateAsIs()
        } else if c.engine.delete(c.db, store) {
            c.propagateAsIs()
        }
        return .integer(Int64(out.count))
    }

    /// Stable: equal elements keep their order.
    static func mergeSorted(_ a: [Item], _ less: (Item, Item) -> Bool) -> [Item] {
        if a.count <= 1 { return a }
        let mid = a.count / 2
        let l = mergeSorted(Array(a[..<mid]), less), r = mergeSorted(Array(a[mid...]), less)
        var out = [Item]()
        out.reserveCapacity(a.count)
        var i = 0, j = 0
        while i < l.count && j < r.count {
            if less(r[j], l[i]) { out.append(r[j]); j += 1 } else { out.append(l[i]); i += 1 }
        }
        out.append(contentsOf: l[i...]); out.append(contentsOf: r[j...])
        return out
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Byte order as Redis's sdscmp: memcmp over the common length, then the shorter first.
/// (`lexicographicallyPrecedes` compares element by element through the generic path.)
@inline(__always)
func bytesLess(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            let n = min(pa.count, pb.count)
            if n > 0 {
                let c = memcmp(pa.baseAddress!, pb.baseAddress!, n)
                if c != 0 { return c < 0 }
            }
            return pa.count < pb.count
        }
    }
}

/// Redis's sorted-set skiplist (`t_zset.c`): elements ordered by (score, member bytes), each
/// level link carrying the number of elements it skips, so rank queries are O(log n).
final class SkipList {
    static let maxLevel = 32

    /// One level of a node: its successor there (not retained) and how many elements the link
    /// skips. Kept together so a step costs one memory access, as in Redis's zskiplistLevel.
    struct Level {
        var link: Unmanaged<Node>?
        var span: Int
    }

    struct NodeHeader {
        let member: [UInt8]
        var score: Double
        /// How many levels the node has.
        let height: Int
        /// The successor at level 0: the one owning reference to it.
        var next: Node?
        // Not weak: a weak reference gives every node a side table and makes each retain and
        // release take the slow path. The predecessor owns this node through `next`.
        unowned(unsafe) var backward: Node?
    }

    /// A node with its levels allocated inline after it, as Redis's zskiplistNode: one memory
    /// access reaches the node and its links. Links are not retained (level 0 mirrors `next`),
    /// so walking the list costs no reference counting.
    final class Node: ManagedBuffer<NodeHeader, Level> {
        var member: [UInt8] { header.member }
        var score: Double {
            get { header.score }
            set { header.score = newValue }
        }
        var next: Node? {
            get { header.next }
            set { header.next = newValue }
        }
        var backward: Node? {
            get { header.backward }
            set { header.backward = newValue }
        }
        /// The node's levels (tail-allocated; valid while the node lives).
        var levels: UnsafeMutablePointer<Level> { withUnsafeMutablePointerToElements { $0 } }

        static func make(level: Int, member: [UInt8], score: Double) -> Node {
            let b = Node.create(minimumCapacity: level) { _ in NodeHeader(member: member, score: score, height: level, next: nil, backward: nil) }
            let n = unsafeDowncast(b, to: Node.self)
            n.withUnsafeMutablePointerToElements { $0.initialize(repeating: Level(link: nil, span: 0), count: level) }
            return n
        }
    }

    let head = Node.make(level: SkipList.maxLevel, member: [], score: 0)
    private(set) var tail: Node?
    private(set) var count = 0
    private var level = 1
    // Level choice needs speed, not unpredictability: xorshift, seeded once.
    private var rngState: UInt64 = {
        var g = SystemRandomNumberGenerator()
        return g.next() | 1
    }()
    // Reused per insert/delete instead of two allocations per call.
    private var updateScratch = [Unmanaged<Node>]()
    private var rankScratch = [Int](repeating: 0, count: SkipList.maxLevel)
    /// Whether the last `unlink` left its node in place (its `keep` predicate held).
    private var lastKeptInPlace = false

    /// (score, member) order: score first, then bytes (memcmp, shorter first on a tie).
    @inline(__always)
    static func less(_ s1: Double, _ m1: [UInt8], _ s2: Double, _ m2: [UInt8]) -> Bool {
        if s1 != s2 { return s1 < s2 }
        return bytesLess(m1, m2)
    }

    /// True when the node `u` sorts before (score, member).
    @inline(__always)
    static func before(_ u: Unmanaged<Node>, _ score: Double, _ member: [UInt8]) -> Bool {
        u._withUnsafeGuaranteedRef { n in
            if n.score != score { return n.score < score }
            return bytesLess(n.member, member)
        }
    }

    private func randomLevel() -> Int {
        var l = 1
        while l < SkipList.maxLevel {
            rngState ^= rngState << 13; rngState ^= rngState >> 7; rngState ^= rngState << 17
            if rngState & 0xFFFF >= 0x4000 { break }   // p = 1/4
            l += 1
        }
        return l
    }

    func insert(_ member: [UInt8], _ score: Double) {
        let l = randomLevel()
        link(Node.make(level: l, member: member, score: score))
    }

    /// Links `node` (not in the list; its score and height set) at its place.
    private func link(_ node: Node) {
        let h = Unmanaged.passUnretained(head)
        if updateScratch.isEmpty { updateScratch = [Unmanaged<Node>](repeating: h, count: SkipList.maxLevel) }
        var update = updateScratch
        updateScratch = []
        defer { updateScratch = update }
        var rank = rankScratch
        rankScratch = []
        defer { rankScratch = rank }
        let score = node.score
        let member = node.member
        var x = h
        for i in stride(from: level - 1, through: 0, by: -1) {
            rank[i] = i == level - 1 ? 0 : rank[i + 1]
            while let f = x._withUnsafeGuaranteedRef({ $0.levels[i].link }), SkipList.before(f, score, member) {
                rank[i] += x._withUnsafeGuaranteedRef { $0.levels[i].span }
                x = f
            }
            update[i] = x
        }
        let l = node.header.height
        if l > level {
            for i in level..<l { rank[i] = 0; update[i] = h; head.levels[i].span = count }
            level = l
        }
        let u = Unmanaged.passUnretained(node)
        let pred = update[0].takeUnretainedValue()
        node.next = pred.next
        pred.next = node
        for i in 0..<l {
            update[i]._withUnsafeGuaranteedRef { p in
                node.levels[i].link = p.levels[i].link
                p.levels[i].link = u
                node.levels[i].span = p.levels[i].span - (rank[0] - rank[i])
                p.levels[i].span = rank[0] - rank[i] + 1
            }
        }
        for i in l..<level { update[i]._withUnsafeGuaranteedRef { $0.levels[i].span += 1 } }
        node.backward = pred === head ? nil : pred
        if let f = node.next { f.backward = node } else { tail = node }
        count += 1
    }

    /// Moves a present element from score `old` to `new` (Redis's zslUpdateScore): in place when
    /// it keeps its position, else unlinked and relinked, reusing the node.
    func update(_ member: [UInt8], from old: Double, to new: Double) {
        guard let target = unlink(member, old, unless: { n in
            (n.backward == nil || n.backward!.score < new) && (n.next == nil || n.next!.score > new)
        }) else { return }
        target.score = new
        if !lastKeptInPlace { link(target) }
    }

    @discardableResult
    func delete(_ member: [UInt8], _ score: Double) -> Bool {
        unlink(member, score, unless: { _ in false }) != nil
    }

    /// Finds (score, member) and unlinks it, returning the node (alive while the caller holds
    /// it); when `keep` says the node may stay where it is, returns it still linked instead
    /// (`lastKeptInPlace` tells the two apart).
    private func unlink(_ member: [UInt8], _ score: Double, unless keep: (Node) -> Bool) -> Node? {
        let h = Unmanaged.passUnretained(head)
        if updateScratch.isEmpty { updateScratch = [Unmanaged<Node>](repeating: h, count: SkipList.maxLevel) }
        var update = updateScratch
        updateScratch = []
        defer { updateScratch = update }
        var x = h
        for i in stride(from: level - 1, through: 0, by: -1) {
            while let f = x._withUnsafeGuaranteedRef({ $0.levels[i].link }), SkipList.before(f, score, member) { x = f }
            update[i] = x
        }
        let pred = x.takeUnretainedValue()
        guard let target = pred.next, target.score == score, target.member == member else { return nil }
        if keep(target) { lastKeptInPlace = true; return target }
        lastKeptInPlace = false
        let t = Unmanaged.passUnretained(target)
        for i in 0..<level {
            update[i]._withUnsafeGuaranteedRef { p in
                if let l = p.levels[i].link, l.toOpaque() == t.toOpaque() {
                    p.levels[i].span += target.levels[i].span - 1
                    p.levels[i].link = target.levels[i].link
                } else {
                    p.levels[i].span -= 1
                }
            }
        }
        if let f = target.next { f.backward = target.backward } else { tail = target.backward }
        pred.next = target.next   // the list's reference goes; `target` keeps the node alive
        target.next = nil
        target.backward = nil
        for i in 0..<target.header.height { target.levels[i] = Level(link: nil, span: 0) }
        while level > 1 && head.levels[level - 1].link == nil { level -= 1 }
        count -= 1
        return target
    }

    /// 0-based rank of an element known to be present.
    func rank(_ member: [UInt8], _ score: Double) -> Int? {
        var r = 0
        var x = Unmanaged.passUnretained(head)
        for i in stride(from: level - 1, through: 0, by: -1) {
            while let f = x._withUnsafeGuaranteedRef({ $0.levels[i].link }),
                  f._withUnsafeGuaranteedRef({ SkipList.less($0.score, $0.member, score, member) || ($0.score == score && $0.member == member) }) {
                r += x._withUnsafeGuaranteedRef { $0.levels[i].span }
                x = f
            }
            let found = x._withUnsafeGuaranteedRef { $0 !== head && $0.score == score && $0.member == member }
            if found { return r - 1 }
        }
        return nil
    }

    /// The element at 0-based rank `r`.
    func node(at r: Int) -> Node? {
        guard r >= 0 && r < count else { return nil }
        var traversed = 0
        var x = Unmanaged.passUnretained(head)
        let target = r + 1
        for i in stride(from: level - 1, through: 0, by: -1) {
            while let f = x._withUnsafeGuaranteedRef({ $0.levels[i].link }), traversed + x._withUnsafeGuaranteedRef({ $0.levels[i].span }) <= target {
                traversed += x._withUnsafeGuaranteedRef { $0.levels[i].span }
                x = f
            }
            if traversed == target { return x.takeUnretainedValue() }
        }
        return nil
    }

    /// How many elements come before the first one for which `isAtOrAfter` holds (the
    /// predicate must be monotone along the order).
    func countBefore(_ isAtOrAfter: (Node) -> Bool) -> Int {
        var r = 0
        var x = Unmanaged.passUnretained(head)
        for i in stride(from: level - 1, through: 0, by: -1) {
            while let f = x._withUnsafeGuaranteedRef({ $0.levels[i].link }), !isAtOrAfter(f.takeUnretainedValue()) {
                r += x._withUnsafeGuaranteedRef { $0.levels[i].span }
                x = f
            }
        }
        return r
    }

    var first: Node? { head.next }

    /// Unlinks node by node: releasing the chain through `next` would recurse once per
    /// element and overflow the stack on a large set.
    deinit {
        var n = head.next
        head.next = nil
        while let x = n { n = x.next; x.next = nil }
    }
}

/// A sorted set. While within `zset-max-listpack-*` its members and scores are packed in one
/// buffer in (score, member) order, as Redis's listpack ("listpack"); once it outgrows them,
/// member → score plus the skiplist for order ("skiplist", and never back, as in Redis).
public final class ZSetObject {
    private var pack: PackedScores? = PackedScores()
    var dict: [ByteKey: Double] = [:]
    /// Made on conversion: a packed set carries no skiplist head.
    private lazy var ordered = SkipList()
    /// True while the skiplist is out of date (see `set(_:_:limits:deferOrder:)`).
    private var orderStale = false
    /// Set once an ordered read rebuilt the skiplist: from then on it is always maintained.
    private var orderReadWhileDeferring = false

    public init() {}

    public var packed: Bool { pack != nil }
    public var count: Int { pack?.count ?? dict.count }
    public var encoding: String { pack != nil ? "listpack" : "skiplist" }
    /// Bytes of the packed buffer (MEMORY USAGE), nil for a skiplist.
    var packedBytes: Int? { pack.map { $0.buf.capacity } }

    /// The members in (score, member) order, rebuilt first if updates were deferred.
    private var list: SkipList {
        if orderStale { rebuildOrder() }
        return ordered
    }

    private func rebuildOrder() {
        orderStale = false
        orderReadWhileDeferring = true
        let sorted = dict.sorted { a, b in
            a.value != b.value ? a.value < b.value : bytesLess(a.key.bytes, b.key.bytes)
        }
        let l = SkipList()
        for (k, v) in sorted { l.insert(k.bytes, v) }
        ordered = l
    }

    public func score(_ m: [UInt8]) -> Double? {
        if let p = pack { return p.score(m) }
        return dict[ByteKey(m)]
    }

    /// Adds or moves a member; returns true when it is new.
    ///
    /// With `deferOrder` (AOF replay: thousands of ZADDs rescoring the same large set before
    /// anything reads its order), a set of at least 128 members drops its skiplist and keeps
    /// only member -> score until an ordered read rebuilds it by one sort. After such a read the
    /// set is maintained as usual, so reads interleaved with writes never rebuild twice.
    @discardableResult
    public func set(_ m: [UInt8], _ score: Double, limits: EncodingLimits, deferOrder: Bool = false) -> Bool {
        if pack != nil {
            // zsetAdd: a new element that would break the limits converts first.
            if pack!.count + 1 <= limits.zsetMaxListpackEntries && m.count <= limits.zsetMaxListpackValue {
                return pack!.set(m, score)
            }
            if pack!.score(m) != nil { return pack!.set(m, score) }
            convert()
        }
        if !orderStale && deferOrder && !orderReadWhileDeferring && dict.count >= 128 {
            orderStale = true
            ordered = SkipList()
        }
        let k = ByteKey(m)
        if let i = dict.index(forKey: k) {   // one hash of the member, not two
            let old = dict.values[i]
            if old != score {
                if !orderStale { ordered.update(m, from: old, to: score) }
                dict.values[i] = score
            }
            return false
        }
        dict[k] = score
        if !orderStale { ordered.insert(m, score) }
        return true
    }

    @discardableResult
    public func remove(_ m: [UInt8]) -> Bool {
        if pack != nil { return pack!.remove(m) != nil }
        guard let s = dict.removeValue(forKey: ByteKey(m)) else { return false }
        if !orderStale { ordered.delete(m, s) }
        return true
    }

    public func rank(_ m: [UInt8]) -> Int? {
        if let p = pack { return p.rank(m) }
        guard let s = dict[ByteKey(m)] else { return nil }
        return list.rank(m, s)
    }

    /// Members from rank `from` (inclusive), `n` of them, ascending.
    public func range(from: Int, count n: Int) -> [(member: [UInt8], score: Double)] {
        var out = [(member: [UInt8], score: Double)]()
        walk(from: from) { s, m in
            guard out.count < n else { return false }
            out.append((m, s))
            return out.count < n
        }
        return out
    }

    /// Visits members from rank `from` on, in order, while `body` returns true.
    func walk(from: Int, _ body: (Double, [UInt8]) -> Bool) {
        if let p = pack { p.walk(from: from, body); return }
        var node = list.node(at: from)
        while let x = node, body(x.score, x.member) { node = x.next }
    }

    /// How many members come before the first whose score satisfies `isAtOrAfter` (monotone
    /// along the order).
    func countBefore(score isAtOrAfter: (Double) -> Bool) -> Int {
        if let p = pack { return p.countBefore(score: isAtOrAfter) }
        return list.countBefore { isAtOrAfter($0.score) }
    }

    /// How many members come before the first for which `isAtOrAfter` holds (monotone).
    func countBefore(member isAtOrAfter: ([UInt8]) -> Bool) -> Int {
        if pack != nil {
            var r = 0
            walk(from: 0) { _, m in
                if isAtOrAfter(m) { return false }
                r += 1
                return true
            }
            return r
        }
        return list.countBefore { isAtOrAfter($0.member) }
    }

    /// The first and last members in order.
    var firstMember: [UInt8]? { range(from: 0, count: 1).first?.member }
    var lastMember: [UInt8]? {
        if pack != nil { return count == 0 ? nil : range(from: count - 1, count: 1).first?.member }
        return list.tail?.member
    }

    public var members: [(member: [UInt8], score: Double)] { range(from: 0, count: count) }

    /// A skiplist from now on (a copy of a converted zset stays converted, as in Redis).
    func forceSkiplist() { if pack != nil { convert() } }

    private func convert() {
        let ms = pack!.members
        pack = nil
        dict.reserveCapacity(ms.count)
        for m in ms {
            // A member a file repeated (loaded without sanitize-dump-payload, as Redis loads):
            // the first is kept, as packed lookups found it.
            let k = ByteKey(m.member)
            if dict[k] != nil { continue }
            dict[k] = m.score
            ordered.insert(m.member, m.score)
        }
    }

    /// A packed sorted set built by the RDB loader.
    static func loaded(_ p: PackedScores) -> ZSetObject {
        let z = ZSetObject()
        z.pack = p
        return z
    }

    public static func from(_ ms: [(member: [UInt8], score: Double)], limits: EncodingLimits) -> ZSetObject {
        let z = ZSetObject()
        if ms.count > limits.zsetMaxListpackEntries || ms.contains(where: { $0.member.count > limits.zsetMaxListpackValue }) {
            z.pack = nil
            z.dict.reserveCapacity(ms.count)
            for m in ms {
                // A member repeated in a file loaded without sanitize-dump-payload: the first
                // is kept, as in a converted listpack (one entry in the dict and the skiplist).
                let k = ByteKey(m.member)
                if z.dict[k] != nil { continue }
                z.dict[k] = m.score
                z.ordered.insert(m.member, m.score)
            }
            return z
        }
        if Pack.hasRepeats(ms.count, { ms[$0].member }) {
            for m in ms { _ = z.pack!.set(m.member, m.score) }   // a repeated member: the last wins
            return z
        }
        var sorted = true
        for i in ms.indices.dropFirst() where !SkipList.less(ms[i - 1].score, ms[i - 1].member, ms[i].score, ms[i].member) { sorted = false; break }
        z.pack = PackedScores(sorted: sorted ? ms : ms.sorted { SkipList.less($0.score, $0.member, $1.score, $1.member) })
        return z
    }
}

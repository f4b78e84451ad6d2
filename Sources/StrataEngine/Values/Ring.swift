/// Elements per chunk of a large ring (8 KB of references, as a quicklist node is 8 KB).
let ringChunkShift = 10

/// A double-ended queue: O(1) push and pop at both ends, O(1) indexing (what a Redis list
/// needs for LPUSH/RPOP/LINDEX).
///
/// Up to one chunk of elements it is one ring buffer whose capacity doubles. Beyond that it
/// is a ring of fixed-size chunks, like Redis's quicklist of 8 KB nodes: a push that needs
/// room adds one chunk, a pop that empties a chunk frees it, and growth never moves the
/// elements, only the chunk references (a list of millions grows with no pause clients see).
public struct Ring<Element> {
    // Small: one ring buffer, capacity a power of two up to one chunk; `head` is element 0's slot.
    private var small: [Element?] = []
    // Large (`chunks` not empty): a ring of chunk buffers, each exactly one chunk long, or empty
    // where no chunk is held. `firstChunk` is the slot of the chunk holding element 0, `head` is
    // element 0's offset in it, `chunkCount` the chunks in use.
    private var chunks: [[Element?]] = []
    private var firstChunk = 0
    private var chunkCount = 0
    private var head = 0
    public private(set) var count = 0

    private static var chunkSize: Int { 1 << ringChunkShift }
    private static var offsetMask: Int { (1 << ringChunkShift) - 1 }

    public init() {}

    public init<S: Sequence>(_ s: S) where S.Element == Element {
        replaceAll(with: s)
    }

    public var isEmpty: Bool { count == 0 }

    // MARK: - Addressing

    @inline(__always) private var isChunked: Bool { !chunks.isEmpty }

    @inline(__always) private func smallSlot(_ i: Int) -> Int { (head + i) & (small.count - 1) }

    /// The chunk slot and offset of element `i` (large form).
    @inline(__always) private func place(_ i: Int) -> (chunk: Int, offset: Int) {
        let pos = head + i
        return ((firstChunk + (pos >> ringChunkShift)) & (chunks.count - 1), pos & Self.offsetMask)
    }

    public subscript(i: Int) -> Element {
        get {
            if isChunked { let p = place(i); return chunks[p.chunk][p.offset]! }
            return small[smallSlot(i)]!
        }
        set {
            if isChunked { let p = place(i); chunks[p.chunk][p.offset] = newValue; return }
            small[smallSlot(i)] = newValue
        }
    }

    // MARK: - Small form

    /// Doubles the small buffer. Elements are moved, not copied: a memcpy of the references,
    /// no retain and release per element.
    private mutating func growSmall() {
        let oldCap = small.count
        var fresh = [Element?](repeating: nil, count: Swift.max(8, oldCap * 2))
        Self.moveRing(from: &small, head: head, count: count, into: &fresh)
        small = fresh
        head = 0
    }

    /// Moves `count` elements of a ring buffer, from slot `head` on, to the start of `dst`,
    /// leaving nil behind (so the source releases nothing twice).
    private static func moveRing(from src: inout [Element?], head: Int, count: Int, into dst: inout [Element?]) {
        guard count > 0 else { return }
        let cap = src.count
        let first = Swift.min(count, cap - head)   // head..<end, then 0..<rest
        src.withUnsafeMutableBufferPointer { old in
            dst.withUnsafeMutableBufferPointer { new in
                let s = old.baseAddress!, d = new.baseAddress!
                d.moveUpdate(from: s + head, count: first)
                (s + head).initialize(repeating: nil, count: first)
                if count > first {
                    (d + first).moveUpdate(from: s, count: count - first)
                    s.initialize(repeating: nil, count: count - first)
                }
            }
        }
    }

    /// The small buffer is one full chunk and needs room: it becomes the first chunk of the
    /// large form.
    private mutating func becomeChunked() {
        var first = [Element?](repeating: nil, count: Self.chunkSize)
        Self.moveRing(from: &small, head: head, count: count, into: &first)
        small = []
        chunks = [[Element?]](repeating: [], count: 8)
        chunks[0] = first
        firstChunk = 0
        chunkCount = 1
        head = 0
    }

    /// Room for one more element: grows the small buffer or turns large.
    @inline(__always) private mutating func makeRoomIfSmall() {
        guard !isChunked, count == small.count else { return }
        if small.count < Self.chunkSize { growSmall() } else { becomeChunked() }
    }

    // MARK: - Large form

    /// Doubles the ring of chunk references (moves n / chunkSize references, not elements).
    private mutating func growChunkRing() {
        let old = chunks.count
        var fresh = [[Element?]](repeating: [], count: old * 2)
        for k in 0..<chunkCount { swap(&fresh[k], &chunks[(firstChunk + k) & (old - 1)]) }
        chunks = fresh
        firstChunk = 0
    }

    private static func freshChunk() -> [Element?] { [Element?](repeating: nil, count: chunkSize) }

    /// Back to the empty small form (a large ring that lost its last element frees its chunks).
    private mutating func reset() {
        small = []; chunks = []; firstChunk = 0; chunkCount = 0; head = 0; count = 0
    }

    // MARK: - Pushes and pops

    public mutating func append(_ e: Element) {
        makeRoomIfSmall()
        if !isChunked {
            small[smallSlot(count)] = e
            count += 1
            return
        }
        let pos = head + count
        if pos >> ringChunkShift == chunkCount {   // the last chunk is full
            if chunkCount == chunks.count { growChunkRing() }
            chunks[(firstChunk + chunkCount) & (chunks.count - 1)] = Self.freshChunk()
            chunkCount += 1
        }
        let p = place(count)
        chunks[p.chunk][p.offset] = e
        count += 1
    }

    public mutating func prepend(_ e: Element) {
        makeRoomIfSmall()
        if !isChunked {
            head = (head - 1) & (small.count - 1)
            small[head] = e
            count += 1
            return
        }
        if head == 0 {   // the first chunk is full at the front
            if chunkCount == chunks.count { growChunkRing() }
            firstChunk = (firstChunk - 1) & (chunks.count - 1)
            chunks[firstChunk] = Self.freshChunk()
            chunkCount += 1
            head = Self.chunkSize
        }
        head -= 1
        chunks[firstChunk][head] = e
        count += 1
    }

    public mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        if !isChunked {
            let e = small[head]
            small[head] = nil
            head = (head + 1) & (small.count - 1)
            count -= 1
            return e
        }
        let e = chunks[firstChunk][head]
        chunks[firstChunk][head] = nil
        head += 1
        count -= 1
        if count == 0 { reset(); return e }
        if head == Self.chunkSize {   // the first chunk is empty: free it
            chunks[firstChunk] = []
            firstChunk = (firstChunk + 1) & (chunks.count - 1)
            chunkCount -= 1
            head = 0
        }
        return e
    }

    public mutating func popLast() -> Element? {
        guard count > 0 else { return nil }
        if !isChunked {
            let i = smallSlot(count - 1)
            let e = small[i]
            small[i] = nil
            count -= 1
            return e
        }
        let p = place(count - 1)
        let e = chunks[p.chunk][p.offset]
        chunks[p.chunk][p.offset] = nil
        count -= 1
        if count == 0 { reset(); return e }
        if p.offset == 0 {   // that was the last chunk's only element: free it
            chunks[p.chunk] = []
            chunkCount -= 1
        }
        return e
    }

    /// Rebuilds from the elements kept (LREM, LTRIM, LINSERT use it: O(n), as in Redis).
    public mutating func replaceAll<S: Sequence>(with s: S) where S.Element == Element {
        let all = s.map { Optional($0) }
        reset()
        count = all.count
        if count <= Self.chunkSize {
            // Capacity a power of two (slots are masks).
            var cap = 8
            while cap < count { cap *= 2 }
            small = all
            if cap > count { small.append(contentsOf: repeatElement(nil, count: cap - count)) }
            return
        }
        chunkCount = (count + Self.chunkSize - 1) >> ringChunkShift
        var ring = 8
        while ring < chunkCount { ring *= 2 }
        chunks = [[Element?]](repeating: [], count: ring)
        for k in 0..<chunkCount {
            let lo = k << ringChunkShift, hi = Swift.min(count, lo + Self.chunkSize)
            var c = Array(all[lo..<hi])
            if c.count < Self.chunkSize { c.append(contentsOf: repeatElement(nil, count: Self.chunkSize - c.count)) }
            chunks[k] = c
        }
    }

    public var elements: [Element] { (0..<count).map { self[$0] } }

    /// Chunks held by the large form (0 while small); tests check that pops free them.
    var chunksHeld: Int { chunks.reduce(0) { $0 + ($1.isEmpty ? 0 : 1) } }
}

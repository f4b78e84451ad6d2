/// A double-ended queue on a ring buffer: O(1) push and pop at both ends, O(1) indexing
/// (what a Redis list needs for LPUSH/RPOP/LINDEX).
public struct Ring<Element> {
    private var storage: [Element?] = []
    private var head = 0
    public private(set) var count = 0

    public init() {}

    public init<S: Sequence>(_ s: S) where S.Element == Element {
        replaceAll(with: s)
    }

    public var isEmpty: Bool { count == 0 }

    /// Doubles the buffer (capacities are powers of two, so a slot is a mask, not a division).
    /// Elements are moved, not copied: a memcpy of the references, no retain and release per
    /// element (a list of millions grows in milliseconds, not in a pause clients notice).
    private mutating func grow() {
        let oldCap = storage.count
        let newCap = Swift.max(8, oldCap * 2)
        var fresh = [Element?](repeating: nil, count: newCap)
        if count > 0 {
            let first = Swift.min(count, oldCap - head)   // head..<end, then 0..<rest
            storage.withUnsafeMutableBufferPointer { old in
                fresh.withUnsafeMutableBufferPointer { new in
                    let src = old.baseAddress!, dst = new.baseAddress!
                    // Move out, leaving nil behind, so the old buffer releases nothing twice.
                    dst.moveUpdate(from: src + head, count: first)
                    (src + head).initialize(repeating: nil, count: first)
                    if count > first {
                        (dst + first).moveUpdate(from: src, count: count - first)
                        src.initialize(repeating: nil, count: count - first)
                    }
                }
            }
        }
        storage = fresh
        head = 0
    }

    @inline(__always) private func slot(_ i: Int) -> Int { (head + i) & (storage.count - 1) }

    public subscript(i: Int) -> Element {
        get { storage[slot(i)]! }
        set { storage[slot(i)] = newValue }
    }

    public mutating func append(_ e: Element) {
        if count == storage.count { grow() }
        storage[slot(count)] = e
        count += 1
    }

    public mutating func prepend(_ e: Element) {
        if count == storage.count { grow() }
        head = (head - 1) & (storage.count - 1)
        storage[head] = e
        count += 1
    }

    public mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let e = storage[head]
        storage[head] = nil
        head = (head + 1) & (storage.count - 1)
        count -= 1
        return e
    }

    public mutating func popLast() -> Element? {
        guard count > 0 else { return nil }
        let i = slot(count - 1)
        let e = storage[i]
        storage[i] = nil
        count -= 1
        return e
    }

    /// Rebuilds from the elements kept (LREM, LTRIM, LINSERT use it: O(n), as in Redis).
    public mutating func replaceAll<S: Sequence>(with s: S) where S.Element == Element {
        storage = s.map { Optional($0) }
        head = 0
        count = storage.count
        // Capacity a power of two (slots are masks).
        var cap = 8
        while cap < count { cap *= 2 }
        if cap > count { storage.append(contentsOf: repeatElement(nil, count: cap - count)) }
    }

    public var elements: [Element] { (0..<count).map { self[$0] } }
}

/// A double-ended queue on a ring buffer: O(1) push and pop at both ends, O(1) indexing
/// (what a Redis list needs for LPUSH/RPOP/LINDEX).
public struct Ring<Element> {
    private var storage: [Element?] = []
    private var head = 0
    public private(set) var count = 0

    public init() {}

    public init<S: Sequence>(_ s: S) where S.Element == Element {
        storage = s.map { Optional($0) }
        count = storage.count
    }

    public var isEmpty: Bool { count == 0 }

    private mutating func grow() {
        let newCap = Swift.max(8, storage.count * 2)
        var fresh = [Element?](repeating: nil, count: newCap)
        for i in 0..<count { fresh[i] = storage[(head + i) % storage.count] }
        storage = fresh
        head = 0
    }

    @inline(__always) private func slot(_ i: Int) -> Int { (head + i) % storage.count }

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
        head = (head - 1 + storage.count) % storage.count
        storage[head] = e
        count += 1
    }

    public mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let e = storage[head]
        storage[head] = nil
        head = (head + 1) % storage.count
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
    }

    public var elements: [Element] { (0..<count).map { self[$0] } }
}

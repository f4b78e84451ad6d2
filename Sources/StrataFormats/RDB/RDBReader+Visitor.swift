/// Receives a collection's elements as the reader decodes them, borrowed from its buffers,
/// instead of the reader building arrays of them: what `rdb dump` uses to print lists, sets,
/// sorted sets and hashes without an allocation per element.
///
/// For each such key: `begin`, then `item` (list, set), `member` (sorted set) or `field`
/// (hash) per element, then `end`; the `.entry` event that follows carries a `.summary` value.
/// Strings, streams and module values are not visited: they arrive materialised as usual.
/// Borrowed bytes are valid only during the call.
public protocol RDBCollectionVisitor: AnyObject {
    func begin(db: Int, key: [UInt8], kind: RDBValueKind, expireMs: Int64?, idle: UInt64?, freq: UInt8?)
    func item(_ e: PackedElement)
    func member(_ m: PackedElement, score: Double)
    func field(_ f: PackedElement, value: PackedElement, expireMs: Int64?)
    func end()
    /// How many elements the file says follow (plain list, set, sorted set and hash encodings
    /// give it up front), called after `begin`; a builder can size its table once.
    func expect(_ count: Int)
    /// The size of the listpack or ziplist a sorted set's or hash's elements come from.
    func expect(packedBytes: Int)
    /// True when the visitor takes a hash's or sorted set's listpack whole (`listpack(_:...)`)
    /// instead of a `field` or `member` call per pair.
    var takesListpacks: Bool { get }
    /// A hash's or sorted set's listpack (RDB types 16 and 17), whole. The visitor walks and
    /// checks it itself (`Listpack.header`, `next`, `checkCount`: structure, whole pairs,
    /// numeric scores, the declared count) and returns the summary the element-by-element path
    /// makes (pairs; their text bytes, 8 per score; the longest field or member). Repeated
    /// fields or members were refused before the call when the reader's options ask for it.
    func listpack(_ blob: UnsafeRawBufferPointer, zset: Bool) throws -> ValueSummary
    /// `listpack(_:zset:)`, told where the blob's string starts in the file (what the
    /// reader's error for a corrupt listpack names), for a visitor that checks it later.
    func listpack(_ blob: UnsafeRawBufferPointer, zset: Bool, at offset: Int) throws -> ValueSummary
    /// True when the visitor's own set detects a repeated member (`setMember` returns false):
    /// the reader then skips its own duplicate pass for plain sets (one hash per member, not two).
    var detectsSetDuplicates: Bool { get }
    /// A plain set's member (instead of `item`), when `detectsSetDuplicates`; false if repeated.
    func setMember(_ m: UnsafeRawBufferPointer) -> Bool
}

extension RDBCollectionVisitor {
    public func expect(_ count: Int) {}
    public func expect(packedBytes: Int) {}
    public var takesListpacks: Bool { false }
    public var detectsSetDuplicates: Bool { false }
    public func setMember(_ m: UnsafeRawBufferPointer) -> Bool { item(.bytes(m)); return true }
    public func listpack(_ blob: UnsafeRawBufferPointer, zset: Bool) throws -> ValueSummary { ValueSummary() }
    public func listpack(_ blob: UnsafeRawBufferPointer, zset: Bool, at offset: Int) throws -> ValueSummary {
        try listpack(blob, zset: zset)
    }
}

extension RDBReader {
    /// The value kinds a visitor receives, by type byte.
    static func visitedKind(_ t: UInt8, family: RDBFamily) -> RDBValueKind? {
        switch t {
        case 1, 10, 14, 18: return .list
        case 2, 11, 20: return .set
        case 3, 5, 12, 17: return .zset
        case 4, 9, 13, 16, 23, 24, 25: return .hash
        case 22: return .hash
        default: return nil
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Redis's dataset fingerprint (`DEBUG DIGEST`, `DEBUG DIGEST-VALUE`), computed exactly as
/// Redis 7.0 computes it (`debug.c`): SHA-1 based, order-preserving where order matters (lists,
/// stream entries), order-independent (XOR) where it does not (keys, set members, hash fields,
/// sorted-set members).
///
/// - `xorDigest(d, data)`: d ^= SHA1(data)
/// - `mixDigest(d, data)`: d = SHA1(d ^ SHA1(data))
/// - a key: mix(key), mix(htonl(type)), the value, then xor("!!expire!!") when it has a TTL.
/// - the dataset: for each non-empty db in order, final = mix(final, htonl(db)), then
///   xor(final, keyDigest) for every key: note xorDigest XORs the SHA-1 of its input, so it is
///   SHA1(keyDigest) that goes in (likewise for hash and sorted-set element digests).
public enum RedisDigest {
    public typealias Digest = [UInt8]   // 20 bytes

    @inline(__always)
    public static func xor(_ d: inout Digest, _ data: UnsafeRawBufferPointer) {
        let h = SHA1.hash(data)
        for i in 0..<20 { d[i] ^= h[i] }
    }

    public static func xor(_ d: inout Digest, _ data: [UInt8]) { data.withUnsafeBytes { xor(&d, $0) } }

    @inline(__always)
    public static func mix(_ d: inout Digest, _ data: UnsafeRawBufferPointer) {
        xor(&d, data)
        d = SHA1.hash(d)
    }

    public static func mix(_ d: inout Digest, _ data: [UInt8]) { data.withUnsafeBytes { mix(&d, $0) } }

    static func mixUInt32BE(_ d: inout Digest, _ v: UInt32) {
        withUnsafeBytes(of: v.bigEndian) { mix(&d, $0) }
    }

    /// Redis object type codes (`OBJ_STRING` ...), as mixed into the digest.
    public enum ObjectType: UInt32 { case string = 0, list = 1, set = 2, zset = 3, hash = 4, module = 5, stream = 6 }

    /// `snprintf("%.17g")`, the text Redis 7.0 digests for a sorted-set score.
    public static func scoreText(_ d: Double) -> [UInt8] {
        var buf = [CChar](repeating: 0, count: 64)
        let n = withVaList([d]) { vsnprintf(&buf, 64, "%.17g", $0) }
        return buf[0..<Int(n)].map { UInt8(bitPattern: $0) }
    }

    public static let zero: Digest = [UInt8](repeating: 0, count: 20)

    public struct Unsupported: Error, CustomStringConvertible {
        public let description: String
    }

    /// `DEBUG DIGEST-VALUE` of one value (the key's digest without the key and expiry parts
    /// is what Redis returns for DIGEST-VALUE: type, then value).
    public static func valueDigest(_ value: RDBValue, fieldTTLMarker: Bool = true) throws -> Digest {
        var d = zero
        try mixValue(&d, value, fieldTTLMarker: fieldTTLMarker)
        return d
    }

    /// The digest of one key as it enters the dataset digest.
    public static func keyDigest(key: [UInt8], value: RDBValue, hasExpire: Bool, fieldTTLMarker: Bool = true) throws -> Digest {
        var d = zero
        mix(&d, key)
        try mixValue(&d, value, fieldTTLMarker: fieldTTLMarker)
        if hasExpire { xor(&d, Array("!!expire!!".utf8)) }
        return d
    }

    static func mixValue(_ d: inout Digest, _ value: RDBValue, fieldTTLMarker: Bool = true) throws {
        switch value {
        case .string(let s):
            mixUInt32BE(&d, ObjectType.string.rawValue)
            mix(&d, s)
        case .list(let l):
            mixUInt32BE(&d, ObjectType.list.rawValue)
            for e in l { mix(&d, e) }
        case .set(let s):
            mixUInt32BE(&d, ObjectType.set.rawValue)
            for e in s { xor(&d, e) }
        case .sortedSet(let z):
            mixUInt32BE(&d, ObjectType.zset.rawValue)
            for m in z {
                var e = zero
                mix(&e, m.member)
                mix(&e, scoreText(m.score))
                xor(&d, e)   // xorDigest(digest, eledigest, 20): SHA-1 of the element digest
            }
        case .hash(let h):
            mixUInt32BE(&d, ObjectType.hash.rawValue)
            for f in h {
                var e = zero
                mix(&e, f.field)
                mix(&e, f.value)
                // Redis 7.4 marks fields with a TTL (debug.c: "!!hexpire!!"); Valkey 9 does not.
                if fieldTTLMarker && f.expireMs != nil { xor(&e, Array("!!hexpire!!".utf8)) }
                xor(&d, e)
            }
        case .stream(let s):
            mixUInt32BE(&d, ObjectType.stream.rawValue)
            try s.forEachEntry { entry in
                mix(&d, Array("\(entry.id.ms).\(entry.id.seq)".utf8))
                for fv in entry.fields { mix(&d, fv.field); mix(&d, fv.value) }
            }
        case .module(let m):
            throw Unsupported(description: "module \(m.name) computes its own digest; it cannot be reproduced without the module")
        case .summary:
            throw Unsupported(description: "value was not kept by the reader")
        }
    }

    /// Accumulates a dataset digest from keys given in any order.
    public struct Dataset {
        private var perDB: [Int: Digest] = [:]
        /// Mix Redis 7.4's marker for hash fields with a TTL (off: Valkey 9's digest).
        public var fieldTTLMarker: Bool
        public init(fieldTTLMarker: Bool = true) { self.fieldTTLMarker = fieldTTLMarker }

        public mutating func add(db: Int, key: [UInt8], value: RDBValue, hasExpire: Bool) throws {
            let k = try RedisDigest.keyDigest(key: key, value: value, hasExpire: hasExpire, fieldTTLMarker: fieldTTLMarker)
            // xorDigest(final, digest, 20): the SHA-1 of each key's digest is XORed in.
            let h = SHA1.hash(k)
            var acc = perDB[db] ?? RedisDigest.zero
            for i in 0..<20 { acc[i] ^= h[i] }
            perDB[db] = acc
        }

        /// The 40 hex digits `DEBUG DIGEST` replies with (all zeros for an empty dataset).
        public var hex: String {
            var final = RedisDigest.zero
            for db in perDB.keys.sorted() {
                RedisDigest.mixUInt32BE(&final, UInt32(truncatingIfNeeded: db))
                let k = perDB[db]!
                for i in 0..<20 { final[i] ^= k[i] }
            }
            return final.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }
    }
}

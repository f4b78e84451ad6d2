/// SHA-1 (FIPS 180-4). Redis's `DEBUG DIGEST` is built from it; nothing here relies on it for
/// security.
public struct SHA1: Sendable {
    private var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
    private var block = [UInt8](repeating: 0, count: 64)
    private var blockCount = 0
    private var totalBytes: UInt64 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        totalBytes &+= UInt64(bytes.count)
        var i = 0
        let n = bytes.count
        while i < n {
            if blockCount == 0 && n - i >= 64 {
                compress(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + 64)]))
                i += 64
                continue
            }
            let take = min(64 - blockCount, n - i)
            for k in 0..<take { block[blockCount + k] = bytes[i + k] }
            blockCount += take
            i += take
            if blockCount == 64 {
                let b = block
                b.withUnsafeBytes { compress($0) }
                blockCount = 0
            }
        }
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    public mutating func finish() -> [UInt8] {
        let bitLength = totalBytes &* 8
        var pad: [UInt8] = [0x80]
        let padLen = (blockCount < 56 ? 56 - blockCount : 120 - blockCount) - 1
        pad += [UInt8](repeating: 0, count: padLen)
        for s in stride(from: 56, through: 0, by: -8) { pad.append(UInt8((bitLength >> UInt64(s)) & 0xFF)) }
        let saved = totalBytes
        update(pad)
        totalBytes = saved
        var out = [UInt8]()
        out.reserveCapacity(20)
        for w in [h.0, h.1, h.2, h.3, h.4] {
            out.append(UInt8(w >> 24)); out.append(UInt8((w >> 16) & 0xFF))
            out.append(UInt8((w >> 8) & 0xFF)); out.append(UInt8(w & 0xFF))
        }
        return out
    }

    public static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var s = SHA1()
        s.update(bytes)
        return s.finish()
    }

    public static func hash(_ bytes: [UInt8]) -> [UInt8] { bytes.withUnsafeBytes { hash($0) } }

    private mutating func compress(_ p: UnsafeRawBufferPointer) {
        var w = [UInt32](repeating: 0, count: 80)
        for t in 0..<16 {
            w[t] = UInt32(p[4 * t]) << 24 | UInt32(p[4 * t + 1]) << 16 | UInt32(p[4 * t + 2]) << 8 | UInt32(p[4 * t + 3])
        }
        for t in 16..<80 {
            let x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]
            w[t] = (x << 1) | (x >> 31)
        }
        var (a, b, c, d, e) = h
        for t in 0..<80 {
            let f: UInt32, k: UInt32
            switch t {
            case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
            case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
            case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
            default: f = b ^ c ^ d; k = 0xCA62_C1D6
            }
            let temp = ((a << 5) | (a >> 27)) &+ f &+ e &+ k &+ w[t]
            e = d; d = c; c = (b << 30) | (b >> 2); b = a; a = temp
        }
        h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
    }
}

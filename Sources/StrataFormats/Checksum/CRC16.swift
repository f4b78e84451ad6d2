/// CRC-16/XMODEM (poly 0x1021, init 0), the checksum Redis Cluster hashes keys with.
public enum CRC16 {
    static let table: [UInt16] = (0..<256).map { i -> UInt16 in
        var crc = UInt16(i) << 8
        for _ in 0..<8 { crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }

    public static func checksum<C: Collection>(_ bytes: C) -> UInt16 where C.Element == UInt8 {
        var crc: UInt16 = 0
        for b in bytes { crc = (crc << 8) ^ table[Int(UInt8(crc >> 8) ^ b)] }
        return crc
    }

    /// The cluster slot of a key: CRC16 of the key, or of the first non-empty `{...}` hash tag,
    /// modulo 16384 (Redis `keyHashSlot`).
    public static func slot(ofKey key: [UInt8]) -> Int {
        if let open = key.firstIndex(of: UInt8(ascii: "{")),
           let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            return Int(checksum(key[(open + 1)..<close]) & 0x3FFF)
        }
        return Int(checksum(key) & 0x3FFF)
    }
}

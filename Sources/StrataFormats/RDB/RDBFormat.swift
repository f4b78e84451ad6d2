/// RDB file constants, each with its Redis (or Valkey) name.
///
/// ```
/// file   := magic aux* [module-aux | function | slot-import]* db* module-aux* 0xFF crc64
/// magic  := "REDIS" 4 digits (version 1..79) | "VALKEY" 3 digits (version >= 80)
/// db     := 0xFE len(db) [0xFB len(keys) len(expires)] entry*
/// entry  := [0xF4 slot info] [0xFC i64le ms | 0xFD i32 s] [0xF8 len idle] [0xF9 u8 freq]
///           type-byte key-string value
/// ```
/// Valkey 9 reuses type 22 and opcode 243 with meanings Redis gives other layouts, so every
/// decision about a type or opcode is made on (family, version), never on the version alone.
public enum RDBFamily: String, Sendable, Codable {
    case redis
    case valkey
}

/// The magic + version of a file: `REDIS0010`, `VALKEY080`, ...
public struct RDBVersion: Sendable, Equatable, CustomStringConvertible {
    public var family: RDBFamily
    public var number: Int

    public init(family: RDBFamily, number: Int) {
        self.family = family
        self.number = number
    }

    /// The 9-byte magic that starts the file.
    public var magic: [UInt8] {
        switch family {
        case .redis: return Array("REDIS".utf8) + Array(String(format4(number)).utf8)
        case .valkey: return Array("VALKEY".utf8) + Array(String(format3(number)).utf8)
        }
    }

    public var description: String { String(decoding: magic, as: UTF8.self) }

    private func format4(_ n: Int) -> String { let s = String(n); return String(repeating: "0", count: max(0, 4 - s.count)) + s }
    private func format3(_ n: Int) -> String { let s = String(n); return String(repeating: "0", count: max(0, 3 - s.count)) + s }

    /// The newest Redis RDB version this build reads completely.
    public static let newestRedis = 12
    /// Redis versions whose files are recognised (13, 14: Redis 8.6 / 8.8).
    public static let newestRedisRecognised = 14
    public static let newestValkey = 80

    /// Parses the 9-byte magic.
    public static func parse(magic m: [UInt8]) -> RDBVersion? {
        guard m.count == 9 else { return nil }
        func digits(_ s: ArraySlice<UInt8>) -> Int? {
            var v = 0
            for c in s { guard c >= 48 && c <= 57 else { return nil }; v = v * 10 + Int(c - 48) }
            return v
        }
        if m[0..<5].elementsEqual("REDIS".utf8), let v = digits(m[5..<9]) { return RDBVersion(family: .redis, number: v) }
        if m[0..<6].elementsEqual("VALKEY".utf8), let v = digits(m[6..<9]) { return RDBVersion(family: .valkey, number: v) }
        return nil
    }

    // Capabilities, decided on (family, version).
    var isValkey9: Bool { family == .valkey }
    /// Redis-numbered feature level: Valkey 80 holds everything Redis 11 does.
    var level: Int { family == .valkey ? 11 : number }
    public var hasChecksum: Bool { level >= 5 }
}

/// Opcodes (Redis `rdb.h`): bytes that stand where a type byte would.
public enum RDBOpcode {
    public static let slotImport: UInt8 = 243      // Valkey 9 RDB_OPCODE_SLOT_IMPORT
    public static let keyMeta: UInt8 = 243          // Redis 8.6 RDB_OPCODE_KEY_META
    public static let slotInfo: UInt8 = 244         // RDB_OPCODE_SLOT_INFO (Redis 7.4)
    public static let function2: UInt8 = 245        // RDB_OPCODE_FUNCTION2
    public static let functionPreGA: UInt8 = 246    // RDB_OPCODE_FUNCTION_PRE_GA (7.0 RC)
    public static let moduleAux: UInt8 = 247        // RDB_OPCODE_MODULE_AUX
    public static let idle: UInt8 = 248             // RDB_OPCODE_IDLE
    public static let freq: UInt8 = 249             // RDB_OPCODE_FREQ
    public static let aux: UInt8 = 250              // RDB_OPCODE_AUX
    public static let resizeDB: UInt8 = 251         // RDB_OPCODE_RESIZEDB
    public static let expireTimeMS: UInt8 = 252     // RDB_OPCODE_EXPIRETIME_MS
    public static let expireTime: UInt8 = 253       // RDB_OPCODE_EXPIRETIME
    public static let selectDB: UInt8 = 254         // RDB_OPCODE_SELECTDB
    public static let eof: UInt8 = 255              // RDB_OPCODE_EOF
}

/// Object type bytes (Redis `rdb.h`, Valkey `rdb.h` for 22 under VALKEY magic).
public enum RDBType {
    public static let string: UInt8 = 0
    public static let list: UInt8 = 1
    public static let set: UInt8 = 2
    public static let zset: UInt8 = 3
    public static let hash: UInt8 = 4
    public static let zset2: UInt8 = 5
    public static let modulePreGA: UInt8 = 6
    public static let module2: UInt8 = 7
    public static let hashZipmap: UInt8 = 9
    public static let listZiplist: UInt8 = 10
    public static let setIntset: UInt8 = 11
    public static let zsetZiplist: UInt8 = 12
    public static let hashZiplist: UInt8 = 13
    public static let listQuicklist: UInt8 = 14
    public static let streamListpacks: UInt8 = 15
    public static let hashListpack: UInt8 = 16
    public static let zsetListpack: UInt8 = 17
    public static let listQuicklist2: UInt8 = 18
    public static let streamListpacks2: UInt8 = 19
    public static let setListpack: UInt8 = 20
    public static let streamListpacks3: UInt8 = 21
    /// Redis 7.4 RC: RDB_TYPE_HASH_METADATA_PRE_GA. Valkey 9: RDB_TYPE_HASH_2.
    public static let hashMetadataPreGA: UInt8 = 22
    public static let valkeyHash2: UInt8 = 22
    public static let hashListpackExPreGA: UInt8 = 23
    public static let hashMetadata: UInt8 = 24
    public static let hashListpackEx: UInt8 = 25
    public static let streamListpacks4: UInt8 = 26
    public static let streamListpacks5: UInt8 = 27
    public static let array: UInt8 = 28

    /// Redis's name for what the type byte holds, as `OBJECT ENCODING` would report it once loaded.
    public static func encodingName(_ t: UInt8, family: RDBFamily) -> String {
        switch t {
        case string: return "string"
        case list: return "linkedlist"
        case set, hash: return "hashtable"
        case zset, zset2: return "skiplist"
        case module2, modulePreGA: return "module"
        case hashZipmap: return "zipmap"
        case listZiplist, zsetZiplist, hashZiplist: return "ziplist"
        case setIntset: return "intset"
        case listQuicklist, listQuicklist2: return "quicklist"
        case streamListpacks, streamListpacks2, streamListpacks3: return "stream"
        case hashListpack, zsetListpack, setListpack: return "listpack"
        case 22: return family == .valkey ? "hashtable" : "hashtable-ttl"
        case hashMetadata: return "hashtable-ttl"
        case hashListpackExPreGA, hashListpackEx: return "listpack-ex"
        default: return "type-\(t)"
        }
    }
}

/// Module value opcodes (`RDB_MODULE_OPCODE_*`).
public enum RDBModuleOpcode {
    public static let eof: UInt64 = 0
    public static let sint: UInt64 = 1
    public static let uint: UInt64 = 2
    public static let float: UInt64 = 3
    public static let double: UInt64 = 4
    public static let string: UInt64 = 5
}

/// Length-encoding prefixes (`RDB_6BITLEN` ...) and special string encodings (`RDB_ENC_*`).
enum RDBLength {
    static let bits6: UInt8 = 0
    static let bits14: UInt8 = 1
    static let bits32: UInt8 = 0x80
    static let bits64: UInt8 = 0x81
    static let encodedTag: UInt8 = 3
    static let encInt8 = 0
    static let encInt16 = 1
    static let encInt32 = 2
    static let encLZF = 3
}

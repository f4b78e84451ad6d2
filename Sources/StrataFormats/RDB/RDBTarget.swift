/// What an RDB writer produces: a file version plus the size thresholds Redis of that
/// version uses to choose packed encodings.
public struct RDBTarget: Sendable, Equatable {
    public var name: String
    public var version: RDBVersion
    /// The `redis-ver` / `valkey-ver` AUX value written.
    public var serverVersion: String

    public var hashMaxPackedEntries = 128
    public var hashMaxPackedValue = 64
    public var zsetMaxPackedEntries = 128
    public var zsetMaxPackedValue = 64
    public var setMaxIntsetEntries = 512
    public var setMaxListpackEntries = 128
    public var setMaxListpackValue = 64
    /// `list-max-listpack-size -2`: 8 KB per node.
    public var listMaxNodeBytes = 8192

    public init(name: String, version: RDBVersion, serverVersion: String) {
        self.name = name
        self.version = version
        self.serverVersion = serverVersion
        if version.level <= 9 { hashMaxPackedEntries = 512 }   // hash-max-ziplist-entries in 6.2
    }

    /// Named targets users migrate between.
    public static let named: [RDBTarget] = [
        RDBTarget(name: "redis-6.2", version: RDBVersion(family: .redis, number: 9), serverVersion: "6.2.0"),
        RDBTarget(name: "redis-7.0", version: RDBVersion(family: .redis, number: 10), serverVersion: "7.0.0"),
        RDBTarget(name: "redis-7.2", version: RDBVersion(family: .redis, number: 11), serverVersion: "7.2.0"),
        RDBTarget(name: "redis-7.4", version: RDBVersion(family: .redis, number: 12), serverVersion: "7.4.0"),
        RDBTarget(name: "valkey-8", version: RDBVersion(family: .redis, number: 11), serverVersion: "8.0.0"),
        RDBTarget(name: "valkey-9", version: RDBVersion(family: .valkey, number: 80), serverVersion: "9.0.0"),
    ]

    public static func named(_ s: String) -> RDBTarget? { named.first { $0.name == s } }

    /// A target for a bare version number (`--rdb-version N`): 1...12 (Redis) or 80 (Valkey 9).
    public static func forVersion(_ n: Int) -> RDBTarget? {
        if n == 80 { return named("valkey-9") }
        guard n >= 1 && n <= 12 else { return nil }
        let server: String
        switch n {
        case 1: server = "2.2.0"
        case 2...5: server = "2.4.0"
        case 6: server = "2.8.0"
        case 7: server = "3.2.0"
        case 8: server = "4.0.0"
        case 9: server = "6.2.0"
        case 10: server = "7.0.0"
        case 11: server = "7.2.0"
        default: server = "7.4.0"
        }
        return RDBTarget(name: "rdb-\(n)", version: RDBVersion(family: .redis, number: n), serverVersion: server)
    }

    /// The target that writes the same version as a file read (what `convert` does by default).
    public static func matching(_ v: RDBVersion) -> RDBTarget? {
        if v.family == .valkey { return named("valkey-9") }
        return forVersion(min(v.number, 12))
    }

    var level: Int { version.level }
    public var supportsStreams: Bool { level >= 9 }
    public var supportsFunctions: Bool { level >= 10 }
    public var supportsModules: Bool { level >= 8 }
    public var supportsFieldTTL: Bool { version.family == .valkey || version.number >= 12 }
    public var supportsAux: Bool { level >= 7 }
}

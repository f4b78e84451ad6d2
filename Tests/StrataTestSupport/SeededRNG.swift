import Foundation

/// SplitMix64: a seeded generator so every random test reproduces from its seed.
public struct SeededRNG: RandomNumberGenerator {
    public private(set) var state: UInt64
    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The seed from STRATA_SEED, or the clock; printed so a failing run can be repeated with
    /// `STRATA_SEED=<seed> swift test`.
    public static func seedFromEnvironment() -> UInt64 {
        let seed = ProcessInfo.processInfo.environment["STRATA_SEED"].flatMap { UInt64($0) } ?? UInt64(Date().timeIntervalSince1970 * 1000)
        print("random seed: STRATA_SEED=\(seed)")
        return seed
    }
}

/// A loopback TCP port the kernel says is free right now (bound to port 0, then released).
public func freeLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp -> Bool in
            bind(fd, sp, len) == 0 && getsockname(fd, sp, &len) == 0
        }
    }
    return ok ? Int(UInt16(bigEndian: addr.sin_port)) : 20000 + Int.random(in: 0..<20000)
}

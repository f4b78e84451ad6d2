import StrataFormats
import StrataEngine

/// SHA-256 (FIPS 180-4): ACL passwords are kept and shown as their SHA-256, as in Redis.
enum SHA256 {
    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]

    static func hex(_ message: [UInt8]) -> String {
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var m = message
        let bits = UInt64(message.count) * 8
        m.append(0x80)
        while m.count % 64 != 56 { m.append(0) }
        for s in stride(from: 56, through: 0, by: -8) { m.append(UInt8((bits >> UInt64(s)) & 0xff)) }
        var w = [UInt32](repeating: 0, count: 64)
        for chunk in stride(from: 0, to: m.count, by: 64) {
            for i in 0..<16 {
                w[i] = UInt32(m[chunk + 4 * i]) << 24 | UInt32(m[chunk + 4 * i + 1]) << 16 | UInt32(m[chunk + 4 * i + 2]) << 8 | UInt32(m[chunk + 4 * i + 3])
            }
            for i in 16..<64 {
                let s0 = (w[i - 15] >> 7 | w[i - 15] << 25) ^ (w[i - 15] >> 18 | w[i - 15] << 14) ^ (w[i - 15] >> 3)
                let s1 = (w[i - 2] >> 17 | w[i - 2] << 15) ^ (w[i - 2] >> 19 | w[i - 2] << 13) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
            for i in 0..<64 {
                let s1 = (e >> 6 | e << 26) ^ (e >> 11 | e << 21) ^ (e >> 25 | e << 7)
                let ch = (e & f) ^ (~e & g)
                let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
                let s0 = (a >> 2 | a << 30) ^ (a >> 13 | a << 19) ^ (a >> 22 | a << 10)
                let maj = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ maj
                hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
        }
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for v in h { for s in stride(from: 28, through: 0, by: -4) { out.append(digits[Int((v >> UInt32(s)) & 15)]) } }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A user of Redis's ACL (the part Strata enforces: on/off, passwords, commands by name and
/// category, key and channel patterns).
final class ACLUser {
    let name: String
    var enabled = false
    var nopass = false
    var passwords: [String] = []          // SHA-256 hex, in the order added
    var allowed: Set<String> = []         // commands (and "cmd|sub") allowed
    var commandRules: [String] = []       // as ACL LIST shows them
    var allKeys = false
    var keyPatterns: [Bytes] = []
    var allChannels = false
    var channelPatterns: [Bytes] = []

    init(name: String) { self.name = name }

    /// The rules as ACL LIST / GETUSER describe this user.
    var description: String {
        var parts = ["user", name, enabled ? "on" : "off"]
        if nopass { parts.append("nopass") }
        parts += passwords.map { "#" + $0 }
        parts += allKeys ? ["~*"] : keyPatterns.map { "~" + String(decoding: $0, as: UTF8.self) }
        parts += allChannels ? ["&*"] : (channelPatterns.isEmpty ? ["resetchannels"] : channelPatterns.map { "&" + String(decoding: $0, as: UTF8.self) })
        // Rules as given, after Redis's implicit starting point for a user that has no +@all.
        parts += commandRules.isEmpty ? ["-@all"] : (commandRules.first == "+@all" || commandRules.first == "-@all" ? commandRules : ["-@all"] + commandRules)
        return parts.joined(separator: " ")
    }
}

/// The users and their rules (Redis 7.0's ACL SETUSER syntax).
final class ACL {
    private(set) var users: [String: ACLUser] = [:]
    /// Every command a rule can name, by lower-case name, with its categories.
    let categoriesOf: [String: Set<String>]
    static let categories = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
                             "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
                             "transaction", "scripting"]

    init(serverCommands: [(String, Int, [String])]) {
        var map = [String: Set<String>]()
        for (name, cmd) in CommandTable.shared.commands {
            var cats: Set<String> = []
            if cmd.flags.contains(.write) { cats.insert("write") }
            if cmd.flags.contains(.readonly) { cats.insert("read") }
            cats.insert(cmd.flags.contains(.fast) ? "fast" : "slow")
            if cmd.flags.contains(.admin) { cats.formUnion(["admin", "dangerous"]) }
            cats.formUnion(ACL.typeCategories(name))
            map[name] = cats
        }
        for (name, _, flags) in serverCommands {
            var cats: Set<String> = [flags.contains("fast") ? "fast" : "slow"]
            if flags.contains("admin") { cats.formUnion(["admin", "dangerous"]) }
            if flags.contains("pubsub") { cats.insert("pubsub") }
            if flags.contains("readonly") { cats.insert("read") }
            cats.formUnion(ACL.typeCategories(name))
            map[name] = cats
        }
        for name in Server.blockingCommands { map[name, default: []].formUnion(["write", "slow", "blocking"] + ACL.typeCategories(name)) }
        categoriesOf = map
    }

    /// The data-type and other categories a command belongs to, from its name.
    static func typeCategories(_ n: String) -> Set<String> {
        switch n {
        case "auth", "hello", "ping", "echo", "select", "client", "quit", "reset", "command": return ["connection"]
        case "multi", "exec", "discard", "watch", "unwatch": return ["transaction"]
        case "eval", "evalsha", "eval_ro", "evalsha_ro", "script", "function", "fcall", "fcall_ro": return ["scripting"]
        case "publish", "pubsub", "subscribe", "psubscribe", "unsubscribe", "punsubscribe": return ["pubsub"]
        case "flushall", "flushdb", "keys", "debug", "config", "save", "bgsave", "bgrewriteaof", "shutdown", "monitor", "sync",
             "psync", "replconf", "slowlog", "latency", "lastsave", "info", "sort", "migrate", "restore", "swapdb", "memory":
            return n == "restore" || n == "sort" ? ["keyspace", "dangerous"] : ["dangerous"]
        default: break
        }
        if ["del", "unlink", "exists", "type", "rename", "renamenx", "expire", "pexpire", "expireat", "pexpireat", "ttl", "pttl",
            "persist", "move", "copy", "scan", "randomkey", "dbsize", "touch", "object", "dump", "expiretime", "pexpiretime"].contains(n) {
            return ["keyspace"]
        }
        if n.hasPrefix("geo") { return ["geo"] }
        if n.hasPrefix("pf") { return ["hyperloglog"] }
        if n.hasPrefix("x") { return ["stream"] }
        if n.hasPrefix("h") { return ["hash"] }
        if n.hasPrefix("z") || n.hasPrefix("bz") { return ["sortedset"] }
        if ["setbit", "getbit", "bitcount", "bitpos", "bitop", "bitfield", "bitfield_ro"].contains(n) { return ["bitmap"] }
        if n.hasPrefix("l") || n.hasPrefix("r") && n.hasSuffix("push") || ["rpop", "rpoplpush", "blpop", "brpop", "blmove", "brpoplpush", "blmpop", "lmpop"].contains(n) {
            return ["list"]
        }
        if n.hasPrefix("s") && !["set", "setnx", "setex", "setrange", "strlen", "substr", "sort", "sort_ro"].contains(n) { return ["set"] }
        return ["string"]
    }

    func user(_ name: String) -> ACLUser? { users[name] }

    /// How the default user reads when nothing but requirepass shaped it.
    static func defaultDescription(requirepass: String, acl: ACL) -> String {
        let probe = ACL(serverCommands: [])
        probe.resetDefault(requirepass: requirepass)
        return probe.users["default"]!.description
    }

    /// The default user: on, nopass and everything allowed, unless requirepass sets a password.
    func resetDefault(requirepass: String) {
        let u = ACLUser(name: "default")
        _ = try? apply(u, ["on", "~*", "&*", "+@all"] + (requirepass.isEmpty ? ["nopass"] : [">" + requirepass]))
        users["default"] = u
    }

    /// ACL SETUSER name rule...: the user is changed only if every rule is valid.
    func setUser(_ name: String, _ rules: [String]) throws {
        let existing = users[name]
        let u = ACLUser(name: name)
        if let e = existing {
            u.enabled = e.enabled; u.nopass = e.nopass; u.passwords = e.passwords; u.allowed = e.allowed; u.commandRules = e.commandRules
            u.allKeys = e.allKeys; u.keyPatterns = e.keyPatterns; u.allChannels = e.allChannels; u.channelPatterns = e.channelPatterns
        }
        try apply(u, rules)
        users[name] = u
    }

    func deleteUser(_ name: String) -> Bool { name != "default" && users.removeValue(forKey: name) != nil }

    struct RuleError: Error { let message: String }

    private func apply(_ u: ACLUser, _ rules: [String]) throws {
        for rule in rules {
            let r = rule.lowercased()
            switch r {
            case "on": u.enabled = true
            case "off": u.enabled = false
            case "nopass": u.nopass = true; u.passwords = []
            case "resetpass": u.nopass = false; u.passwords = []
            case "allkeys", "~*": u.allKeys = true; u.keyPatterns = []
            case "resetkeys": u.allKeys = false; u.keyPatterns = []
            case "allchannels", "&*": u.allChannels = true; u.channelPatterns = []
            case "resetchannels": u.allChannels = false; u.channelPatterns = []
            case "allcommands", "+@all": u.allowed = Set(categoriesOf.keys); u.commandRules = ["+@all"]
            case "nocommands", "-@all": u.allowed = []; u.commandRules = ["-@all"]
            case "reset":
                u.enabled = false; u.nopass = false; u.passwords = []; u.allowed = []; u.commandRules = []
                u.allKeys = false; u.keyPatterns = []; u.allChannels = false; u.channelPatterns = []
            default:
                if rule.hasPrefix(">") {
                    let h = SHA256.hex(Array(rule.dropFirst().utf8))
                    if !u.passwords.contains(h) { u.passwords.append(h) }
                    u.nopass = false
                } else if rule.hasPrefix("<") {
                    let h = SHA256.hex(Array(rule.dropFirst().utf8))
                    guard u.passwords.contains(h) else { throw RuleError(message: "no such password") }
                    u.passwords.removeAll { $0 == h }
                } else if rule.hasPrefix("#") || rule.hasPrefix("!") {
                    let h = String(rule.dropFirst()).lowercased()
                    guard h.count == 64, h.allSatisfy({ $0.isHexDigit }) else {
                        throw RuleError(message: "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters")
                    }
                    if rule.hasPrefix("#") { if !u.passwords.contains(h) { u.passwords.append(h) }; u.nopass = false }
                    else { guard u.passwords.contains(h) else { throw RuleError(message: "no such password") }; u.passwords.removeAll { $0 == h } }
                } else if rule.hasPrefix("~") || r.hasPrefix("%r~") || r.hasPrefix("%w~") || r.hasPrefix("%rw~") {
                    // (Read/write key permissions are kept as plain key patterns.)
                    let p = Array(rule.drop(while: { $0 != "~" }).dropFirst().utf8)
                    if u.allKeys { throw RuleError(message: "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns") }
                    u.keyPatterns.append(p)
                } else if rule.hasPrefix("&") {
                    if u.allChannels { throw RuleError(message: "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels") }
                    u.channelPatterns.append(Array(rule.dropFirst().utf8))
                } else if r.hasPrefix("+@") || r.hasPrefix("-@") {
                    let cat = String(r.dropFirst(2))
                    guard ACL.categories.contains(cat) else { throw RuleError(message: "Unknown command or category name in ACL") }
                    let members = categoriesOf.filter { $0.value.contains(cat) }.map(\.key)
                    if r.hasPrefix("+") { u.allowed.formUnion(members) } else { u.allowed.subtract(members) }
                    u.commandRules.append(r)
                } else if r.hasPrefix("+") || r.hasPrefix("-") {
                    let cmd = String(r.dropFirst())
                    let base = cmd.split(separator: "|").first.map(String.init) ?? cmd
                    guard categoriesOf[base] != nil else { throw RuleError(message: "Unknown command or category name in ACL") }
                    if r.hasPrefix("+") { u.allowed.insert(cmd) } else {
                        u.allowed.remove(cmd)
                        if !cmd.contains("|") { u.allowed = u.allowed.filter { !$0.hasPrefix(cmd + "|") } }
                    }
                    u.commandRules.append(r)
                } else {
                    throw RuleError(message: "Syntax error")
                }
            }
        }
    }

    /// Why a command is refused to a user.
    enum Denial {
        case command(String), keys, channels

        /// The NOPERM error a client gets.
        var message: String {
            switch self {
            case .command(let name): return "NOPERM this user has no permissions to run the '\(name)' command"
            case .keys: return "NOPERM this user has no permissions to access one of the keys used as arguments"
            case .channels: return "NOPERM this user has no permissions to access one of the channels used as arguments"
            }
        }

        /// How ACL DRYRUN says it ("This user has no permissions to ...").
        var dryRunText: String { "This" + message.dropFirst("NOPERM this".count) }

        /// How a script's redis.call says it ("The user executing the script ...").
        var scriptWording: String {
            switch self {
            case .command: return "can't run this command or subcommand"
            case .keys: return "can't access at least one of the keys mentioned in the command arguments"
            case .channels: return "can't publish to the channel mentioned in the command"
            }
        }
    }

    /// Whether `u` may run this command on these keys and channels; why not if not.
    func check(_ u: ACLUser, _ name: String, _ args: [Bytes], keys: [Bytes], channels: [Bytes]) -> Denial? {
        let sub = args.count > 1 ? name + "|" + String(decoding: args[1], as: UTF8.self).lowercased() : name
        if !u.allowed.contains(name) && !u.allowed.contains(sub) {
            return .command(args.count > 1 && u.allowed.contains(where: { $0.hasPrefix(name + "|") }) ? sub : name)
        }
        if !u.allKeys && keys.contains(where: { k in !u.keyPatterns.contains(where: { Glob.matches($0, k) }) }) { return .keys }
        if !u.allChannels && channels.contains(where: { ch in !u.channelPatterns.contains(where: { Glob.matches($0, ch) }) }) {
            return .channels
        }
        return nil
    }
}

/// A command's declaration: what COMMAND, the AOF rewriter and the server all read. A class:
/// the per-command path passes one reference instead of copying (and retaining) every field.
public final class Command: Sendable {
    public enum Flag: String, Sendable { case write, readonly, denyoom, fast, admin, noscript }
    public let name: String
    /// Redis's arity: N exactly, or -N for at least N (the name counts).
    public let arity: Int
    public let flags: Set<Flag>
    /// Key positions: first, last (-1 = last argument), step; 0 = no keys.
    public let firstKey: Int
    public let lastKey: Int
    public let keyStep: Int
    let handler: @Sendable (inout CommandContext) throws -> Reply
    /// Whether its key lookups count as accesses for LRU/LFU (Redis's LOOKUP_NOTOUCH callers:
    /// TYPE, TTL and friends, EXISTS, OBJECT do not).
    public let touchesKeys: Bool
    static let noTouch: Set<String> = ["type", "ttl", "pttl", "expiretime", "pexpiretime", "exists", "object"]

    init(name: String, arity: Int, flags: Set<Flag>, firstKey: Int, lastKey: Int, keyStep: Int,
         handler: @escaping @Sendable (inout CommandContext) throws -> Reply, touchesKeys: Bool) {
        self.name = name; self.arity = arity; self.flags = flags
        self.firstKey = firstKey; self.lastKey = lastKey; self.keyStep = keyStep
        self.handler = handler; self.touchesKeys = touchesKeys
    }

    /// The keys a call touches (COMMAND GETKEYS, cluster routing, WATCH).
    public func keys(_ args: [[UInt8]]) -> [[UInt8]] {
        guard firstKey > 0, args.count > firstKey else { return [] }
        let last = lastKey < 0 ? args.count + lastKey : min(lastKey, args.count - 1)
        guard last >= firstKey else { return [] }
        return stride(from: firstKey, through: last, by: keyStep).map { args[$0] }
    }
}

/// Every command the engine implements, by lower-case name.
public final class CommandTable: Sendable {
    public static let shared = CommandTable()
    public let commands: [String: Command]

    init() {
        var all = [Command]()
        all += StringCommands.all
        all += KeyCommands.all
        all += ListCommands.all
        all += HashCommands.all
        all += SetCommands.all
        all += ZSetCommands.all
        all += BitCommands.all
        all += ZSetAlgebra.all
        all += RandomCommands.all
        all += LCSScanCommands.all
        all += ServerCommands.all
        all += StreamCommands.all
        all += HLLCommands.all
        all += GeoCommands.all
        all += BitfieldCommands.all
        all += SortCommands.all
        commands = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func lookup(_ lowercasedName: String) -> Command? { commands[lowercasedName] }
}

func cmd(_ name: String, _ arity: Int, _ flags: Set<Command.Flag>, _ first: Int, _ last: Int, _ step: Int,
         _ handler: @escaping @Sendable (inout CommandContext) throws -> Reply) -> Command {
    Command(name: name, arity: arity, flags: flags, firstKey: first, lastKey: last, keyStep: step, handler: handler,
            touchesKeys: !Command.noTouch.contains(name))
}

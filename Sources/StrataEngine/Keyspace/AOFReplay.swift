import StrataFormats

/// Replays an append-only file into an engine the way Redis 7.0 loads one
/// (`loadSingleAppendOnlyFile`): RDB preamble keys are loaded as they are (expired ones kept),
/// commands run on a client with no replies, nothing expires while loading, commands after
/// `MULTI` are queued and run at `EXEC` (a trailing `MULTI` without `EXEC` is dropped, as Redis
/// reverts it), an unknown command stops the replay. Function libraries (`FUNCTION LOAD`,
/// `DELETE`, `FLUSH`, and an RDB's functions) are kept by name for the rewrite.
public final class AOFReplay {
    public let engine: Engine
    private var client = ClientState()
    private var queued: [[Bytes]]?
    /// Libraries in load order: name and the code as given to FUNCTION LOAD.
    public private(set) var functions: [(name: Bytes, code: Bytes)] = []
    public private(set) var commands = 0
    private var rdbDB = 0
    public private(set) var rdbKeys = 0
    public private(set) var transactions = 0
    /// Commands of a trailing MULTI block that was never closed (dropped).
    public private(set) var droppedTrailingCommands = 0
    /// Commands outside a transaction that replied an error (Redis ignores replies while
    /// loading; a write that failed was never propagated, so these deserve a look).
    public private(set) var errorReplies = 0
    public private(set) var firstErrorReply: String?
    /// The newest `#TS:` seen.
    public private(set) var lastTimestamp: Int64?

    public struct ReplayError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Builds preamble collections as `Engine.load(from:)` does, when the reader is given it.
    private let builder: LoadValueBuilder
    /// For `AOFReader.visitor`: the preamble's hashes and sorted sets are then kept as the file
    /// packs them (repeats included, as Engine.load keeps them), not rebuilt from lists.
    public var collectionVisitor: RDBCollectionVisitor { builder }

    public init(engine: Engine) {
        self.engine = engine
        builder = LoadValueBuilder(limits: engine.limits)
        engine.loading = true
    }

    /// Ends the replay: drops an open MULTI and lets keys expire again.
    public func finish() {
        if let q = queued { droppedTrailingCommands = q.count }
        queued = nil
        engine.loading = false
    }

    public func apply(_ item: AOFReader.Item) throws {
        switch item {
        case .rdb(let ev, let file):
            switch ev {
            case .entry(let e):
                var report = Engine.LoadReport()
                do { try engine.load(entry: e, built: builder.take(), now: engine.clock(), keepExpired: true, report: &report) } catch let e as FormatError {
                    throw ReplayError(description: "\(file): \(e.description)")
                }
                rdbKeys += 1
            case .function(let code):
                try addFunction(code, where: "\(file) (RDB part)")
            case .selectDB(let n):
                rdbDB = n
            case .resizeDB(let keys, let expires):
                if rdbDB < engine.databases.count, keys < 1 << 32 {
                    engine.databases[rdbDB].dict.reserve(Int(keys))
                    engine.databases[rdbDB].expires.reserve(Int(min(expires, keys)))
                }
            default: break
            }
        case .command(let args, let ts, let file, let offset):
            if let ts { lastTimestamp = ts }
            try run(args, file: file, offset: offset)
        }
    }

    private func lower(_ b: Bytes) -> String { String(decoding: b, as: UTF8.self).lowercased() }

    /// Case-insensitive comparison with a lower-case ASCII word, without making a String.
    private static func named(_ b: Bytes, _ word: StaticString) -> Bool {
        guard b.count == word.utf8CodeUnitCount else { return false }
        let w = word.utf8Start
        for i in 0..<b.count where b[i] | 0x20 != w[i] { return false }
        return true
    }

    private func run(_ args: [Bytes], file: String, offset: Int) throws {
        if AOFReplay.named(args[0], "multi") {
            if queued != nil { throw ReplayError(description: "\(file) byte offset \(offset): MULTI inside MULTI") }
            queued = []
            return
        }
        if AOFReplay.named(args[0], "exec") {
            guard let q = queued else { throw ReplayError(description: "\(file) byte offset \(offset): EXEC without MULTI") }
            queued = nil
            transactions += 1
            for c in q { try execute(c, file: file, offset: offset, inTransaction: true) }
            return
        }
        if queued != nil { queued!.append(args); return }
        try execute(args, file: file, offset: offset, inTransaction: false)
    }

    private func execute(_ args: [Bytes], file: String, offset: Int, inTransaction: Bool) throws {
        commands += 1
        if AOFReplay.named(args[0], "function") { try function(args, file: file, offset: offset); return }
        if !engine.implements(args[0]) {
            throw ReplayError(description: "\(file) byte offset \(offset): unknown command '\(String(decoding: args[0].prefix(64), as: UTF8.self))' (Redis stops loading here too)")
        }
        let r = engine.execute(args, client: &client)
        if case .error(let e) = r, !inTransaction {
            errorReplies += 1
            if firstErrorReply == nil {
                firstErrorReply = "\(file) byte offset \(offset): \(String(decoding: args[0].prefix(64), as: UTF8.self)) replied \(e)"
            }
        }
    }

    /// FUNCTION LOAD [REPLACE] code / DELETE name / FLUSH [ASYNC|SYNC].
    private func function(_ args: [Bytes], file: String, offset: Int) throws {
        guard args.count >= 2 else { throw ReplayError(description: "\(file) byte offset \(offset): FUNCTION without a subcommand") }
        switch lower(args[1]) {
        case "load":
            guard args.count >= 3 else { throw ReplayError(description: "\(file) byte offset \(offset): FUNCTION LOAD without code") }
            // Redis refuses a duplicate library without REPLACE, so an AOF only holds valid loads.
            try addFunction(args[args.count - 1], where: "\(file) byte offset \(offset)")
        case "delete":
            guard args.count == 3 else { throw ReplayError(description: "\(file) byte offset \(offset): FUNCTION DELETE needs a library name") }
            functions.removeAll { $0.name == args[2] }
        case "flush":
            functions.removeAll()
        default:
            throw ReplayError(description: "\(file) byte offset \(offset): FUNCTION \(String(decoding: args[1].prefix(32), as: UTF8.self)) cannot be replayed (only LOAD, DELETE and FLUSH are supported)")
        }
    }

    /// The library name from the code's `#!lua name=<name>` first line.
    public static func libraryName(_ code: Bytes) -> Bytes? {
        let firstLine = code.prefix { $0 != 10 }
        guard firstLine.starts(with: Array("#!".utf8)) else { return nil }
        for word in firstLine.dropFirst(2).split(separator: 32) where word.starts(with: Array("name=".utf8)) {
            let n = Array(word.dropFirst(5).filter { $0 != 13 })
            return n.isEmpty ? nil : n
        }
        return nil
    }

    private func addFunction(_ code: Bytes, where at: String) throws {
        guard let name = AOFReplay.libraryName(code) else {
            throw ReplayError(description: "\(at): a function library without a '#!<engine> name=<name>' first line")
        }
        if let i = functions.firstIndex(where: { $0.name == name }) {
            functions[i].code = code
        } else {
            functions.append((name, code))
        }
    }
}

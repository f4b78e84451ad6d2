import StrataFormats
import StrataEngine

/// INFO commandstats and errorstats: per command (subcommands of container commands apart,
/// `config|set`), calls, microseconds, rejected and failed calls; per error code, a count.
struct CommandStats {
    struct Entry {
        var calls = 0, usec: Int64 = 0, rejected = 0, failed = 0
    }
    private var entries: [Entry] = []
    /// LATENCY HISTOGRAM: per entry, calls by duration in power-of-two buckets of 1024 ns
    /// (bucket k: under 1024 * 2^k ns), as Redis's hdr histograms are read out.
    private var buckets: [Int] = []
    static let bucketCount = 40
    private var entryNames: [String] = []
    private var indexByName: [String: Int] = [:]
    private(set) var errors: [String: Int] = [:]
    private(set) var totalErrors = 0
    /// Spellings seen so far ("SET", "set") → the entry, or -1 for unknown commands.
    private var spellings: [ByteKey: Int] = [:]

    static let containers: Set<String> = ["config", "client", "object", "memory", "xinfo", "xgroup", "command", "slowlog",
                                          "latency", "function", "script", "acl", "pubsub", "module", "cluster"]

    private mutating func index(_ name: String) -> Int {
        if let i = indexByName[name] { return i }
        indexByName[name] = entries.count
        entries.append(Entry())
        buckets.append(contentsOf: repeatElement(0, count: CommandStats.bucketCount))
        entryNames.append(name)
        return entries.count - 1
    }

    /// The entry of a spelling already seen (not a container command), without building
    /// anything: the per-command path.
    @inline(__always)
    mutating func cachedEntry(_ argv: [Bytes]) -> Int? {
        // A pipeline mostly repeats one command: the last spelling is compared before hashing.
        if lastIndex >= 0 && argv[0] == lastSpelling { return lastIndex }
        guard let i = spellings[ByteKey(argv[0])], i >= 0 else { return nil }
        lastSpelling = argv[0]
        lastIndex = i
        return i
    }
    private var lastSpelling: Bytes = []
    private var lastIndex = -1

    /// The entry of a call, nil when the command is unknown (Redis does not count those).
    mutating func entry(_ argv: [Bytes], known: (String) -> Bool) -> Int? {
        if let i = spellings[ByteKey(argv[0])] {
            if i >= 0 || argv.count < 2 { return i >= 0 ? i : nil }
        }
        let base = Server.lower(argv[0])
        guard known(base) else {
            if spellings.count < 1024 { spellings[ByteKey(argv[0])] = -1 }
            return nil
        }
        if CommandStats.containers.contains(base) {
            return argv.count > 1 ? index(base + "|" + Server.lower(argv[1])) : index(base)
        }
        let i = index(base)
        if spellings.count < 1024 { spellings[ByteKey(argv[0])] = i }
        return i
    }

    /// Records a call; `error` is the reply's error text when it was one.
    mutating func record(_ i: Int?, usec: Int64, error: ArraySlice<UInt8>?) {
        if let error {
            let code = error.prefix { $0 != 32 && $0 != 13 }
            errors[String(decoding: code, as: UTF8.self), default: 0] += 1
            totalErrors += 1
        }
        guard let i else { return }
        // Refused before running (arity, OOM, NOAUTH...) or failed while running.
        if let error, CommandStats.isRejection(error) { entries[i].rejected += 1; return }
        entries[i].calls += 1
        entries[i].usec += usec
        let ns = max(0, usec) &* 1000
        let k = ns < 1024 ? 0 : min(CommandStats.bucketCount - 1, 64 - (ns / 1024).leadingZeroBitCount)
        buckets[i * CommandStats.bucketCount + k] += 1
        if error != nil { entries[i].failed += 1 }
    }

    /// A blocked command (its call counted when it blocked) that ends in an error: the error
    /// and a failed call, as Redis counts them on unblocking.
    mutating func recordFailureAfterBlocking(_ i: Int?, error: ArraySlice<UInt8>) {
        let code = error.prefix { $0 != 32 && $0 != 13 }
        errors[String(decoding: code, as: UTF8.self), default: 0] += 1
        totalErrors += 1
        if let i { entries[i].failed += 1 }
    }

    static func isRejection(_ e: ArraySlice<UInt8>) -> Bool {
        let text = String(decoding: e.prefix(40), as: UTF8.self)
        return text.hasPrefix("ERR wrong number of arguments") || text.hasPrefix("OOM ") || text.hasPrefix("NOAUTH")
            || text.hasPrefix("MISCONF") || text.hasPrefix("EXECABORT") || text.hasPrefix("ERR Can't execute")
    }

    mutating func reset() {
        for i in entries.indices { entries[i] = Entry() }
        for i in buckets.indices { buckets[i] = 0 }
        errors = [:]; totalErrors = 0
    }

    var commandLines: [(String, String)] {
        indexByName.keys.sorted().compactMap { n in
            let e = entries[indexByName[n]!]
            if e.calls == 0 && e.rejected == 0 { return nil }
            let per = e.calls > 0 ? Double(e.usec) / Double(e.calls) : 0
            return ("cmdstat_\(n)", "calls=\(e.calls),usec=\(e.usec),usec_per_call=\(Server.twoDecimals(per)),rejected_calls=\(e.rejected),failed_calls=\(e.failed)")
        }
    }

    /// LATENCY HISTOGRAM [command ...]: the named commands (a container's name takes all its
    /// subcommands; unknown names are skipped) that were called, each with its calls and the
    /// cumulative counts at each bucket's upper bound in microseconds where the count grew.
    func histograms(_ names: [String]) -> [(String, Int, [(Int64, Int)])] {
        var chosen: [String]
        if names.isEmpty {
            chosen = entryNames
        } else {
            chosen = []
            for n in names {
                if indexByName[n] != nil { chosen.append(n) }
                if CommandStats.containers.contains(n) { chosen += entryNames.filter { $0.hasPrefix(n + "|") } }
            }
        }
        var seen = Set<String>()
        return chosen.compactMap { n in
            guard seen.insert(n).inserted, let i = indexByName[n], entries[i].calls > 0 else { return nil }
            var points: [(Int64, Int)] = []
            var total = 0
            for k in 0..<CommandStats.bucketCount {
                let c = buckets[i * CommandStats.bucketCount + k]
                if c == 0 { continue }
                total += c
                points.append(((Int64(1024) << k - 1) / 1000, total))
            }
            return (n, entries[i].calls, points)
        }
    }

    var errorLines: [(String, String)] { errors.keys.sorted().map { ("errorstat_\($0)", "count=\(errors[$0]!)") } }
}

#if canImport(Glibc)
import Glibc
#endif
import StrataFormats
import StrataEngine
import StrataBackup

/// `strata restore SOURCE --at TIME -o OUTDIR` and `strata restore SOURCE --list`.
enum RestoreCommand {
    static let spec = CommandSpec(
        path: "restore", synopsis: "SOURCE (--at TIME -o OUTDIR [--format rdb|aof] [--match GLOB] [--ttl-from at|now] [--force] | --list) [--json]",
        summary: "Restore the data as it was at a given second, from a backup repository, an appendonlydir or an AOF file with #TS annotations.",
        options: [
            OptionSpec(names: ["--at"], valueName: "TIME", help: "unix seconds, 2026-11-24T10:42:17+08:00, \"2026-11-24 10:42:17\" (local) or latest."),
            OptionSpec(names: ["-o", "--output"], valueName: "OUTDIR", help: "The data directory to write (absent or empty unless --force)."),
            OptionSpec(names: ["--format"], valueName: "rdb|aof", help: "dump.rdb (default), or an appendonlydir (plus the same dump.rdb)."),
            OptionSpec(names: ["--match"], valueName: "GLOB", help: "Restore only keys matching GLOB (repeatable; Redis glob syntax)."),
            OptionSpec(names: ["--ttl-from"], valueName: "at|now", help: "at (default): keys keep their absolute expiry; now: the TTL left at TIME starts now."),
            OptionSpec(names: ["--allow-partial"], valueName: nil, help: "On a damaged increment, restore up to the damage and say where it stopped."),
            OptionSpec(names: ["--force"], valueName: nil, help: "Replace a non-empty OUTDIR."),
            OptionSpec(names: ["--list"], valueName: nil, help: "Show the restorable windows and their gaps."),
            OptionSpec(names: ["--utc"], valueName: nil, help: "Show times in UTC."),
            OptionSpec(names: ["--json"], valueName: nil, help: "One JSON object on stdout."),
        ],
        positionals: 1...1)

    static func run(_ args: [String]) throws -> Int32 {
        let a = try spec.parse(args)
        let source = a.positionals[0]
        do {
            if a.has("--list") {
                if a.value("--at") != nil || a.value("-o") != nil { throw UsageError(message: "--list takes no --at or -o", usage: spec.usage) }
                return try list(source, json: a.has("--json"), utc: a.has("--utc"))
            }
            guard let at = a.value("--at") else { throw UsageError(message: "--at TIME is required (or --list)", usage: spec.usage) }
            guard let target = Restore.parseTime(at) else {
                throw UsageError(message: "--at: '\(at)' is not a time (unix seconds, 2026-11-24T10:42:17+08:00, \"2026-11-24 10:42:17\" or latest)", usage: spec.usage)
            }
            guard let out = a.value("-o") else { throw UsageError(message: "-o OUTDIR is required", usage: spec.usage) }
            let format = Restore.Format(rawValue: a.value("--format") ?? "rdb")
            guard let format else { throw UsageError(message: "--format is rdb or aof", usage: spec.usage) }
            var options = Restore.Options()
            options.match = (a.values["--match"] ?? []).map { Array($0.utf8) }
            switch a.value("--ttl-from") ?? "at" {
            case "at": break
            case "now": options.ttlFromNow = true
            default: throw UsageError(message: "--ttl-from is at or now", usage: spec.usage)
            }
            options.allowPartial = a.has("--allow-partial")
            try refuseOverlap(source: source, out: out)
            try Restore.checkOutDir(out, force: a.has("--force"))
            let engine = Engine()
            let (report, _) = try restore(source: source, target: target, into: engine, options: options)
            try Restore.write(engine, functions: report.functions, to: out, format: format, force: a.has("--force"))
            describe(report, out: out, format: format, json: a.has("--json"))
            return report.stoppedAt == nil ? 0 : 3
        } catch let e as BackupError {
            if e.kind == .usage { throw UsageError(message: e.description, usage: spec.usage) }
            Console.error("strata restore: \(e.description)")
            return e.kind == .damaged ? 4 : (e.kind == .notRepository ? 5 : 1)
        }
    }

    /// Plans and replays (shared with `serve --from-backup`).
    static func restore(source: String, target: Restore.Target, into engine: Engine, options: Restore.Options) throws -> (Restore.Report, Restore.Window) {
        let windows = try Restore.windows(source: source)
        let (w, t) = try Restore.choose(windows, target, now: nowMilliseconds() / 1000)
        return (try Restore.replay(w, to: t, into: engine, options: options), w)
    }

    /// OUTDIR may not be, contain or lie inside SOURCE.
    static func refuseOverlap(source: String, out: String) throws {
        func real(_ p: String) -> String? {
            guard let r = realpath(p, nil) else { return nil }
            defer { free(r) }
            return String(cString: r)
        }
        guard let s = real(source) else { return }
        let o = real(out) ?? (real(AtomicFile.directory(of: out)).map { $0 + "/" + (out.split(separator: "/").last.map(String.init) ?? out) } ?? out)
        if o == s || o.hasPrefix(s + "/") || s.hasPrefix(o + "/") {
            throw BackupError(.usage, "OUTDIR \(out) overlaps SOURCE \(source); restore never writes into its source")
        }
    }

    static func describe(_ r: Restore.Report, out: String, format: Restore.Format, json: Bool) {
        if json {
            var d: [String: Any] = ["output": out, "format": format.rawValue, "window": r.window, "base": r.base, "target": r.target,
                                    "target_iso": formatTime(r.target), "reached": r.reached, "reached_iso": formatTime(r.reached),
                                    "commands": r.commands, "keys": r.keys, "expired_at_target": r.expiredAtTarget, "filtered_out": r.filteredOut,
                                    "files": r.files.map { ["file": $0.name, "commands": $0.commands] as [String: Any] }]
            if let s = r.stoppedAt { d["stopped_at"] = s }
            BackupCommon.printJSON(d)
            return
        }
        Console.error("strata restore: from \(r.window): \(r.base)")
        for f in r.files where !f.name.hasPrefix("snapshot ") { Console.error("strata restore:   \(f.commands) command(s) from \(f.name)") }
        Console.error("strata restore: \(r.commands) command(s) replayed; data as of \(formatTime(r.reached))\(r.reached < r.target ? " (nothing changed between then and \(formatTime(r.target)))" : "")")
        Console.error("strata restore: wrote \(out) (\(format == .rdb ? "dump.rdb" : "appendonlydir + dump.rdb")): \(r.keys) key(s)\(r.expiredAtTarget > 0 ? ", \(r.expiredAtTarget) expired by \(formatTime(r.target)) left out" : "")\(r.filteredOut > 0 ? ", \(r.filteredOut) not matching --match left out" : "")")
        if let s = r.stoppedAt { Console.error("strata restore: warning: \(s)") }
    }

    static func list(_ source: String, json: Bool, utc: Bool) throws -> Int32 {
        let ws = try Restore.windows(source: source)
        // Merge touching spans per source for display; gaps are what lies between.
        var spans = [(start: Int64, end: Int64, what: [String], exactOnly: Bool)]()
        for w in ws.sorted(by: { $0.start < $1.start }) {
            if var last = spans.last, w.start <= last.end + 1 {
                last.end = max(last.end, w.end); last.what.append(w.description); last.exactOnly = last.exactOnly || w.points != nil
                spans[spans.count - 1] = last
            } else {
                spans.append((w.start, w.end, [w.description], w.points != nil))
            }
        }
        if json {
            var gaps = [[String: Any]]()
            for i in spans.indices.dropFirst() { gaps.append(["from": spans[i - 1].end + 1, "to": spans[i].start - 1]) }
            BackupCommon.printJSON(["source": source,
                                    "windows": spans.map { ["start": $0.start, "end": $0.end, "start_iso": formatTime($0.start, utc: utc), "end_iso": formatTime($0.end, utc: utc), "from": $0.what, "timestamps": !$0.exactOnly] as [String: Any] },
                                    "gaps": gaps])
            return 0
        }
        if spans.isEmpty { BackupCommon.out("nothing restorable in \(source)"); return 0 }
        for (i, s) in spans.enumerated() {
            if i > 0 { BackupCommon.out("  gap     \(formatTime(spans[i - 1].end + 1, utc: utc)) .. \(formatTime(s.start - 1, utc: utc))") }
            let kind = s.start == s.end ? "point " : "window"
            BackupCommon.out("  \(kind)  \(formatTime(s.start, utc: utc)) .. \(formatTime(s.end, utc: utc))  \(s.what.joined(separator: ", "))\(s.exactOnly ? "  (no #TS: only listed ends are exact)" : "")")
        }
        return 0
    }
}

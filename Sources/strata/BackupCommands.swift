#if canImport(Glibc)
import Glibc
#endif
import Foundation
import StrataFormats
import StrataBackup

let backupUsage = "Usage: strata backup <create|list|verify|prune> --repo DIR [<args>]"

let backupHelp = """
Usage: strata backup <create|list|verify|prune> --repo DIR [<args>]

  create    \(BackupCreateCommand.spec.summary)
  list      \(BackupListCommand.spec.summary)
  verify    \(BackupVerifyCommand.spec.summary)
  prune     \(BackupPruneCommand.spec.summary)

Exit status: 0 ok, 1 the run failed (nothing was stored), 2 usage, 3 the repository is locked
by another run, 4 verify found a damaged backup, 5 not a repository (or one of a newer format).
See strata-backup(1).

"""

func runBackup(_ args: [String]) throws -> Int32 {
    guard let sub = args.first else { throw UsageError(message: "missing command after 'backup'", usage: backupUsage) }
    let rest = Array(args.dropFirst())
    let table: [(String, CommandSpec, ([String]) throws -> Int32)] = [
        ("create", BackupCreateCommand.spec, BackupCreateCommand.run),
        ("list", BackupListCommand.spec, BackupListCommand.run),
        ("verify", BackupVerifyCommand.spec, BackupVerifyCommand.run),
        ("prune", BackupPruneCommand.spec, BackupPruneCommand.run),
    ]
    if sub == "--help" || sub == "-h" || sub == "help" { print(backupHelp, terminator: ""); return 0 }
    guard let entry = table.first(where: { $0.0 == sub }) else { throw UsageError(message: "unknown command 'backup \(sub)'", usage: backupUsage) }
    if rest.contains("--help") || rest.contains("-h") { print(entry.1.help, terminator: ""); return 0 }
    do {
        return try entry.2(rest)
    } catch let e as BackupError {
        if e.kind == .usage { throw UsageError(message: e.description, usage: entry.1.usage) }
        Console.error("strata backup \(sub): \(e.description)")
        return e.kind.rawValue
    } catch let e as UsageError {
        throw e
    } catch {
        Console.error("strata backup \(sub): \(error)")
        if RepoFS.shared.countSteps { Console.error("strata-backup-steps: \(RepoFS.shared.steps)") }
        return 1
    }
}

enum BackupCommon {
    static let repo = OptionSpec(names: ["--repo"], valueName: "DIR", help: "The backup repository (created by the first 'create').")
    static let wait = OptionSpec(names: ["--wait"], valueName: "SECONDS", help: "Wait this long for another run's lock (default: fail at once, exit 3).")
    static let json = OptionSpec(names: ["--json"], valueName: nil, help: "Print one JSON object on stdout.")
    static let verbose = OptionSpec(names: ["-v", "--verbose"], valueName: nil, help: "Say what was done (silent on success otherwise).")

    static func repoPath(_ a: ParsedArguments, _ spec: CommandSpec) throws -> String {
        guard let r = a.value("--repo"), !r.isEmpty else { throw UsageError(message: "--repo DIR is required", usage: spec.usage) }
        return r
    }

    static func waitSeconds(_ a: ParsedArguments, _ spec: CommandSpec) throws -> Double {
        guard let w = a.value("--wait") else { return 0 }
        guard let v = Double(w), v >= 0, v < 1e7 else { throw UsageError(message: "--wait takes a number of seconds, not '\(w)'", usage: spec.usage) }
        return v
    }

    static func printJSON(_ obj: Any) {
        let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data("{}".utf8)
        var bytes = Array(data); bytes.append(10)
        bytes.withUnsafeBytes { try? FileIO.writeAll(1, $0) }
    }

    static func out(_ s: String) {
        let b = Array((s + "\n").utf8)
        b.withUnsafeBytes { try? FileIO.writeAll(1, $0) }
    }

    static func size(_ n: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var v = Double(n), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return u == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[u])
    }

    static func snapshotJSON(_ s: Snapshot, utc: Bool) -> [String: Any] {
        var d: [String: Any] = ["id": s.id, "source": s.source, "kind": s.kind, "created_at_ms": s.createdAt, "time": s.time,
                                "time_iso": formatTime(s.time, utc: utc), "keys": s.keys, "expires": s.expires, "databases": s.databases,
                                "functions": s.functions, "size": s.size]
        if let f = s.file { d["file"] = f }
        if let l = s.label { d["label"] = l }
        if let v = s.rdbVersion { d["rdb_version"] = v }
        if let v = s.redisVersion { d["redis_version"] = v }
        if let v = s.crc64 { d["crc64"] = v }
        if let v = s.chain { d["chain"] = v }
        if let v = s.rdbChecksum { d["rdb_checksum"] = v }
        return d
    }

    /// A progress line on a terminal for long copies; nothing when stderr is not a terminal.
    static func progress(_ label: String) -> ProgressHandler? {
        guard isatty(2) == 1 else { return nil }
        var last = -1
        return { done, total in
            guard done >= 64 << 20 || (total ?? 0) >= 64 << 20 else { return }
            let mb = done >> 20
            guard mb != last else { return }
            last = mb
            let t = total.map { " / \($0 >> 20) MB" } ?? " MB"
            Console.errorNoNewline("\r\(label): \(mb)\(t)\u{1B}[K")
        }
    }

    static func endProgress() { if isatty(2) == 1 { Console.errorNoNewline("\r\u{1B}[K") } }
}

enum BackupCreateCommand {
    static let spec = CommandSpec(
        path: "backup create", synopsis: "SOURCE --repo DIR [--label TEXT] [--wait SECONDS] [--json] [-v]",
        summary: "Back up a Redis data directory, an RDB/AOF file or a live server (redis://[user:password@]host:port) into a repository.",
        options: [
            BackupCommon.repo,
            OptionSpec(names: ["--label"], valueName: "TEXT", help: "A note stored with the snapshot."),
            OptionSpec(names: ["--dbfilename"], valueName: "NAME", help: "The RDB file in a data directory (default dump.rdb)."),
            OptionSpec(names: ["--appenddirname"], valueName: "NAME", help: "The AOF directory in a data directory (default appendonlydir)."),
            OptionSpec(names: ["--timeout"], valueName: "SECONDS", help: "Give up on a server silent this long (default 60)."),
            BackupCommon.wait, BackupCommon.json, BackupCommon.verbose,
        ],
        positionals: 1...1)

    static func run(_ args: [String]) throws -> Int32 {
        let a = try spec.parse(args)
        let repoPath = try BackupCommon.repoPath(a, spec)
        var o = BackupCreate.Options()
        o.label = a.value("--label")
        if let d = a.value("--dbfilename") { o.dbfilename = d }
        if let d = a.value("--appenddirname") { o.appenddirname = d }
        if let t = a.value("--timeout") {
            guard let v = Double(t), v > 0, v < 1e6 else { throw UsageError(message: "--timeout takes a number of seconds, not '\(t)'", usage: spec.usage) }
            o.timeout = v
        }
        let source = a.positionals[0]
        // Source errors before the repository is opened (or created).
        if source.hasPrefix("redis://") || source.hasPrefix("rediss://") { _ = try RedisURL(source) } else if access(source, R_OK) != 0 {
            throw BackupError(.failed, "\(source): \(String(cString: strerror(errno)))")
        }
        o.progress = BackupCommon.progress("copying")
        let repo = try Repository(path: repoPath, writable: true, create: true, wait: try BackupCommon.waitSeconds(a, spec))
        let r: BackupCreate.Result
        do { r = try BackupCreate(repo: repo, options: o).run(source: source) } catch {
            BackupCommon.endProgress()
            throw error
        }
        BackupCommon.endProgress()
        for w in r.warnings { Console.error("strata backup create: warning: \(w)") }
        if a.has("--json") {
            var incs = [[String: Any]]()
            for (c, i) in r.increments {
                var d: [String: Any] = ["chain": c, "file": i.file, "source_file": i.sourceFile, "from": i.from, "to": i.to, "commands": i.commands]
                if let t = i.firstTimestamp { d["first_ts"] = t }
                if let t = i.lastTimestamp { d["last_ts"] = t }
                incs.append(d)
            }
            BackupCommon.printJSON(["source": r.source, "snapshots": r.snapshots.map { BackupCommon.snapshotJSON($0, utc: false) },
                                    "increments": incs, "chains_started": r.chainsStarted, "chains_closed": r.chainsClosed,
                                    "warnings": r.warnings, "notes": r.notes])
        } else if a.has("-v") {
            for s in r.snapshots {
                Console.error("strata backup create: snapshot \(s.id) (\(s.kind)\(s.file == nil ? ", empty dataset" : ""), \(s.keys) keys, \(BackupCommon.size(s.size)), data as of \(formatTime(s.time)))")
            }
            for (c, i) in r.increments {
                Console.error("strata backup create: chain \(c) increment \(i.index): \(i.commands) command(s), bytes \(i.from)-\(i.to) of \(i.sourceFile)")
            }
            for n in r.notes { Console.error("strata backup create: \(n)") }
            if r.snapshots.isEmpty && r.increments.isEmpty { Console.error("strata backup create: nothing new since the last run") }
        }
        if RepoFS.shared.countSteps { Console.error("strata-backup-steps: \(RepoFS.shared.steps)") }
        return 0
    }
}

/// Restorable windows: per source, its chains in time order, merged where one runs into the next.
struct RestoreWindow {
    var source: String
    var start: Int64
    var end: Int64
    var chains: [String]
    var timestamps: Bool
}

func restoreWindows(_ cat: Catalog) -> [RestoreWindow] {
    var out = [RestoreWindow]()
    let bySource = Dictionary(grouping: cat.chains, by: \.source)
    for src in bySource.keys.sorted() {
        var cur: RestoreWindow?
        for c in bySource[src]!.sorted(by: { $0.start < $1.start }) {
            if var w = cur, c.start <= w.end + 1 {
                w.end = max(w.end, c.end); w.chains.append(c.id); w.timestamps = w.timestamps && c.timestamps
                cur = w
            } else {
                if let w = cur { out.append(w) }
                cur = RestoreWindow(source: src, start: c.start, end: c.end, chains: [c.id], timestamps: c.timestamps)
            }
        }
        if let w = cur { out.append(w) }
    }
    return out
}

enum BackupListCommand {
    static let spec = CommandSpec(
        path: "backup list", synopsis: "--repo DIR [--json] [--utc]",
        summary: "List every snapshot and the restorable time windows (reads only the catalog).",
        options: [BackupCommon.repo, BackupCommon.json,
                  OptionSpec(names: ["--utc"], valueName: nil, help: "Show times in UTC instead of local time.")],
        positionals: 0...0)

    static func run(_ args: [String]) throws -> Int32 {
        let a = try spec.parse(args)
        let repo = try Repository(path: try BackupCommon.repoPath(a, spec), writable: false, create: false, lock: false)
        let utc = a.has("--utc")
        let cat = repo.catalog
        let snaps = cat.snapshots.sorted { $0.time != $1.time ? $0.time < $1.time : $0.id < $1.id }
        let windows = restoreWindows(cat)
        if a.has("--json") {
            let ws: [[String: Any]] = windows.map { w in
                ["source": w.source, "start": w.start, "end": w.end, "start_iso": formatTime(w.start, utc: utc), "end_iso": formatTime(w.end, utc: utc),
                 "chains": w.chains, "timestamps": w.timestamps]
            }
            let chains: [[String: Any]] = cat.chains.map { c in
                var d: [String: Any] = ["id": c.id, "source": c.source, "snapshot": c.snapshot, "start": c.start, "end": c.end, "closed": c.closed,
                                        "timestamps": c.timestamps, "increments": c.increments.count,
                                        "commands": c.increments.reduce(0) { $0 + $1.commands }, "bytes": c.increments.reduce(0) { $0 + $1.size }]
                if let g = c.gapBefore { d["gap_before"] = g }
                return d
            }
            BackupCommon.printJSON(["repository": repo.path, "generation": cat.generation,
                                    "snapshots": snaps.map { BackupCommon.snapshotJSON($0, utc: utc) }, "chains": chains, "windows": ws])
            return 0
        }
        if snaps.isEmpty { BackupCommon.out("no backups in \(repo.path)"); return 0 }
        BackupCommon.out("ID".padding(toLength: 20, withPad: " ", startingAt: 0) + "  " + "DATA AS OF".padding(toLength: 25, withPad: " ", startingAt: 0)
                         + "  KIND          KEYS       SIZE  SOURCE")
        for s in snaps {
            var line = s.id.padding(toLength: 20, withPad: " ", startingAt: 0) + "  " + formatTime(s.time, utc: utc).padding(toLength: 25, withPad: " ", startingAt: 0)
            line += "  " + s.kind.padding(toLength: 12, withPad: " ", startingAt: 0)
            line += String(s.keys).leftPadded(6) + BackupCommon.size(s.size).leftPadded(11) + "  " + s.source
            if let l = s.label { line += "  [\(l)]" }
            BackupCommon.out(line)
        }
        if !windows.isEmpty {
            BackupCommon.out("")
            BackupCommon.out("Restorable windows (point in time):")
            for w in windows {
                let incs = w.chains.compactMap { cat.chain($0) }.reduce(0) { $0 + $1.increments.count }
                BackupCommon.out("  \(formatTime(w.start, utc: utc)) .. \(formatTime(w.end, utc: utc))  \(w.source)  (\(w.chains.count) chain(s), \(incs) increment(s)\(w.timestamps ? "" : "; no #TS annotations: only the ends of increments are exact"))")
            }
        }
        return 0
    }
}

enum BackupVerifyCommand {
    static let spec = CommandSpec(
        path: "backup verify", synopsis: "--repo DIR [ID ... | --all] [--json] [-v]",
        summary: "Re-read every stored file: CRC-64 and RDB structure of snapshots, framing and continuity of AOF increments.",
        options: [BackupCommon.repo, OptionSpec(names: ["--all"], valueName: nil, help: "Every snapshot and chain (the default)."),
                  BackupCommon.json, BackupCommon.verbose, BackupCommon.wait],
        positionals: 0...Int.max)

    static func run(_ args: [String]) throws -> Int32 {
        let a = try spec.parse(args)
        if a.has("--all") && !a.positionals.isEmpty { throw UsageError(message: "give IDs or --all, not both", usage: spec.usage) }
        let repo = try Repository(path: try BackupCommon.repoPath(a, spec), writable: false, create: false, wait: try BackupCommon.waitSeconds(a, spec))
        let r = BackupVerify.run(repo, ids: a.positionals.isEmpty ? nil : a.positionals, progress: BackupCommon.progress("verifying"))
        BackupCommon.endProgress()
        if a.has("--json") {
            BackupCommon.printJSON(["repository": repo.path, "ok": r.ok, "problems": r.problems, "notes": r.notes,
                                    "snapshots_checked": r.snapshotsChecked, "increments_checked": r.incrementsChecked, "bytes_read": r.bytesRead])
        } else {
            for p in r.problems { Console.error("strata backup verify: \(p)") }
            if a.has("-v") {
                for n in r.notes { Console.error("strata backup verify: note: \(n)") }
                Console.error("strata backup verify: \(r.snapshotsChecked) snapshot(s), \(r.incrementsChecked) increment(s), \(BackupCommon.size(r.bytesRead)) read: \(r.ok ? "all intact" : "\(r.problems.count) problem(s)")")
            }
        }
        return r.ok ? 0 : BackupError.Kind.damaged.rawValue
    }
}

enum BackupPruneCommand {
    static let spec = CommandSpec(
        path: "backup prune", synopsis: "--repo DIR [--keep-last N] [--keep-hourly N] ... [--keep-within-pitr DURATION] [--dry-run] [--json]",
        summary: "Delete the snapshots (and their AOF increments) no retention rule keeps.",
        options: [BackupCommon.repo,
                  OptionSpec(names: ["--keep-last"], valueName: "N", help: "The N newest snapshots (-1 or 'unlimited': all)."),
                  OptionSpec(names: ["--keep-hourly"], valueName: "N", help: "The newest snapshot of each of the last N hours that have one."),
                  OptionSpec(names: ["--keep-daily"], valueName: "N", help: "... of each of the last N days."),
                  OptionSpec(names: ["--keep-weekly"], valueName: "N", help: "... of each of the last N ISO weeks."),
                  OptionSpec(names: ["--keep-monthly"], valueName: "N", help: "... of each of the last N months."),
                  OptionSpec(names: ["--keep-yearly"], valueName: "N", help: "... of each of the last N years."),
                  OptionSpec(names: ["--keep-within-pitr"], valueName: "DURATION", help: "Keep every second of the last DURATION (e.g. 36h, 7d, 2w) restorable."),
                  OptionSpec(names: ["--utc"], valueName: nil, help: "Count hours, days, ... in UTC instead of local time."),
                  OptionSpec(names: ["--dry-run", "-n"], valueName: nil, help: "Only say what would be deleted and which rule keeps each snapshot."),
                  BackupCommon.json, BackupCommon.verbose, BackupCommon.wait],
        positionals: 0...0)

    static func parseDuration(_ s: String) -> Int64? {
        if let v = Int64(s), v >= 0 { return v }
        var total: Int64 = 0, num: Int64 = 0, sawDigit = false
        for c in s {
            if let d = c.wholeNumberValue { num = num * 10 + Int64(d); sawDigit = true; continue }
            guard sawDigit else { return nil }
            let mult: Int64
            switch c { case "s": mult = 1; case "m": mult = 60; case "h": mult = 3600; case "d": mult = 86400; case "w": mult = 604800; case "y": mult = 365 * 86400; default: return nil }
            total += num * mult; num = 0; sawDigit = false
        }
        return sawDigit ? nil : total
    }

    static func run(_ args: [String]) throws -> Int32 {
        let a = try spec.parse(args)
        var p = RetentionPolicy()
        func count(_ name: String) throws -> Int {
            guard let v = a.value(name) else { return 0 }
            if v == "unlimited" || v == "-1" { return -1 }
            guard let n = Int(v), n >= 0 else { throw UsageError(message: "\(name) takes a count (or 'unlimited'), not '\(v)'", usage: spec.usage) }
            return n
        }
        p.last = try count("--keep-last"); p.hourly = try count("--keep-hourly"); p.daily = try count("--keep-daily")
        p.weekly = try count("--keep-weekly"); p.monthly = try count("--keep-monthly"); p.yearly = try count("--keep-yearly")
        if let d = a.value("--keep-within-pitr") {
            guard let v = parseDuration(d) else { throw UsageError(message: "--keep-within-pitr takes a duration like 90m, 36h, 7d, 2w, not '\(d)'", usage: spec.usage) }
            p.withinPITR = v
        }
        p.utc = a.has("--utc")
        if p.isEmpty { throw UsageError(message: "no --keep-* rule given: prune would delete every snapshot; name at least one rule", usage: spec.usage) }
        let dry = a.has("--dry-run")
        let repo = try Repository(path: try BackupCommon.repoPath(a, spec), writable: !dry, create: false, wait: try BackupCommon.waitSeconds(a, spec))
        let ds = try BackupPrune.run(repo, policy: p, dryRun: dry)
        let sorted = ds.sorted { $0.snapshot.time != $1.snapshot.time ? $0.snapshot.time > $1.snapshot.time : $0.snapshot.id > $1.snapshot.id }
        if a.has("--json") {
            BackupCommon.printJSON(["dry_run": dry,
                                    "keep": sorted.filter(\.keep).map { ["id": $0.snapshot.id, "time_iso": formatTime($0.snapshot.time, utc: p.utc), "reasons": $0.reasons] as [String: Any] },
                                    "remove": sorted.filter { !$0.keep }.map { ["id": $0.snapshot.id, "time_iso": formatTime($0.snapshot.time, utc: p.utc), "increments": $0.increments, "bytes": $0.bytes] as [String: Any] }])
        } else if dry || a.has("-v") {
            for d in sorted {
                let when = formatTime(d.snapshot.time, utc: p.utc)
                if d.keep { BackupCommon.out("keep    \(d.snapshot.id)  \(when)  \(d.reasons.joined(separator: ", "))") }
                else { BackupCommon.out("\(dry ? "would remove" : "removed")  \(d.snapshot.id)  \(when)  (\(BackupCommon.size(d.bytes))\(d.increments > 0 ? ", \(d.increments) AOF increment(s)" : ""))") }
            }
        }
        if RepoFS.shared.countSteps { Console.error("strata-backup-steps: \(RepoFS.shared.steps)") }
        return 0
    }
}

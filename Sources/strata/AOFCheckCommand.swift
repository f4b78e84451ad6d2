import StrataFormats

/// `strata aof check PATH [--fix [--cut-damaged] [--max-loss BYTES] | --truncate-to-timestamp T] [--json]`.
enum AOFCheckCommand {
    static let spec = CommandSpec(
        path: "aof check", synopsis: "PATH [--fix [--cut-damaged] [--max-loss BYTES] | --truncate-to-timestamp UNIX_TS] [--json]",
        summary: "Check an append-only file or a Redis 7 appendonlydir (manifest, base, incr files) as redis-check-aof 7.0 does; repair it without prompting, keeping the originals.",
        options: [
            OptionSpec(names: ["--fix"], valueName: nil, help: "Cut the damaged tail of the last file (a crash mid-write, zero-filled blocks, garbage, an unclosed MULTI)."),
            OptionSpec(names: ["--cut-damaged"], valueName: nil, help: "With --fix: also cut damage that readable commands or later files follow (drops them)."),
            OptionSpec(names: ["--max-loss"], valueName: "BYTES", help: "With --fix or --truncate-to-timestamp: refuse a cut that drops more bytes."),
            OptionSpec(names: ["--truncate-to-timestamp"], valueName: "UNIX_TS", help: "Cut at the first #TS: annotation later than UNIX_TS, in any file; later incr files are dropped."),
            OptionSpec(names: ["--json"], valueName: nil, help: "Print one JSON object instead of text."),
        ],
        positionals: 1...1)

    static func run(_ args: [String]) throws -> Int32 {
        let a = try spec.parse(args)
        let path = a.positionals[0]
        let fix = a.has("--fix")
        var to: Int64?
        if let t = a.value("--truncate-to-timestamp") {
            guard let v = Int64(t), v >= 0 else { throw UsageError(message: "--truncate-to-timestamp needs unix seconds, got '\(t)'", usage: spec.usage) }
            to = v
        }
        if fix && to != nil { throw UsageError(message: "--fix and --truncate-to-timestamp are exclusive", usage: spec.usage) }
        if a.has("--cut-damaged") && !fix { throw UsageError(message: "--cut-damaged goes with --fix", usage: spec.usage) }
        let maxLoss = try a.int("--max-loss", usage: spec.usage)
        if maxLoss != nil && !fix && to == nil { throw UsageError(message: "--max-loss goes with --fix or --truncate-to-timestamp", usage: spec.usage) }
        let json = a.has("--json")

        let check = try AOFCheck.run(path: path, truncateTo: to)
        var plan: AOFRepair.Plan?
        var refusal: String?
        do {
            if fix { plan = try AOFRepair.planFix(check, cutDamaged: a.has("--cut-damaged")) }
            if let to { plan = try AOFRepair.planTimestamp(check, to) }
        } catch {
            refusal = error.description
        }
        if let p = plan, let m = maxLoss, p.bytesLost > m {
            refusal = "the cut would drop \(p.bytesLost) bytes, more than --max-loss \(m); nothing changed"
            plan = nil
        }
        var result: (kept: [AOFRepair.Kept], dropped: [AOFRepair.Kept])?
        if let p = plan { result = try AOFRepair.apply(p, to: check) }

        var o = Out()
        if json { writeJSON(path, check, plan, result, refusal, to, &o) } else { writeText(path, check, plan, result, refusal, to, &o) }
        let out = try OutputTarget(path: nil)
        try out.write(&o)
        try out.finish()
        if let r = refusal { Console.error("strata aof check: \(r)") }
        if result != nil { return 0 }
        if refusal != nil { return 1 }
        if to != nil { return 0 }    // nothing later than T: nothing to cut
        return check.valid ? 0 : 1
    }

    static func damageText(_ d: AOFCheck.Damage) -> String {
        switch d {
        case .truncated: return "truncated tail: the file ends inside a command (a crash while writing)"
        case .unclosedMulti: return "unclosed MULTI: the file ends inside a transaction whose EXEC was never written"
        case .zeroFilled: return "zero-filled tail: zero bytes where commands should be (blocks allocated but never written, typical of a power loss)"
        case .corruptTail: return "corrupt tail: bytes that are not commands, with nothing readable after them"
        case .corruptMiddle: return "corrupt data in the middle: bytes that are not commands, followed by readable commands"
        case .rdb: return "damaged RDB part"
        }
    }

    static func writeText(_ path: String, _ c: AOFCheck, _ plan: AOFRepair.Plan?, _ result: (kept: [AOFRepair.Kept], dropped: [AOFRepair.Kept])?,
                          _ refusal: String?, _ to: Int64?, _ o: inout Out) {
        let incrs = c.incrFiles
        if c.layout == .multiPart {
            o.raw("Multi-part AOF \(c.manifestPath ?? path): \(c.files.filter(\.isBase).count) base, \(incrs.count) incr file(s), \(incrs.reduce(0) { $0 + $1.size }) bytes in incr files\n")
        } else {
            o.raw("Single-file AOF \(path)\n")
        }
        for f in c.files {
            o.raw(c.layout == .legacy ? "AOF " : (f.isBase ? "BASE " : "INCR "))
            o.raw("\(f.name): \(f.size) bytes")
            if f.size == 0 { o.raw(", empty\n"); continue }
            o.raw(", \(f.format)")
            if f.format != "resp" { o.raw(" (\(f.rdbKeys) keys\(f.rdbCtime.map { ", ctime \($0)" } ?? ""))") }
            if f.format != "rdb" { o.raw(", \(f.commands) commands") }
            if let a = f.firstTimestamp, let b = f.lastTimestamp { o.raw(", #TS \(a)..\(b)") }
            if f.valid {
                o.raw(", valid\n")
                continue
            }
            o.raw(", NOT VALID\n")
            o.raw("  ok_up_to=\(f.okUpTo), ok_up_to_line=\(f.okUpToLine), diff=\(f.size - f.okUpTo)\n")
            o.raw("  \(damageText(f.damage!))\n")
            if let e = f.errorOffset { o.raw("  at byte offset \(e)\(f.message.map { ": " + $0 } ?? ": format error (not '*' or '#' where a command starts)")\n") }
            if let r = f.resumesAt { o.raw("  \(f.commandsAfterDamage) readable command(s) resume at byte offset \(r)\n") }
            else if f.commandsAfterDamage > 0 { o.raw("  \(f.commandsAfterDamage) complete command(s) after the valid prefix would be dropped\n") }
        }
        for w in c.warnings { o.raw("warning: \(w)\n") }
        if let p = plan, let r = result {
            let f = c.files[p.file]
            o.raw("Cut \(f.name) from \(f.size) to \(p.cutAt) bytes (\(p.why)); \(p.bytesLost) bytes dropped")
            if p.commandsLost >= 0 { o.raw(", \(p.commandsLost) complete command(s)") }
            o.raw("\n")
            for k in r.kept { o.raw("  original kept: \(k.keptAs)\n") }
            for d in r.dropped { o.raw("  dropped from the manifest, kept as: \(d.keptAs)\n") }
            o.raw("AOF is valid now\n")
            return
        }
        if refusal != nil { o.raw("Nothing changed.\n"); return }
        if let to {
            o.raw("Nothing later than timestamp \(to): nothing to cut\n")
            return
        }
        if let i = c.firstDamaged {
            let f = c.files[i]
            o.raw("AOF is NOT valid: \(f.name) \(f.damage!.rawValue) at byte offset \(f.okUpTo)")
            let last = i == c.files.count - 1
            if f.damage == .rdb { o.raw("\n") }
            else if last && f.damage != .corruptMiddle { o.raw("; --fix cuts it (drops \(f.size - f.okUpTo) bytes)\n") }
            else { o.raw("; --fix refuses this without --cut-damaged\n") }
        } else {
            o.raw("AOF is valid\n")
        }
    }

    static func writeJSON(_ path: String, _ c: AOFCheck, _ plan: AOFRepair.Plan?, _ result: (kept: [AOFRepair.Kept], dropped: [AOFRepair.Kept])?,
                          _ refusal: String?, _ to: Int64?, _ o: inout Out) {
        func optInt<T: BinaryInteger>(_ v: T?) { if let v { o.int(v) } else { o.lit("null") } }
        o.lit("{\"path\":"); o.jsonString(path)
        o.raw(",\"layout\":\"\(c.layout.rawValue)\",\"manifest\":")
        if let m = c.manifestPath { o.jsonString(m) } else { o.lit("null") }
        o.raw(",\"valid\":\(c.valid),\"incr_files\":\(c.incrFiles.count),\"incr_bytes\":\(c.incrFiles.reduce(0) { $0 + $1.size }),\"files\":[")
        for (i, f) in c.files.enumerated() {
            if i > 0 { o.lit(",") }
            o.lit("{\"name\":"); o.jsonString(f.name)
            o.raw(",\"type\":\"\(f.isBase ? "base" : "incr")\",\"size\":\(f.size),\"format\":\"\(f.format)\",\"rdb_keys\":\(f.rdbKeys),\"rdb_ctime\":")
            optInt(f.rdbCtime)
            o.raw(",\"commands\":\(f.commands),\"valid\":\(f.valid),\"ok_up_to\":\(f.okUpTo),\"ok_up_to_line\":\(f.okUpToLine),\"damage\":")
            if let d = f.damage { o.raw("\"\(d.rawValue)\"") } else { o.lit("null") }
            o.lit(",\"message\":"); if let m = f.message { o.jsonString(m) } else { o.lit("null") }
            o.lit(",\"error_offset\":"); optInt(f.errorOffset)
            o.lit(",\"resumes_at\":"); optInt(f.resumesAt)
            o.raw(",\"commands_after_damage\":\(f.commandsAfterDamage),\"first_timestamp\":"); optInt(f.firstTimestamp)
            o.lit(",\"last_timestamp\":"); optInt(f.lastTimestamp)
            o.lit("}")
        }
        o.lit("],\"warnings\":[")
        for (i, w) in c.warnings.enumerated() { if i > 0 { o.lit(",") }; o.jsonString(w) }
        o.lit("],\"action\":")
        if let p = plan, let r = result {
            o.raw("{\"file\":"); o.jsonString(c.files[p.file].name)
            o.raw(",\"from\":\(c.files[p.file].size),\"to\":\(p.cutAt),\"bytes_dropped\":\(p.bytesLost),\"commands_dropped\":")
            if p.commandsLost >= 0 { o.int(p.commandsLost) } else { o.lit("null") }
            o.lit(",\"why\":"); o.jsonString(p.why)
            o.lit(",\"kept\":[")
            for (i, k) in r.kept.enumerated() { if i > 0 { o.lit(",") }; o.jsonString(k.keptAs) }
            o.lit("],\"dropped\":[")
            for (i, k) in r.dropped.enumerated() { if i > 0 { o.lit(",") }; o.jsonString(k.keptAs) }
            o.lit("]}")
        } else { o.lit("null") }
        o.lit(",\"refused\":"); if let r = refusal { o.jsonString(r) } else { o.lit("null") }
        o.lit("}\n")
    }
}

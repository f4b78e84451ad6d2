#if canImport(Glibc)
import Glibc
#endif
import StrataFormats
import StrataEngine

/// Commands that recreate an RDB entry (the AOF rewrite form), as argument lists.
func rewriteCommands(_ e: RDBEntry) throws -> [[[UInt8]]] {
    var o = Out()
    try RDBDumpCommand.writeRESP(e, &o)
    let r = RESPCommandReader()
    r.feed(o.bytes.array)
    var out = [[[UInt8]]]()
    while let item = try? r.next(), case .command(let args) = item { out.append(args) }
    return out
}

/// `strata aof dump PATH --format resp|text|json [-o OUT]`.
enum AOFDumpCommand {
    enum Format: String { case resp, text, json }

    static let spec = CommandSpec(
        path: "aof dump", synopsis: "PATH [--format resp|text|json] [-o OUT]",
        summary: "Print every command of an AOF (file or appendonlydir) with its timestamp and provenance; RDB preamble keys as the commands that recreate them.",
        options: [
            OptionSpec(names: ["--format"], valueName: "F", help: "text (default): one line per command, quoted as redis-cli does; resp: the commands alone, for redis-cli --pipe; json: one object per line, lossless."),
            OptionSpec(names: ["--output", "-o"], valueName: "OUT", help: "Write to OUT (atomically) instead of stdout."),
        ],
        positionals: 1...1)

    static func run(_ args: [String]) throws -> Int32 {
        let a = try spec.parse(args)
        let fname = a.value("--format") ?? "text"
        guard let format = Format(rawValue: fname) else { throw UsageError(message: "unknown format '\(fname)' (resp, text, json)", usage: spec.usage) }
        let path = a.positionals[0]
        if let o = a.value("--output"), o != "-", FileIO.sameFile(path, o) { throw UsageError(message: "OUT must not be PATH", usage: spec.usage) }
        let input = try AOFReader(path: path)
        let out = try OutputTarget(path: a.value("--output"))
        var o = Out(capacity: 1 << 16)
        var selected = -1
        do {
            while let item = try input.next() {
                switch item {
                case .rdb(let ev, let file):
                    switch ev {
                    case .entry(let e):
                        if format == .resp {
                            if e.db != selected { o.resp([Array("SELECT".utf8), Decimal.bytes(Int64(e.db))]); selected = e.db }
                            try RDBDumpCommand.writeRESP(e, &o)
                        } else {
                            if e.db != selected { write([Array("SELECT".utf8), Decimal.bytes(Int64(e.db))], format, nil, file, e.offset, true, &o); selected = e.db }
                            for c in try rewriteCommands(e) { write(c, format, nil, file, e.offset, true, &o) }
                        }
                    case .function(let code):
                        write([Array("FUNCTION".utf8), Array("LOAD".utf8), code], format, nil, file, 0, true, &o)
                    default: break
                    }
                case .command(let args, let ts, let file, let offset):
                    // SELECT in the stream moves the db the RDB part's SELECTs are compared with.
                    if args.count == 2, args[0].count == 6, zip(args[0], "select".utf8).allSatisfy({ $0 | 0x20 == $1 }),
                       let n = Decimal.parseCanonical(args[1]) { selected = Int(n) }
                    write(args, format, ts, file, offset, false, &o)
                }
                if o.bytes.count >= 1 << 16 { try out.write(&o) }
            }
            try out.write(&o)
            try out.finish()
        } catch {
            out.abandon()
            throw error
        }
        return 0
    }

    static func write(_ args: [[UInt8]], _ f: Format, _ ts: Int64?, _ file: String, _ offset: Int, _ fromRDB: Bool, _ o: inout Out) {
        switch f {
        case .resp:
            o.resp(args)
        case .text:
            if let ts { o.raw(MemoryReport.isoTime(ts * 1000)) } else { o.lit("-") }
            o.lit(" "); o.raw(file); o.lit(fromRDB ? "@rdb:" : ":"); o.int(offset)
            for a in args { o.lit(" "); quote(a, &o) }
            o.lit("\n")
        case .json:
            o.lit("{\"file\":"); o.jsonString(file)
            o.lit(",\"offset\":"); o.int(offset)
            if fromRDB { o.lit(",\"rdb\":true") }
            o.lit(",\"ts\":"); if let ts { o.int(ts) } else { o.lit("null") }
            o.lit(",\"args\":[")
            for (i, a) in args.enumerated() { if i > 0 { o.lit(",") }; o.json(a) }
            o.lit("]}\n")
        }
    }

    /// redis-cli's quoting (`sdscatrepr`).
    static func quote(_ b: [UInt8], _ o: inout Out) {
        o.lit("\"")
        for c in b {
            switch c {
            case UInt8(ascii: "\\"): o.lit("\\\\")
            case UInt8(ascii: "\""): o.lit("\\\"")
            case 10: o.lit("\\n")
            case 13: o.lit("\\r")
            case 9: o.lit("\\t")
            case 7: o.lit("\\a")
            case 8: o.lit("\\b")
            case 0x20...0x7E: o.byte(c)
            default:
                let d = Array("0123456789abcdef".utf8)
                o.lit("\\x"); o.byte(d[Int(c >> 4)]); o.byte(d[Int(c & 15)])
            }
        }
        o.lit("\"")
    }
}

/// `strata aof rewrite PATH -o OUT [--preamble rdb|none] [--layout dir|file]`.
enum AOFRewriteCommand {
    static let spec = CommandSpec(
        path: "aof rewrite", synopsis: "PATH -o OUT [--preamble rdb|none] [--layout dir|file]",
        summary: "Compact an AOF (file or appendonlydir, or an RDB file): replay it and write the minimal AOF, as BGREWRITEAOF would.",
        options: [
            OptionSpec(names: ["--output", "-o"], valueName: "OUT", help: "The new appendonlydir (--layout dir) or file (--layout file); must not exist (an empty directory is accepted)."),
            OptionSpec(names: ["--preamble"], valueName: "P", help: "rdb (default, as aof-use-rdb-preamble yes): the base is an RDB; none: commands only."),
            OptionSpec(names: ["--layout"], valueName: "L", help: "dir (default for a directory input): base + empty incr + manifest; file (default otherwise): one file."),
        ],
        positionals: 1...1)

    static func run(_ args: [String]) throws -> Int32 {
        let a = try spec.parse(args)
        guard let outPath = a.value("--output") else { throw UsageError(message: "missing -o OUT", usage: spec.usage) }
        let path = a.positionals[0]
        let preamble = a.value("--preamble") ?? "rdb"
        guard preamble == "rdb" || preamble == "none" else { throw UsageError(message: "--preamble is rdb or none, got '\(preamble)'", usage: spec.usage) }
        let (layoutIn, dir, _) = try AOFCheck.resolve(path)
        let layout = a.value("--layout") ?? (layoutIn == .multiPart ? "dir" : "file")
        guard layout == "dir" || layout == "file" else { throw UsageError(message: "--layout is dir or file, got '\(layout)'", usage: spec.usage) }
        if FileIO.sameFile(path, outPath) || (dir.map { FileIO.sameFile($0, outPath) } ?? false) {
            throw UsageError(message: "OUT must not be PATH", usage: spec.usage)
        }
        var st = stat()
        if stat(outPath, &st) == 0 {
            let isEmptyDir = (st.st_mode & S_IFMT) == S_IFDIR && ((try? AOFCheck.listDirectory(outPath))?.isEmpty ?? false)
            if !(layout == "dir" && isEmptyDir) { throw CommandFailure(message: "\(outPath) exists; refusing to overwrite it") }
        }

        let reader = try AOFReader(path: path)
        let engine = Engine()
        let replay = AOFReplay(engine: engine)
        do {
            while let item = try reader.next() { try replay.apply(item) }
        } catch let e as AOFReplay.ReplayError {
            throw CommandFailure(message: e.description)
        }
        replay.finish()

        // The name prefix: the input's (appendonly.aof.1.base.rdb -> appendonly.aof).
        var prefix = "appendonly.aof"
        if let m = reader.manifest, let first = m.base ?? m.incrs.first {
            let n = String(decoding: first.file, as: UTF8.self)
            let marker = ".\(first.seq)."
            if let r = n.firstRange(of: marker) { prefix = String(n[..<r.lowerBound]) }
        }
        let baseName = "\(prefix).1.base.\(preamble == "rdb" ? "rdb" : "aof")"
        if layout == "file" {
            let out = try AtomicFile(path: outPath)
            do { try writeBase(engine, replay, preamble: preamble, fd: out.fd); try out.commit() } catch { out.abandon(); throw error }
        } else {
            try writeDirectory(outPath, baseName: baseName, incrName: "\(prefix).1.incr.aof", manifestName: "\(prefix).manifest") { fd in
                try writeBase(engine, replay, preamble: preamble, fd: fd)
            }
        }
        var keys = 0
        for db in engine.databases { keys += db.count }
        Console.error("strata aof rewrite: replayed \(replay.commands) command(s) and \(replay.rdbKeys) RDB key(s) (\(replay.transactions) MULTI/EXEC block(s)) into \(keys) key(s) and \(replay.functions.count) function librar\(replay.functions.count == 1 ? "y" : "ies"); wrote \(outPath) (\(layout), preamble \(preamble))")
        if replay.droppedTrailingCommands > 0 {
            Console.error("strata aof rewrite: dropped a MULTI block without EXEC at the end (\(replay.droppedTrailingCommands) command(s)), as Redis does")
        }
        if replay.errorReplies > 0 {
            Console.error("strata aof rewrite: warning: \(replay.errorReplies) command(s) outside MULTI replied an error (Redis ignores these while loading); first: \(replay.firstErrorReply ?? "")")
        }
        return 0
    }

    /// The base: an RDB (preamble) or the minimal commands, with FUNCTION LOAD first.
    static func writeBase(_ engine: Engine, _ replay: AOFReplay, preamble: String, fd: Int32) throws {
        if preamble == "rdb" {
            let sink = ByteSink(fileDescriptor: fd)
            let writer = RDBWriter(sink: sink, target: Engine.dumpTarget)
            try engine.save(to: writer, functions: replay.functions.map(\.code), aux: [(Array("aof-base".utf8), Array("1".utf8))])
            try sink.flush()
            return
        }
        try engine.writeCommands(functions: replay.functions.map(\.code)) { chunk in try chunk.withUnsafeBytes { try FileIO.writeAll(fd, $0) } }
    }

    /// A new appendonlydir, built beside OUT and renamed into place whole.
    static func writeDirectory(_ outPath: String, baseName: String, incrName: String, manifestName: String,
                               base: (Int32) throws -> Void) throws {
        let tmp = "\(outPath).tmp-\(getpid())"
        guard mkdir(tmp, 0o755) == 0 else { throw SystemError("mkdir \(tmp)") }
        do {
            let b = try AtomicFile(path: "\(tmp)/\(baseName)")
            do { try base(b.fd); try b.commit() } catch { b.abandon(); throw error }
            let i = try AtomicFile(path: "\(tmp)/\(incrName)")
            try i.commit()
            let m = AOFManifest(entries: [
                .init(file: Array(baseName.utf8), seq: 1, type: .base),
                .init(file: Array(incrName.utf8), seq: 1, type: .incr),
            ])
            let mf = try AtomicFile(path: "\(tmp)/\(manifestName)")
            do { try m.serialized().withUnsafeBytes { try FileIO.writeAll(mf.fd, $0) }; try mf.commit() } catch { mf.abandon(); throw error }
            var st = stat()
            if stat(outPath, &st) == 0 { rmdir(outPath) }   // an empty directory the user made
            guard rename(tmp, outPath) == 0 else { throw SystemError("rename \(tmp) to \(outPath)") }
            let parent = open(AtomicFile.directory(of: outPath), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if parent >= 0 { _ = fsync(parent); close(parent) }
        } catch {
            for n in (try? AOFCheck.listDirectory(tmp)) ?? [] { unlink("\(tmp)/\(n)") }
            rmdir(tmp)
            throw error
        }
    }
}

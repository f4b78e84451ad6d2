#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

let strataVersion = "0.1.0"

let topHelp = """
strata \(strataVersion): persistence and recovery toolkit for Redis-compatible data.

Usage: strata <command> [<args>]

Commands:
  rdb inspect FILE [--json]        Describe an RDB file.
  rdb check FILE [--json]          Validate an RDB file (exit 0 only if valid).
  rdb dump FILE [--format F] ...   Print keys as JSON, RESP, key names or a memory CSV.
  rdb convert INPUT -o OUT ...     Re-encode an RDB for another Redis/Valkey version.
  rdb salvage DAMAGED -o OUT       Recover what can be read from a damaged RDB.
  rdb digest FILE                  Redis's DEBUG DIGEST of the file's data, without a server.
  aof check PATH [--fix] ...       Check (and repair) an AOF file or appendonlydir.
  aof dump PATH [--format F]       Print every command with its timestamp and provenance.
  aof rewrite PATH -o OUT ...      Compact an AOF (or RDB) into a minimal AOF.
  serve [CONFIG] [--DIRECTIVE V]   Serve the data directory to Redis clients (redis-server's CLI).
  backup create SOURCE --repo DIR  Back up a data directory, RDB/AOF file or live server (cron-friendly).
  backup list|verify|prune ...     List, re-check and thin out a backup repository.
  restore SOURCE --at T -o OUTDIR  The data as it was at second T (repository, appendonlydir, AOF).

Run 'strata rdb <command> --help' for a command's options. See strata(1), strata-rdb(1),
strata-aof(1), strata-serve(1), strata-backup(1),
strata-restore(1).

"""

let rdbHelp = """
Usage: strata rdb <inspect|check|dump|convert|salvage|digest> [<args>]

  inspect   \(RDBInspectCommand.spec.summary)
  check     \(RDBCheckCommand.spec.summary)
  dump      \(RDBDumpCommand.spec.summary)
  convert   \(RDBConvertCommand.spec.summary)
  salvage   \(RDBSalvageCommand.spec.summary)
  digest    \(RDBDigestCommand.spec.summary)

"""

func runRDB(_ args: [String]) throws -> Int32 {
    guard let sub = args.first else {
        throw UsageError(message: "missing command after 'rdb'", usage: "Usage: strata rdb <inspect|check|dump|convert|salvage|digest> [<args>]")
    }
    let rest = Array(args.dropFirst())
    let table: [(String, CommandSpec, ([String]) throws -> Int32)] = [
        ("inspect", RDBInspectCommand.spec, RDBInspectCommand.run),
        ("check", RDBCheckCommand.spec, RDBCheckCommand.run),
        ("dump", RDBDumpCommand.spec, RDBDumpCommand.run),
        ("convert", RDBConvertCommand.spec, RDBConvertCommand.run),
        ("salvage", RDBSalvageCommand.spec, RDBSalvageCommand.run),
        ("digest", RDBDigestCommand.spec, RDBDigestCommand.run),
    ]
    if sub == "--help" || sub == "-h" || sub == "help" { print(rdbHelp, terminator: ""); return 0 }
    guard let entry = table.first(where: { $0.0 == sub }) else {
        throw UsageError(message: "unknown command 'rdb \(sub)'", usage: "Usage: strata rdb <inspect|check|dump|convert|salvage|digest> [<args>]")
    }
    if rest.contains("--help") || rest.contains("-h") { print(entry.1.help, terminator: ""); return 0 }
    return try entry.2(rest)
}

let aofHelp = """
Usage: strata aof <check|dump|rewrite> [<args>]

  check     \(AOFCheckCommand.spec.summary)
  dump      \(AOFDumpCommand.spec.summary)
  rewrite   \(AOFRewriteCommand.spec.summary)

"""

func runAOF(_ args: [String]) throws -> Int32 {
    let usage = "Usage: strata aof <check|dump|rewrite> [<args>]"
    guard let sub = args.first else { throw UsageError(message: "missing command after 'aof'", usage: usage) }
    let rest = Array(args.dropFirst())
    let table: [(String, CommandSpec, ([String]) throws -> Int32)] = [
        ("check", AOFCheckCommand.spec, AOFCheckCommand.run),
        ("dump", AOFDumpCommand.spec, AOFDumpCommand.run),
        ("rewrite", AOFRewriteCommand.spec, AOFRewriteCommand.run),
    ]
    if sub == "--help" || sub == "-h" || sub == "help" { print(aofHelp, terminator: ""); return 0 }
    guard let entry = table.first(where: { $0.0 == sub }) else { throw UsageError(message: "unknown command 'aof \(sub)'", usage: usage) }
    if rest.contains("--help") || rest.contains("-h") { print(entry.1.help, terminator: ""); return 0 }
    return try entry.2(rest)
}

func runMain() -> Int32 {
    let args = Array(CommandLine.arguments.dropFirst())
    do {
        guard let first = args.first else {
            throw UsageError(message: "missing command", usage: "Usage: strata <command> [<args>]; see 'strata --help'")
        }
        switch first {
        case "--help", "-h", "help": print(topHelp, terminator: ""); return 0
        case "--version", "-V": print("strata \(strataVersion)"); return 0
        case "rdb": return try runRDB(Array(args.dropFirst()))
        case "aof": return try runAOF(Array(args.dropFirst()))
        case "serve": return try runServe(Array(args.dropFirst()))
        case "backup": return try runBackup(Array(args.dropFirst()))
        case "restore":
            let rest = Array(args.dropFirst())
            if rest.contains("--help") || rest.contains("-h") { print(RestoreCommand.spec.help, terminator: ""); return 0 }
            return try RestoreCommand.run(rest)
        default:
            throw UsageError(message: "unknown command '\(first)'", usage: "Usage: strata <command> [<args>]; see 'strata --help'")
        }
    } catch let e as UsageError {
        Console.error("strata: \(e.message)\n\(e.usage)")
        return 2
    } catch let e as CommandFailure {
        Console.error("strata: \(e.message)")
        return e.status
    } catch let e as RDBFileError {
        Console.error("strata: \(e.description)")
        return 1
    } catch let e as SystemError {
        Console.error("strata: \(e.description)")
        return 1
    } catch {
        Console.error("strata: \(error)")
        return 1
    }
}

signal(SIGPIPE, SIG_IGN)
exit(runMain())

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import StrataServer
import StrataBackup

let serveHelp = """
Usage: strata serve [CONFIG_FILE] [--DIRECTIVE VALUE ...]
       strata serve --from-backup SOURCE [--at TIME] [CONFIG_FILE] [--DIRECTIVE VALUE ...]

Serve the data directory (its dbfilename, or its appendonlydir with appendonly yes) to Redis
clients, as redis-server does: the same configuration file format and precedence (directives on
the command line after the file), the same defaults (127.0.0.1:6379, protected mode, the current
directory). --from-backup restores SOURCE (a backup repository, an appendonlydir or an AOF file)
as of TIME in memory and serves that instead. See strata-serve(1), strata-restore(1).

"""

/// `strata serve [CONFIG_FILE] [--directive value ...]`.
func runServe(_ args: [String]) throws -> Int32 {
    if args.first == "--help" || args.first == "-h" { print(serveHelp, terminator: ""); return 0 }
    var rest = args
    // --from-backup SOURCE [--at TIME]: strata's own options, taken out before redis-server's.
    var fromBackup: String?
    var at = "latest"
    var i = 0
    while i < rest.count {
        if rest[i] == "--from-backup" || rest[i] == "--at" {
            guard i + 1 < rest.count else { throw UsageError(message: "\(rest[i]) needs a value", usage: "Usage: strata serve [CONFIG_FILE] [--from-backup SOURCE [--at TIME]] [--DIRECTIVE VALUE ...]") }
            if rest[i] == "--from-backup" { fromBackup = rest[i + 1] } else { at = rest[i + 1] }
            rest.removeSubrange(i...(i + 1))
        } else { i += 1 }
    }
    var fileText: String? = nil
    var configPath: String? = nil
    if let f = rest.first, !f.hasPrefix("--") {
        var buf = [CChar](repeating: 0, count: 4096)
        configPath = realpath(f, &buf) != nil ? String(cString: buf) : f
        guard let data = FileManager.default.contents(atPath: f) else {
            throw CommandFailure(message: "Fatal error, can't open config file '\(f)': \(String(cString: strerror(errno)))", status: 1)
        }
        fileText = String(decoding: data, as: UTF8.self)
        rest.removeFirst()
    }
    var config: ServerConfig
    do { config = try ServerConfig.parse(file: fileText, arguments: rest) } catch let e as ServerConfig.ConfigError {
        FileHandle.standardError.write(Data((e.description + "\n").utf8))
        return 1
    }
    config.configFile = configPath
    let server = try Server(config: config)
    if let source = fromBackup {
        guard let target = Restore.parseTime(at) else {
            throw UsageError(message: "--at: '\(at)' is not a time (unix seconds, ISO 8601, \"YYYY-MM-DD HH:MM:SS\" or latest)", usage: "Usage: strata serve --from-backup SOURCE [--at TIME] ...")
        }
        // Restored in memory before the server starts; SOURCE is only read. The server's own
        // saves go to its dir as usual.
        let absolute = source.hasPrefix("/") ? source : FileManager.default.currentDirectoryPath + "/" + source
        server.initialData = { engine in
            do {
                let (r, _) = try RestoreCommand.restore(source: absolute, target: target, into: engine, options: Restore.Options())
                return (r.functions, "Restored from \(r.window) (\(r.base)): \(r.commands) command(s) replayed, data as of \(formatTime(r.reached)), \(r.keys) keys")
            } catch let e as BackupError {
                throw BackupError(e.kind, "--from-backup \(source): \(e.description)")
            }
        }
    }
    let status = server.run()
    // As redis-server: the dataset is not taken apart on the way out (freeing a large keyspace
    // object by object takes seconds); run() has written, synced and closed what must last.
    exit(status)
}

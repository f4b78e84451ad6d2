#if canImport(Glibc)
import Glibc
#endif
import Foundation
import StrataServer

let serveHelp = """
Usage: strata serve [CONFIG_FILE] [--DIRECTIVE VALUE ...]

Serve the data directory (its dbfilename) to Redis clients, as redis-server does: the same
configuration file format and precedence (directives on the command line after the file),
the same defaults (127.0.0.1:6379, protected mode, the current directory). See strata-serve(1).

"""

/// `strata serve [CONFIG_FILE] [--directive value ...]`.
func runServe(_ args: [String]) throws -> Int32 {
    if args.first == "--help" || args.first == "-h" { print(serveHelp, terminator: ""); return 0 }
    var rest = args
    var fileText: String? = nil
    if let f = rest.first, !f.hasPrefix("--") {
        guard let data = FileManager.default.contents(atPath: f) else {
            throw CommandFailure(message: "Fatal error, can't open config file '\(f)': \(String(cString: strerror(errno)))", status: 1)
        }
        fileText = String(decoding: data, as: UTF8.self)
        rest.removeFirst()
    }
    let config: ServerConfig
    do { config = try ServerConfig.parse(file: fileText, arguments: rest) } catch let e as ServerConfig.ConfigError {
        FileHandle.standardError.write(Data((e.description + "\n").utf8))
        return 1
    }
    let server = try Server(config: config)
    return server.run()
}

#if canImport(Glibc)
import Glibc
#endif

/// A usage error: printed with the command's usage line, exit status 2.
struct UsageError: Error {
    let message: String
    let usage: String
}

/// A failure that is not the user's phrasing: printed, exit status 1.
struct CommandFailure: Error {
    let message: String
    var status: Int32 = 1
}

/// One option a command accepts.
struct OptionSpec {
    let names: [String]        // "--format", "-o"
    let valueName: String?     // nil: a flag
    let help: String
}

/// One command's declaration: what `--help` prints and what the parser accepts.
struct CommandSpec {
    let path: String           // "rdb dump"
    let synopsis: String       // "FILE [--format F] ..."
    let summary: String
    let options: [OptionSpec]
    let positionals: ClosedRange<Int>

    var usage: String { "Usage: strata \(path) \(synopsis)" }

    var help: String {
        var s = "\(summary)\n\n\(usage)\n"
        if !options.isEmpty {
            s += "\nOptions:\n"
            for o in options {
                let left = o.names.joined(separator: ", ") + (o.valueName.map { " " + $0 } ?? "")
                s += "  " + left.rightPadded(26) + "  " + o.help + "\n"
            }
        }
        s += "  --help                      Show this help.\n"
        return s
    }

    /// Parses `args` (everything after the command path).
    func parse(_ args: [String]) throws -> ParsedArguments {
        var out = ParsedArguments()
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "--" {
                out.positionals.append(contentsOf: args[(i + 1)...])
                break
            }
            if a.hasPrefix("-") && a.count > 1 {
                var name = a
                var inlineValue: String?
                if a.hasPrefix("--"), let eq = a.firstIndex(of: "=") {
                    name = String(a[..<eq])
                    inlineValue = String(a[a.index(after: eq)...])
                }
                guard let spec = options.first(where: { $0.names.contains(name) }) else {
                    throw UsageError(message: "unknown option '\(name)'", usage: usage)
                }
                let key = spec.names[0]
                if spec.valueName != nil {
                    if let v = inlineValue {
                        out.values[key, default: []].append(v)
                    } else {
                        guard i + 1 < args.count else { throw UsageError(message: "option '\(name)' needs a value", usage: usage) }
                        out.values[key, default: []].append(args[i + 1])
                        i += 1
                    }
                } else {
                    if inlineValue != nil { throw UsageError(message: "option '\(name)' takes no value", usage: usage) }
                    out.flags.insert(key)
                }
            } else {
                out.positionals.append(a)
            }
            i += 1
        }
        if !positionals.contains(out.positionals.count) {
            if out.positionals.count < positionals.lowerBound {
                throw UsageError(message: "missing argument", usage: usage)
            }
            throw UsageError(message: "unexpected argument '\(out.positionals[positionals.upperBound])'", usage: usage)
        }
        return out
    }
}

struct ParsedArguments {
    var positionals: [String] = []
    var values: [String: [String]] = [:]
    var flags: Set<String> = []

    func value(_ name: String) -> String? { values[name]?.last }
    func has(_ name: String) -> Bool { flags.contains(name) }

    func int(_ name: String, usage: String, range: ClosedRange<Int> = 0...Int.max) throws -> Int? {
        guard let v = value(name) else { return nil }
        guard let n = Int(v), range.contains(n) else {
            throw UsageError(message: "option '\(name)' needs a whole number in \(range.lowerBound)...\(range.upperBound == Int.max ? "" : String(range.upperBound)), got '\(v)'", usage: usage)
        }
        return n
    }
}

/// Standard error, unbuffered.
enum Console {
    static func error(_ s: String) {
        let line = s.hasSuffix("\n") ? s : s + "\n"
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { _ = write(2, $0.baseAddress, $0.count) }
    }

    static var stderrIsTerminal: Bool { isatty(2) != 0 }
}

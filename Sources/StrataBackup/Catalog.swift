import Foundation
import StrataFormats

/// The repository's table of contents and its commit point: what `backup list` reads, and the
/// only thing that makes a file part of a backup. A file on disk that the catalog does not name
/// is a leftover of an interrupted run.
public struct Catalog: Codable, Sendable, Equatable {
    public static let formatVersion = 1

    public var format = Catalog.formatVersion
    /// +1 on every commit; decides between catalog.json and its copy after a crash.
    public var generation = 0
    public var snapshots: [Snapshot] = []
    public var chains: [Chain] = []
    /// What each source's last run archived, so the next run continues from there.
    public var sources: [String: SourceState] = [:]

    public init() {}

    public func snapshot(_ id: String) -> Snapshot? { snapshots.first { $0.id == id } }
    public func chain(_ id: String) -> Chain? { chains.first { $0.id == id } }
}

/// A dataset at one moment: an RDB file in `snapshots/`, or (file nil) the empty dataset an
/// AOF chain without a base file starts from.
public struct Snapshot: Codable, Sendable, Equatable {
    public var id: String
    public var file: String?
    public var source: String
    /// rdb-file, dump, aof-base, aof-preamble, replication, empty
    public var kind: String
    public var label: String?
    /// Unix milliseconds when the run stored it.
    public var createdAt: Int64
    /// Unix seconds of the data: the RDB's ctime aux field (when Redis forked), else createdAt.
    public var time: Int64
    public var magic: String?
    public var rdbVersion: Int?
    public var redisVersion: String?
    public var keys: Int
    public var expires: Int
    /// Keys per database ("0": 1200, ...).
    public var databases: [String: Int]
    public var functions: Int
    public var size: Int
    /// CRC-64 (Redis's Jones polynomial) of the whole stored file, hex.
    public var crc64: String?
    /// verified, disabled (rdbchecksum no) or absent (RDB version < 5)
    public var rdbChecksum: String?
    /// The AOF chain this snapshot is the base of.
    public var chain: String?
}

/// A snapshot and the AOF increments that follow it: every second from `start` to `end` can be
/// restored (at `#TS:` precision when the increments carry timestamps).
public struct Chain: Codable, Sendable, Equatable {
    public var id: String
    public var source: String
    public var snapshot: String
    /// Unix seconds of the base state.
    public var start: Int64
    /// Unix seconds: the data is known complete through the end of this second.
    public var end: Int64
    public var increments: [Increment]
    /// False while the source's live AOF file may still add to it.
    public var closed: Bool
    /// Whether every increment carries `#TS:` annotations (restore to any second) or not
    /// (restore only to the ends of increments).
    public var timestamps: Bool
    /// Why the chain before this one (same source) does not run into it, when it does not.
    public var gapBefore: String?
}

/// Bytes [from, to) of one AOF file of the source, cut at command boundaries (never inside
/// MULTI/EXEC), stored as `chains/<chain>/<index>.aof`.
public struct Increment: Codable, Sendable, Equatable {
    public var index: Int
    public var file: String
    public var sourceFile: String
    public var sourceSeq: Int64?
    public var from: Int
    public var to: Int
    public var crc64: String
    public var commands: Int
    public var firstTimestamp: Int64?
    public var lastTimestamp: Int64?
    /// Unix milliseconds when the run copied it.
    public var createdAt: Int64
    /// The span of time the increment covers, (timeFrom, completeThrough]: from where the
    /// previous increment (or the snapshot) left off to the second through which the source was
    /// complete when this was copied (or its last `#TS:`, if later). Inside it, `#TS:` lines
    /// give each command's second; without them only the ends are exact.
    public var timeFrom: Int64
    public var completeThrough: Int64
    public var size: Int { to - from }
}

/// A source's progress between runs.
public struct SourceState: Codable, Sendable, Equatable {
    public struct Tracked: Codable, Sendable, Equatable {
        public var name: String
        public var seq: Int64?
        public var device: UInt64
        public var inode: UInt64
        /// Bytes archived so far.
        public var archived: Int
        /// Hex of up to the 32 bytes before `archived`: a file rewritten in place shows here.
        public var tail: String
        /// The hard link kept in pins/ so the file's tail survives Redis deleting it.
        public var pin: String?
    }
    public var chain: String?
    public var baseFile: String?
    public var baseSeq: Int64?
    public var files: [Tracked] = []
    /// The CRC-64 of the last RDB stored from this source, so an unchanged dump is not stored twice.
    public var lastRDB: String?
    /// dev:inode:size:mtime of that RDB file, so an untouched dump is not even read again.
    public var lastRDBFile: String?
    public var lastRun: Int64 = 0
}

extension Catalog {
    private static let prefix = Array("{\"checksum\":\"".utf8)
    private static let middle = Array("\",\"catalog\":".utf8)

    /// `{"checksum":"<CRC-64 hex of the catalog text>","catalog":<catalog>}` and a newline: still
    /// JSON for jq, and a torn or altered file is detected.
    public func encoded() throws -> [UInt8] {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let body = Array(try enc.encode(self))
        return Catalog.prefix + Array(hex64(CRC64.checksum(body)).utf8) + Catalog.middle + body + Array("}\n".utf8)
    }

    public enum DecodeError: Error { case damaged(String), newer(Int) }

    public static func decode(_ bytes: [UInt8]) throws -> Catalog {
        let p = prefix.count, m = middle.count
        guard bytes.count > p + 16 + m + 2, Array(bytes[0..<p]) == prefix, Array(bytes[(p + 16)..<(p + 16 + m)]) == middle,
              bytes[bytes.count - 2] == UInt8(ascii: "}"), bytes[bytes.count - 1] == 10 else {
            throw DecodeError.damaged("not a catalog (bad framing)")
        }
        let stored = String(decoding: bytes[p..<(p + 16)], as: UTF8.self)
        let body = Array(bytes[(p + 16 + m)..<(bytes.count - 2)])
        guard hex64(CRC64.checksum(body)) == stored else { throw DecodeError.damaged("checksum mismatch") }
        // The format number first, so a newer repository is named as such, not as damage.
        if let obj = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], let f = obj["format"] as? Int, f > formatVersion {
            throw DecodeError.newer(f)
        }
        do { return try JSONDecoder().decode(Catalog.self, from: Data(body)) } catch {
            throw DecodeError.damaged("unreadable: \(error)")
        }
    }
}

public func hex64(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

func hexBytes<C: Collection>(_ b: C) -> String where C.Element == UInt8 {
    let d = Array("0123456789abcdef".utf8)
    var out = [UInt8](); out.reserveCapacity(b.count * 2)
    for x in b { out.append(d[Int(x >> 4)]); out.append(d[Int(x & 15)]) }
    return String(decoding: out, as: UTF8.self)
}

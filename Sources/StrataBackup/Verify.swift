#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

/// `strata backup verify`: re-reads every file the catalog names.
public enum BackupVerify {
    public struct Report {
        /// One line per problem, naming the file: the verification failed when any exist.
        public var problems: [String] = []
        /// Things that are not damage (leftovers of an interrupted run, a stale catalog copy).
        public var notes: [String] = []
        public var snapshotsChecked = 0
        public var incrementsChecked = 0
        public var bytesRead = 0
        public var ok: Bool { problems.isEmpty }
    }

    /// Verifies the snapshots `ids` (nil: all) and their chains.
    public static func run(_ repo: Repository, ids: [String]?, progress: ProgressHandler? = nil) -> Report {
        var r = Report()
        let cat = repo.catalog
        for n in repo.catalogNotes {
            if n.hasPrefix("DAMAGED") { r.problems.append(n) } else { r.notes.append(n) }
        }
        let left = repo.leftovers()
        if !left.isEmpty {
            r.notes.append("\(left.count) file(s) no backup refers to (left by an interrupted run; the next create or prune removes them): \(left.prefix(5).joined(separator: ", "))\(left.count > 5 ? ", ..." : "")")
        }
        var selected = cat.snapshots
        if let ids {
            for id in ids where cat.snapshot(id) == nil && cat.chain(id) == nil { r.problems.append("\(id): no such snapshot or chain in the catalog") }
            selected = cat.snapshots.filter { s in ids.contains(s.id) || (s.chain.map { ids.contains($0) } ?? false) }
        }
        let total = selected.reduce(0) { $0 + $1.size }
        for s in selected {
            r.snapshotsChecked += 1
            guard let file = s.file else { continue }
            let path = repo.path + "/" + file
            let size = FileIO.fileSize(path)
            if access(path, R_OK) != 0 { r.problems.append("\(file): snapshot \(s.id) is missing"); continue }
            if size != s.size { r.problems.append("\(file): \(size) bytes, the catalog recorded \(s.size)"); continue }
            if let want = s.crc64, let got = try? crcOfFile(path), hex64(got) != want {
                r.problems.append("\(file): CRC-64 \(hex64(got)) does not match the catalog's \(want) (the file changed after it was stored)")
                continue
            }
            do {
                let sum = try Ingest.checkRDB(path: path)
                if sum.keys != s.keys { r.problems.append("\(file): \(sum.keys) keys, the catalog recorded \(s.keys)") }
            } catch { r.problems.append("\(file): \(error)") }
            r.bytesRead += size
            progress?(r.bytesRead, total)
        }
        let chainIDs = Set(selected.compactMap(\.chain))
        for c in cat.chains where chainIDs.contains(c.id) {
            verifyChain(repo, c, &r)
        }
        for c in cat.chains where cat.snapshot(c.snapshot) == nil {
            r.problems.append("chain \(c.id): its base snapshot \(c.snapshot) is not in the catalog")
        }
        return r
    }

    static func verifyChain(_ repo: Repository, _ c: Chain, _ r: inout Report) {
        var prev: Increment?
        if c.end < c.start { r.problems.append("chain \(c.id): ends (\(c.end)) before it starts (\(c.start))") }
        for inc in c.increments {
            r.incrementsChecked += 1
            let path = repo.path + "/" + inc.file
            guard access(path, R_OK) == 0 else { r.problems.append("\(inc.file): increment \(inc.index) of chain \(c.id) is missing"); prev = inc; continue }
            let size = FileIO.fileSize(path)
            if size != inc.size { r.problems.append("\(inc.file): \(size) bytes, the catalog recorded \(inc.size)") }
            do {
                // One streaming pass: the framing and the CRC-64 (memory stays constant).
                let (fd, _) = try FileIO.openForReading(path)
                defer { close(fd) }
                var crc = CRC64()
                var sc = AOFScanner()
                let read = try AOFCheck.scan(fd, from: 0, &sc) { crc.update($0) }
                r.bytesRead += read
                sc.finish()
                if read == size && hex64(crc.value) != inc.crc64 {
                    r.problems.append("\(inc.file): CRC-64 \(hex64(crc.value)) does not match the catalog's \(inc.crc64)")
                }
                if let f = sc.failure {
                    r.problems.append("\(inc.file): not a whole run of AOF commands (\(f.rawValue) at offset \(sc.badByteOffset ?? sc.okUpTo)\(sc.message.map { ": \($0)" } ?? ""))")
                } else if sc.commands != inc.commands {
                    r.problems.append("\(inc.file): \(sc.commands) commands, the catalog recorded \(inc.commands)")
                }
            } catch { r.problems.append("\(inc.file): \(error)") }
            // Continuity: the same source file continues where the last one stopped; a new
            // file starts at its beginning and comes later in the source's order.
            if let p = prev {
                if inc.index != p.index + 1 { r.problems.append("chain \(c.id): increment \(inc.index) follows \(p.index) (a gap in the numbering)") }
                if inc.sourceFile == p.sourceFile {
                    if inc.from != p.to {
                        r.problems.append("chain \(c.id): increment \(inc.index) starts at byte \(inc.from) of \(inc.sourceFile) but increment \(p.index) ended at \(p.to) (\(inc.from > p.to ? "gap" : "overlap"))")
                    }
                } else {
                    if let a = p.sourceSeq, let b = inc.sourceSeq, b <= a {
                        r.problems.append("chain \(c.id): increment \(inc.index) comes from \(inc.sourceFile) (seq \(b)), not after \(p.sourceFile) (seq \(a))")
                    }
                    if inc.from != 0 { r.problems.append("chain \(c.id): increment \(inc.index) starts at byte \(inc.from) of \(inc.sourceFile), whose earlier bytes were never archived (gap)") }
                }
                if inc.timeFrom != p.completeThrough {
                    r.problems.append("chain \(c.id): increment \(inc.index) covers time from \(inc.timeFrom), increment \(p.index) ended at \(p.completeThrough) (\(inc.timeFrom > p.completeThrough ? "gap" : "overlap"))")
                }
                if let a = p.lastTimestamp, let b = inc.firstTimestamp, b < a {
                    r.problems.append("chain \(c.id): increment \(inc.index) starts at #TS:\(b), before the previous one ended (#TS:\(a)): overlap")
                }
            } else if inc.index != 1 {
                r.problems.append("chain \(c.id): its first increment is number \(inc.index)")
            }
            prev = inc
        }
    }
}

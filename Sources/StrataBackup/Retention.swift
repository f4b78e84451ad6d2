#if canImport(Glibc)
import Glibc
#endif

/// Which snapshots to keep: restic's counting rule (`ApplyPolicy`). Snapshots are taken newest
/// first and every rule sees every one of them; a rule keeps a snapshot when its period (hour,
/// day, ISO week, month, year) differs from the previous snapshot's and the rule still has
/// count left; a rule that still has count left when it reaches the oldest snapshot keeps that
/// one too. A snapshot is kept when any rule keeps it, and the reasons say which rules did
/// ("daily #3": the third day the daily rule kept).
///
/// borg differs: its rules run one after another and a snapshot already kept by an earlier
/// rule is not counted by a later one, so `--keep-last 3 --keep-daily 3` keeps up to 6 there
/// and up to 5 here.
public struct RetentionPolicy: Sendable, Equatable {
    public var last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0   // -1: unlimited
    /// Keep every snapshot needed to restore any second of the last N seconds (relative to the
    /// newest restorable moment), and the chains' increments with them.
    public var withinPITR: Int64?
    public var utc = false
    public init() {}

    public var isEmpty: Bool { last == 0 && hourly == 0 && daily == 0 && weekly == 0 && monthly == 0 && yearly == 0 && withinPITR == nil }

    public struct Item: Sendable {
        public var id: String
        public var time: Int64
        /// For within-pitr: the last second this item's chain can restore.
        public var coversThrough: Int64
        public init(id: String, time: Int64, coversThrough: Int64) { self.id = id; self.time = time; self.coversThrough = coversThrough }
    }

    /// The decision for each item: the reasons it is kept (empty: it goes).
    public func apply(_ items: [Item]) -> [(item: Item, reasons: [String])] {
        let sorted = items.sorted { $0.time != $1.time ? $0.time > $1.time : $0.id > $1.id }
        struct Bucket { var name: String; var count: Int; var used = 0; var last: Int64? = nil; var key: (Int64, Int) -> Int64 }
        let tz = utc
        func tmOf(_ t: Int64) -> tm {
            var tt = time_t(t); var x = tm()
            if tz { gmtime_r(&tt, &x) } else { localtime_r(&tt, &x) }
            return x
        }
        func isoWeek(_ t: Int64) -> Int64 {
            var x = tmOf(t)
            var out = [Int8](repeating: 0, count: 16)
            let n = strftime(&out, 16, "%G%V", &x)
            return Int64(String(cString: Array(out[0..<n]) + [0])) ?? 0
        }
        var buckets = [
            Bucket(name: "last", count: last, key: { _, nr in Int64(nr) }),
            Bucket(name: "hourly", count: hourly, key: { t, _ in let x = tmOf(t); return Int64(x.tm_year + 1900) * 1_000_000 + Int64(x.tm_mon + 1) * 10_000 + Int64(x.tm_mday) * 100 + Int64(x.tm_hour) }),
            Bucket(name: "daily", count: daily, key: { t, _ in let x = tmOf(t); return Int64(x.tm_year + 1900) * 10_000 + Int64(x.tm_mon + 1) * 100 + Int64(x.tm_mday) }),
            Bucket(name: "weekly", count: weekly, key: { t, _ in isoWeek(t) }),
            Bucket(name: "monthly", count: monthly, key: { t, _ in let x = tmOf(t); return Int64(x.tm_year + 1900) * 100 + Int64(x.tm_mon + 1) }),
            Bucket(name: "yearly", count: yearly, key: { t, _ in Int64(tmOf(t).tm_year + 1900) }),
        ]
        // within-pitr: the window ends at the newest restorable second.
        var windowStart: Int64?
        if let w = withinPITR, let newest = sorted.map({ max($0.time, $0.coversThrough) }).max() { windowStart = newest - w }
        var out = [(item: Item, reasons: [String])]()
        for (nr, it) in sorted.enumerated() {
            var reasons = [String]()
            for i in buckets.indices where buckets[i].count != 0 {
                let v = buckets[i].key(it.time, nr)
                if v != buckets[i].last || nr == sorted.count - 1 {
                    buckets[i].last = v
                    if buckets[i].count > 0 { buckets[i].count -= 1 }
                    buckets[i].used += 1
                    reasons.append("\(buckets[i].name) #\(buckets[i].used)")
                }
            }
            if let ws = windowStart {
                // Needed for a second in the window: it is in the window, or it is the newest
                // item at or before the window's start and its chain reaches into the window.
                if it.time >= ws { reasons.append("within-pitr") }
                else if it.coversThrough >= ws, !sorted.contains(where: { $0.time <= ws && $0.time > it.time && $0.coversThrough >= ws }) {
                    reasons.append("within-pitr (restores \(formatTime(ws, utc: utc)) onwards)")
                }
            }
            out.append((it, reasons))
        }
        return out
    }
}

/// `strata backup prune`.
public enum BackupPrune {
    public struct Decision {
        public var snapshot: Snapshot
        public var reasons: [String]
        public var keep: Bool { !reasons.isEmpty }
        /// Increments that go with it (its chain's), when it goes.
        public var increments: Int
        public var bytes: Int
    }

    public static func plan(_ cat: Catalog, policy: RetentionPolicy) -> [Decision] {
        let items = cat.snapshots.map { s -> RetentionPolicy.Item in
            let through = s.chain.flatMap { cat.chain($0)?.end } ?? s.time
            return RetentionPolicy.Item(id: s.id, time: s.time, coversThrough: through)
        }
        return policy.apply(items).map { d in
            let s = cat.snapshot(d.item.id)!
            let incs = s.chain.flatMap { cat.chain($0)?.increments } ?? []
            var reasons = d.reasons
            // The live chain of a source is never pruned: the next run extends it.
            if let c = s.chain, let ch = cat.chain(c), !ch.closed, reasons.isEmpty { reasons.append("open chain (still being extended)") }
            return Decision(snapshot: s, reasons: reasons, increments: incs.count, bytes: s.size + incs.reduce(0) { $0 + $1.size })
        }
    }

    /// Commits a catalog without the dropped snapshots and their chains, then deletes their files.
    public static func run(_ repo: Repository, policy: RetentionPolicy, dryRun: Bool) throws -> [Decision] {
        let decisions = plan(repo.catalog, policy: policy)
        if dryRun { return decisions }
        let drop = Set(decisions.filter { !$0.keep }.map(\.snapshot.id))
        guard !drop.isEmpty else { return decisions }
        var cat = repo.catalog
        let dropChains = Set(cat.snapshots.filter { drop.contains($0.id) }.compactMap(\.chain))
        var files = [String]()
        for s in cat.snapshots where drop.contains(s.id) { if let f = s.file { files.append(f) } }
        for c in cat.chains where dropChains.contains(c.id) { files += c.increments.map(\.file) }
        cat.snapshots.removeAll { drop.contains($0.id) }
        cat.chains.removeAll { dropChains.contains($0.id) }
        try repo.commit(cat)
        // After the commit the files are leftovers; a kill here leaves them to the next run.
        for f in files { try repo.fs.unlink(repo.path + "/" + f) }
        for c in dropChains { try repo.fs.removeDirectory(repo.path + "/chains/" + c) }
        if !files.isEmpty { try repo.fs.fsyncDirectory(repo.path + "/snapshots") }
        return decisions
    }
}

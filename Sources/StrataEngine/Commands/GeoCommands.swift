#if canImport(Glibc)
import Glibc
#endif
import StrataFormats

/// Geo indexes as Redis 7.0 keeps them (`geo.c`, `geohash.c`, `geohash_helper.c`): sorted
/// sets whose scores are 52-bit interleaved geohashes. The arithmetic follows Redis's step by
/// step (same constants, same search boxes in the same order), so positions, distances and the
/// members a search finds are Redis's.
enum Geo {
    static let latMin = -85.05112878, latMax = 85.05112878
    static let lonMin = -180.0, lonMax = 180.0
    static let stepMax: UInt8 = 26
    static let earthRadius = 6372797.560856
    static let mercatorMax = 20037726.37
    static let dR = Double.pi / 180.0

    struct Bits: Equatable { var bits: UInt64; var step: UInt8; var isZero: Bool { bits == 0 && step == 0 } }
    struct Range { var min: Double; var max: Double }
    struct Area { var hash: Bits; var lon: Range; var lat: Range }

    static func interleave(_ xlo: UInt32, _ ylo: UInt32) -> UInt64 {
        let b: [UInt64] = [0x5555_5555_5555_5555, 0x3333_3333_3333_3333, 0x0F0F_0F0F_0F0F_0F0F, 0x00FF_00FF_00FF_00FF, 0x0000_FFFF_0000_FFFF]
        let s: [UInt64] = [1, 2, 4, 8, 16]
        var x = UInt64(xlo), y = UInt64(ylo)
        for i in stride(from: 4, through: 0, by: -1) {
            x = (x | (x << s[i])) & b[i]
            y = (y | (y << s[i])) & b[i]
        }
        return x | (y << 1)
    }

    static func deinterleave(_ v: UInt64) -> UInt64 {
        let b: [UInt64] = [0x5555_5555_5555_5555, 0x3333_3333_3333_3333, 0x0F0F_0F0F_0F0F_0F0F, 0x00FF_00FF_00FF_00FF, 0x0000_FFFF_0000_FFFF, 0x0000_0000_FFFF_FFFF]
        let s: [UInt64] = [0, 1, 2, 4, 8, 16]
        var x = v, y = v >> 1
        for i in 0..<6 {
            x = (x | (x >> s[i])) & b[i]
            y = (y | (y >> s[i])) & b[i]
        }
        return x | (y << 32)
    }

    /// C's `(uint32_t)` of a double in [0, 2^32] as x86-64 code does it (truncation).
    @inline(__always) static func u32(_ d: Double) -> UInt32 { UInt32(truncatingIfNeeded: Int64(d)) }

    /// C's `(uint64_t)double` as gcc compiles it on x86-64 (cvttsd2si, with the 2^63 split):
    /// Redis decodes any sorted-set score this way, in range or not.
    static func cUInt64(_ d: Double) -> UInt64 {
        func cvtt(_ x: Double) -> UInt64 {
            if x.isNaN || x >= 9223372036854775808.0 || x < -9223372036854775808.0 { return 1 << 63 }
            return UInt64(bitPattern: Int64(x))
        }
        if d >= 9223372036854775808.0 { return cvtt(d - 9223372036854775808.0) ^ (1 << 63) }
        return cvtt(d)
    }

    /// C's `(long long)double` on x86-64 (cvttsd2si: out of range and NaN give INT64_MIN).
    static func cInt64(_ d: Double) -> UInt64 {
        if d.isNaN || d >= 9223372036854775808.0 || d < -9223372036854775808.0 { return 1 << 63 }
        return UInt64(bitPattern: Int64(d))
    }

    static func encode(lon: Range, lat: Range, _ longitude: Double, _ latitude: Double, step: UInt8) -> Bits? {
        if longitude > lonMax || longitude < lonMin || latitude > latMax || latitude < latMin { return nil }
        if latitude < lat.min || latitude > lat.max || longitude < lon.min || longitude > lon.max { return nil }
        var latOff = (latitude - lat.min) / (lat.max - lat.min)
        var lonOff = (longitude - lon.min) / (lon.max - lon.min)
        latOff *= Double(UInt64(1) << UInt64(step))
        lonOff *= Double(UInt64(1) << UInt64(step))
        return Bits(bits: interleave(u32(latOff), u32(lonOff)), step: step)
    }

    static let wgsLon = Range(min: lonMin, max: lonMax), wgsLat = Range(min: latMin, max: latMax)

    static func encodeWGS84(_ longitude: Double, _ latitude: Double, step: UInt8) -> Bits? {
        encode(lon: wgsLon, lat: wgsLat, longitude, latitude, step: step)
    }

    static func decode(_ h: Bits, lon: Range = wgsLon, lat: Range = wgsLat) -> Area? {
        if h.isZero { return nil }
        let sep = deinterleave(h.bits)
        let latScale = lat.max - lat.min, lonScale = lon.max - lon.min
        let ilato = UInt32(truncatingIfNeeded: sep), ilono = UInt32(truncatingIfNeeded: sep >> 32)
        let div = Double(UInt64(1) << UInt64(h.step))
        return Area(hash: h,
                    lon: Range(min: lon.min + (Double(ilono) * 1.0 / div) * lonScale, max: lon.min + (Double(UInt64(ilono) + 1) * 1.0 / div) * lonScale),
                    lat: Range(min: lat.min + (Double(ilato) * 1.0 / div) * latScale, max: lat.min + (Double(UInt64(ilato) + 1) * 1.0 / div) * latScale))
    }

    /// A score's (longitude, latitude): the centre of its cell, clamped to the valid range.
    static func decodeScore(_ score: Double) -> (Double, Double)? {
        guard let a = decode(Bits(bits: cUInt64(score), step: stepMax)) else { return nil }
        var x = (a.lon.min + a.lon.max) / 2
        x = Swift.min(Swift.max(x, lonMin), lonMax)
        var y = (a.lat.min + a.lat.max) / 2
        y = Swift.min(Swift.max(y, latMin), latMax)
        return (x, y)
    }

    static func align52(_ h: Bits) -> UInt64 { h.bits << UInt64(52 - Int(h.step) * 2) }

    /// `geohash_move_x` / `geohash_move_y`: steps the interleaved longitude (odd bits) or
    /// latitude (even bits) of a hash by one cell, wrapping within `step`.
    static func move(_ h: inout Bits, _ d: Int, longitude: Bool) {
        if d == 0 { return }
        let mine: UInt64 = longitude ? 0xaaaa_aaaa_aaaa_aaaa : 0x5555_5555_5555_5555
        let other: UInt64 = ~mine
        var v = h.bits & mine
        let keep = h.bits & other
        let zz = other >> UInt64(64 - Int(h.step) * 2)
        if d > 0 { v = v &+ (zz &+ 1) } else { v = v | zz; v = v &- (zz &+ 1) }
        v &= (mine >> UInt64(64 - Int(h.step) * 2))
        h.bits = v | keep
    }

    /// north, south, east, west, north-east, north-west, south-east, south-west.
    static func neighbors(_ h: Bits) -> [Bits] {
        func moved(_ dx: Int, _ dy: Int) -> Bits { var b = h; move(&b, dx, longitude: true); move(&b, dy, longitude: false); return b }
        return [moved(0, 1), moved(0, -1), moved(1, 0), moved(-1, 0), moved(1, 1), moved(-1, 1), moved(1, -1), moved(-1, -1)]
    }

    static func latDistance(_ lat1: Double, _ lat2: Double) -> Double { earthRadius * fabs(lat2 * dR - lat1 * dR) }

    static func distance(_ lon1d: Double, _ lat1d: Double, _ lon2d: Double, _ lat2d: Double) -> Double {
        let lon1r = lon1d * dR, lon2r = lon2d * dR
        let v = sin((lon2r - lon1r) / 2)
        if v == 0.0 { return latDistance(lat1d, lat2d) }
        let lat1r = lat1d * dR, lat2r = lat2d * dR
        let u = sin((lat2r - lat1r) / 2)
        let a = u * u + cos(lat1r) * cos(lat2r) * v * v
        return 2.0 * earthRadius * asin(sqrt(a))
    }

    enum Shape { case radius(Double), box(width: Double, height: Double) }

    struct Search {
        var lon = 0.0, lat = 0.0
        var shape = Shape.radius(0)
        var conversion = 1.0
    }

    static func estimateSteps(_ rangeMeters: Double, _ lat: Double) -> UInt8 {
        if rangeMeters == 0 { return 26 }
        var r = rangeMeters
        var step = 1
        while r < mercatorMax { r *= 2; step += 1 }
        step -= 2
        if lat > 66 || lat < -66 { step -= 1; if lat > 80 || lat < -80 { step -= 1 } }
        return UInt8(Swift.min(Swift.max(step, 1), 26))
    }

    /// `geohashCalculateAreasByShapeWGS84`: the centre box and its neighbours, useless ones zeroed.
    static func areas(_ s: Search) -> (center: Bits, neighbors: [Bits]) {
        let heightM: Double, widthM: Double
        switch s.shape {
        case .radius(let r): heightM = s.conversion * r; widthM = s.conversion * r
        case .box(let w, let h): heightM = s.conversion * (h / 2); widthM = s.conversion * (w / 2)
        }
        let latDelta = (heightM / earthRadius) / dR
        let lonDeltaTop = (widthM / earthRadius / cos((s.lat + latDelta) * dR)) / dR
        let lonDeltaBottom = (widthM / earthRadius / cos((s.lat - latDelta) * dR)) / dR
        let south = s.lat < 0
        let minLon = south ? s.lon - lonDeltaBottom : s.lon - lonDeltaTop
        let maxLon = south ? s.lon + lonDeltaBottom : s.lon + lonDeltaTop
        let minLat = s.lat - latDelta, maxLat = s.lat + latDelta
        var radiusM: Double
        switch s.shape {
        case .radius(let r): radiusM = r
        case .box(let w, let h): radiusM = sqrt((w / 2) * (w / 2) + (h / 2) * (h / 2))
        }
        radiusM *= s.conversion
        var steps = estimateSteps(radiusM, s.lat)
        var hash = encodeWGS84(s.lon, s.lat, step: steps) ?? Bits(bits: 0, step: steps)
        var nb = neighbors(hash)
        var area = decode(hash)
        let n = decode(nb[0]), so = decode(nb[1]), e = decode(nb[2]), w = decode(nb[3])
        var decrease = false
        if let n, n.lat.max < maxLat { decrease = true }
        if let so, so.lat.min > minLat { decrease = true }
        if let e, e.lon.max < maxLon { decrease = true }
        if let w, w.lon.min > minLon { decrease = true }
        if steps > 1 && decrease {
            steps -= 1
            hash = encodeWGS84(s.lon, s.lat, step: steps) ?? Bits(bits: 0, step: steps)
            nb = neighbors(hash)
            area = decode(hash)
        }
        if steps >= 2, let a = area {
            let zero = Bits(bits: 0, step: 0)
            // Indexes: 0 N, 1 S, 2 E, 3 W, 4 NE, 5 NW, 6 SE, 7 SW.
            if a.lat.min < minLat { nb[1] = zero; nb[7] = zero; nb[6] = zero }
            if a.lat.max > maxLat { nb[0] = zero; nb[4] = zero; nb[5] = zero }
            if a.lon.min < minLon { nb[3] = zero; nb[7] = zero; nb[5] = zero }
            if a.lon.max > maxLon { nb[2] = zero; nb[6] = zero; nb[4] = zero }
        }
        return (hash, nb)
    }

    struct Point { var lon: Double; var lat: Double; var dist: Double; var score: Double; var member: Bytes }

    static func within(_ s: Search, _ score: Double) -> (Double, Double, Double)? {
        guard let (x, y) = decodeScore(score) else { return nil }
        switch s.shape {
        case .radius(let r):
            let d = distance(s.lon, s.lat, x, y)
            return d > r * s.conversion ? nil : (x, y, d)
        case .box(let w, let h):
            if latDistance(s.lat, y) > h * s.conversion / 2 { return nil }
            if distance(x, s.lat, s.lon, s.lat) > w * s.conversion / 2 { return nil }
            return (x, y, distance(s.lon, s.lat, x, y))
        }
    }

    /// Every member within the search, box by box in Redis's order (centre, N, S, E, W, NE,
    /// NW, SE, SW), each box in score order; stops at `limit` (ANY) when non-zero.
    static func search(_ z: ZSetObject, _ s: Search, limit: Int) -> [Point] {
        let (center, nb) = areas(s)
        let boxes = [center] + nb
        var out = [Point]()
        var lastProcessed = 0
        for i in 0..<boxes.count {
            let b = boxes[i]
            if b.isZero { continue }
            if lastProcessed != 0 && b == boxes[lastProcessed] { continue }
            if !out.isEmpty && limit > 0 && out.count >= limit { break }
            let minScore = Double(align52(b))
            var next = b; next.bits &+= 1
            let maxScore = Double(align52(next))
            let start = z.countBefore(score: { $0 >= minScore })
            z.walk(from: start) { score, member in
                if !(score < maxScore) { return false }
                if let (x, y, d) = within(s, score) { out.append(Point(lon: x, lat: y, dist: d, score: score, member: member)) }
                return !(!out.isEmpty && limit > 0 && out.count >= limit)
            }
            lastProcessed = i
        }
        return out
    }

    /// `fixedpoint_d2string(d, 4)`: llrint to 4 decimals, "0.0000" for zero.
    static func distanceText(_ d: Double) -> Bytes {
        let v = llrint(d * 10000)
        let neg = v < 0
        let mag = v == Int.min ? UInt64(Int64.max) + 1 : UInt64(abs(v))
        var digits = Array(String(mag).utf8)
        while digits.count < 5 { digits.insert(UInt8(ascii: "0"), at: 0) }
        let intPart = digits[0..<(digits.count - 4)], frac = digits[(digits.count - 4)...]
        return (neg ? [UInt8(ascii: "-")] : []) + intPart + [UInt8(ascii: ".")] + frac
    }

    static func coordReply(_ d: Double) -> Reply { .double(StringCommands.formatLongDouble(Float80(d))) }
}

extension CommandContext {
    func double(_ i: Int, _ message: String = "ERR value is not a valid float") throws -> Double {
        guard let v = ZSetCommands.parseScore(args[i]) else { throw CommandError(message) }
        return v
    }

    /// `extractLongLatOrReply`.
    func lonLat(_ i: Int) throws -> (Double, Double) {
        let x = try double(i), y = try double(i + 1)
        if x < Geo.lonMin || x > Geo.lonMax || y < Geo.latMin || y > Geo.latMax {
            let fx = String(format6: x), fy = String(format6: y)
            throw CommandError("ERR invalid longitude,latitude pair \(fx),\(fy)")
        }
        return (x, y)
    }

    func geoUnit(_ i: Int) throws -> Double {
        switch argString(i) {
        case "m": return 1
        case "km": return 1000
        case "ft": return 0.3048
        case "mi": return 1609.34
        default: throw CommandError("ERR unsupported unit provided. please use M, KM, FT, MI")
        }
    }
}

extension String {
    /// printf's "%f".
    init(format6 d: Double) {
        var buf = [CChar](repeating: 0, count: 512)
        let n = withVaList([d]) { vsnprintf(&buf, 512, "%f", $0) }
        self = String(decoding: buf[0..<Int(Swift.min(n, 511))].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

enum GeoCommands {
    static func B(_ s: String) -> Bytes { Array(s.utf8) }

    struct Flags: OptionSet {
        let rawValue: Int
        static let coords = Flags(rawValue: 1), member = Flags(rawValue: 2), noStore = Flags(rawValue: 4)
        static let geosearch = Flags(rawValue: 8), geosearchStore = Flags(rawValue: 16)
    }

    static let all: [Command] = [
        cmd("geoadd", -5, [.write, .denyoom], 1, 1, 1) { c in
            var nx = false, xx = false
            var i = 2
            while i < c.args.count {
                let o = c.argString(i)
                if o == "nx" { nx = true } else if o == "xx" { xx = true } else if o != "ch" { break }
                i += 1
            }
            if (c.args.count - i) % 3 != 0 || (xx && nx) { throw CommandError.syntax }
            var argv = [B("zadd")] + c.args[1..<i]
            for j in stride(from: i, to: c.args.count, by: 3) {
                let (x, y) = try c.lonLat(j)
                guard let h = Geo.encodeWGS84(x, y, step: Geo.stepMax) else { throw CommandError.syntax }
                argv.append(Decimal.bytes(Int64(Geo.align52(h))))
                argv.append(c.arg(j + 2))
            }
            // Redis runs ZADD with the rewritten arguments (and propagates that ZADD).
            var z = CommandContext(engine: c.engine, args: argv, db: c.db, client: c.client)
            return try ZSetCommands.zadd(&z, incrOnly: false)
        },
        cmd("geopos", -2, [.readonly], 1, 1, 1) { c in
            let z = try c.getZSet(c.arg(1))
            return .array(c.args.dropFirst(2).map { m in
                guard let s = z?.score(m), let (x, y) = Geo.decodeScore(s) else { return .array(nil) }
                return .array([Geo.coordReply(x), Geo.coordReply(y)])
            })
        },
        cmd("geohash", -2, [.readonly], 1, 1, 1) { c in
            let z = try c.getZSet(c.arg(1))
            let alphabet = Array("0123456789bcdefghjkmnpqrstuvwxyz".utf8)
            return .array(c.args.dropFirst(2).map { m in
                guard let s = z?.score(m), let (x, y) = Geo.decodeScore(s) else { return .null }
                let h = Geo.encode(lon: Geo.Range(min: -180, max: 180), lat: Geo.Range(min: -90, max: 90), x, y, step: 26)?.bits ?? 0
                var out = Bytes()
                for i in 0..<11 {
                    let idx = i == 10 ? 0 : Int((h >> UInt64(52 - (i + 1) * 5)) & 0x1f)
                    out.append(alphabet[idx])
                }
                return .bulk(out)
            })
        },
        cmd("geodist", -4, [.readonly], 1, 1, 1) { c in
            var toMeter = 1.0
            if c.args.count == 5 { toMeter = try c.geoUnit(4) } else if c.args.count > 5 { throw CommandError.syntax }
            guard let z = try c.getZSet(c.arg(1)) else { return .null }
            guard let s1 = z.score(c.arg(2)), let s2 = z.score(c.arg(3)),
                  let (x1, y1) = Geo.decodeScore(s1), let (x2, y2) = Geo.decodeScore(s2) else { return .null }
            return .bulk(Geo.distanceText(Geo.distance(x1, y1, x2, y2) / toMeter))
        },
        cmd("georadius", -6, [.write, .denyoom], 1, 1, 1) { c in try radius(&c, src: 1, [.coords]) },
        cmd("georadius_ro", -6, [.readonly], 1, 1, 1) { c in try radius(&c, src: 1, [.coords, .noStore]) },
        cmd("georadiusbymember", -5, [.write, .denyoom], 1, 1, 1) { c in try radius(&c, src: 1, [.member]) },
        cmd("georadiusbymember_ro", -5, [.readonly], 1, 1, 1) { c in try radius(&c, src: 1, [.member, .noStore]) },
        cmd("geosearch", -7, [.readonly], 1, 1, 1) { c in try radius(&c, src: 1, [.geosearch]) },
        cmd("geosearchstore", -8, [.write, .denyoom], 1, 2, 1) { c in try radius(&c, src: 2, [.geosearch, .geosearchStore]) },
    ]

    /// `georadiusGeneric`.
    static func radius(_ c: inout CommandContext, src: Int, _ flags: Flags) throws -> Reply {
        var store: Bytes? = nil
        var storeDist = false
        let z = try c.getZSet(c.arg(src))
        var s = Geo.Search()
        var base: Int
        if flags.contains(.coords) {
            base = 6
            (s.lon, s.lat) = try c.lonLat(2)
            let r = try c.double(4, "ERR need numeric radius")
            if r < 0 { throw CommandError("ERR radius cannot be negative") }
            s.shape = .radius(r)
            s.conversion = try c.geoUnit(5)
        } else if flags.contains(.member) && z == nil {
            base = 5
        } else if flags.contains(.member) {
            base = 5
            guard let sc = z!.score(c.arg(2)), let xy = Geo.decodeScore(sc) else { throw CommandError("ERR could not decode requested zset member") }
            (s.lon, s.lat) = xy
            let r = try c.double(3, "ERR need numeric radius")
            if r < 0 { throw CommandError("ERR radius cannot be negative") }
            s.shape = .radius(r)
            s.conversion = try c.geoUnit(4)
        } else {
            base = 2
            if flags.contains(.geosearchStore) { base = 3; store = c.arg(1) }
        }
        var withDist = false, withHash = false, withCoord = false
        var fromMember = false, fromLoc = false, byRadius = false, byBox = false
        var sort = 0   // 0 none, 1 asc, 2 desc
        var any = false
        var count: Int64 = 0
        let remaining = c.args.count - base
        var i = 0
        while i < remaining {
            let a = c.argString(base + i)
            let gs = flags.contains(.geosearch)
            let canStore = !flags.contains(.noStore) && !gs
            if a == "withdist" { withDist = true }
            else if a == "withhash" { withHash = true }
            else if a == "withcoord" { withCoord = true }
            else if a == "any" { any = true }
            else if a == "asc" { sort = 1 }
            else if a == "desc" { sort = 2 }
            else if a == "count" && i + 1 < remaining {
                guard let n = Decimal.parseCanonical(c.arg(base + i + 1)) else { throw CommandError.notInteger }
                if n <= 0 { throw CommandError("ERR COUNT must be > 0") }
                count = n
                i += 1
            } else if a == "store" && i + 1 < remaining && canStore {
                store = c.arg(base + i + 1); storeDist = false; i += 1
            } else if a == "storedist" && i + 1 < remaining && canStore {
                store = c.arg(base + i + 1); storeDist = true; i += 1
            } else if a == "storedist" && gs && flags.contains(.geosearchStore) {
                storeDist = true
            } else if a == "frommember" && i + 1 < remaining && gs && !fromLoc {
                if let z {
                    guard let sc = z.score(c.arg(base + i + 1)), let xy = Geo.decodeScore(sc) else { throw CommandError("ERR could not decode requested zset member") }
                    (s.lon, s.lat) = xy
                }
                fromMember = true
                i += 1
            } else if a == "fromlonlat" && i + 2 < remaining && gs && !fromMember {
                (s.lon, s.lat) = try c.lonLat(base + i + 1)
                fromLoc = true
                i += 2
            } else if a == "byradius" && i + 2 < remaining && gs && !byBox {
                let r = try c.double(base + i + 1, "ERR need numeric radius")
                if r < 0 { throw CommandError("ERR radius cannot be negative") }
                s.conversion = try c.geoUnit(base + i + 2)
                s.shape = .radius(r)
                byRadius = true
                i += 2
            } else if a == "bybox" && i + 3 < remaining && gs && !byRadius {
                let w = try c.double(base + i + 1, "ERR need numeric width")
                let h = try c.double(base + i + 2, "ERR need numeric height")
                if h < 0 || w < 0 { throw CommandError("ERR height or width cannot be negative") }
                s.conversion = try c.geoUnit(base + i + 3)
                s.shape = .box(width: w, height: h)
                byBox = true
                i += 3
            } else {
                throw CommandError.syntax
            }
            i += 1
        }
        if store != nil && (withDist || withHash || withCoord) {
            throw CommandError("ERR \(flags.contains(.geosearchStore) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS") is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
        }
        let name = String(decoding: c.arg(0), as: UTF8.self)
        if flags.contains(.geosearch) && !(fromMember || fromLoc) {
            throw CommandError("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for \(name)")
        }
        if flags.contains(.geosearch) && !(byRadius || byBox) {
            throw CommandError("ERR exactly one of BYRADIUS and BYBOX can be specified for \(name)")
        }
        if any && count == 0 { throw CommandError("ERR the ANY argument requires COUNT argument") }
        guard let z else {
            if let store {
                if c.engine.delete(c.db, store) { c.propagateAsIs() }
                return .integer(0)
            }
            return .array([])
        }
        if count != 0 && sort == 0 && !any { sort = 1 }
        var points = Geo.search(z, s, limit: any ? Int(count) : 0)
        if points.isEmpty && store == nil { return .array([]) }
        let returned = count == 0 || points.count < Int(count) ? points.count : Int(count)
        if sort == 1 { points.sort { $0.dist < $1.dist } } else if sort == 2 { points.sort { $0.dist > $1.dist } }
        if let store {
            var ms = [(member: Bytes, score: Double)]()
            for p in points.prefix(returned) { ms.append((p.member, storeDist ? p.dist / s.conversion : p.score)) }
            if returned > 0 {
                c.engine.store(c.db, store, .zset(ZSetObject.from(ms, limits: c.engine.limits)))
                c.propagateAsIs()
            } else if c.engine.delete(c.db, store) {
                c.propagateAsIs()
            }
            return .integer(Int64(returned))
        }
        return .array(points.prefix(returned).map { p in
            let dist = p.dist / s.conversion
            var parts: [Reply] = [.bulk(p.member)]
            if withDist { parts.append(.bulk(Geo.distanceText(dist))) }
            if withHash { parts.append(.integer(Int64(bitPattern: Geo.cInt64(p.score)))) }
            if withCoord { parts.append(.array([Geo.coordReply(p.lon), Geo.coordReply(p.lat)])) }
            return parts.count == 1 ? parts[0] : .array(parts)
        })
    }
}

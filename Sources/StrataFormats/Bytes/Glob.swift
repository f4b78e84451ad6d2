/// Redis's glob matching (`stringmatchlen`), on bytes: `*`, `?`, `[abc]`, `[^a-z]`, `\x`.
public enum Glob {
    public static func matches(_ pattern: [UInt8], _ string: [UInt8], caseless: Bool = false) -> Bool {
        pattern.withUnsafeBufferPointer { p in
            string.withUnsafeBufferPointer { s in
                var budget = 1_000_000   // bounds pathological patterns ("*a*a*a*...b")
                return match(p, 0, s, 0, caseless, &budget)
            }
        }
    }

    private static func lower(_ c: UInt8) -> UInt8 { (c >= 65 && c <= 90) ? c + 32 : c }

    private static func match(_ p: UnsafeBufferPointer<UInt8>, _ pi0: Int, _ s: UnsafeBufferPointer<UInt8>, _ si0: Int,
                              _ nocase: Bool, _ budget: inout Int) -> Bool {
        var pi = pi0, si = si0
        budget -= 1
        if budget < 0 { return false }
        while pi < p.count {
            switch p[pi] {
            case UInt8(ascii: "*"):
                while pi + 1 < p.count && p[pi + 1] == UInt8(ascii: "*") { pi += 1 }
                if pi + 1 == p.count { return true }
                var k = si
                while k <= s.count {
                    if match(p, pi + 1, s, k, nocase, &budget) { return true }
                    if budget < 0 { return false }
                    k += 1
                }
                return false
            case UInt8(ascii: "?"):
                if si >= s.count { return false }
                si += 1
            case UInt8(ascii: "["):
                if si >= s.count { return false }
                pi += 1
                let not = pi < p.count && p[pi] == UInt8(ascii: "^")
                if not { pi += 1 }
                var matched = false
                while true {
                    if pi >= p.count { pi -= 1; break }
                    if p[pi] == UInt8(ascii: "\\") && pi + 2 < p.count {
                        pi += 1
                        if p[pi] == s[si] { matched = true }
                    } else if p[pi] == UInt8(ascii: "]") {
                        break
                    } else if pi + 2 < p.count && p[pi + 1] == UInt8(ascii: "-") {
                        var a = p[pi], b = p[pi + 2], c = s[si]
                        if a > b { swap(&a, &b) }
                        if nocase { a = lower(a); b = lower(b); c = lower(c) }
                        pi += 2
                        if c >= a && c <= b { matched = true }
                    } else {
                        if nocase ? lower(p[pi]) == lower(s[si]) : p[pi] == s[si] { matched = true }
                    }
                    pi += 1
                }
                if not { matched = !matched }
                if !matched { return false }
                si += 1
            case UInt8(ascii: "\\") where pi + 1 < p.count:
                pi += 1
                fallthrough
            default:
                if si >= s.count { return false }
                if nocase ? lower(p[pi]) != lower(s[si]) : p[pi] != s[si] { return false }
                si += 1
            }
            pi += 1
        }
        return si == s.count
    }
}

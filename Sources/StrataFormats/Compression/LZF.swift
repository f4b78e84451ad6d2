/// LZF, the compressor Redis uses for long strings in RDB files (`lzf_c.c`, `lzf_d.c`).
///
/// Format: a sequence of runs. A control byte below 32 starts a literal run of `ctrl + 1` bytes.
/// Otherwise it is a back reference: length `ctrl >> 5` (7 means "add the next byte"), plus 2;
/// offset `((ctrl & 0x1F) << 8) + next byte + 1` bytes back from the output position.
public enum LZF {
    public enum Failure: Error, Equatable, Sendable {
        case outputOverflow(Int)        // the data decodes to more than the declared length
        case backReferenceOutOfRange(Int)
        case truncatedInput(Int)
        case lengthMismatch(expected: Int, got: Int)
    }

    /// Decompresses `input` into exactly `outputLength` bytes; anything else is an error.
    /// Never writes past the output and never reads past the input, whatever the input says.
    public static func decompress(_ input: UnsafeRawBufferPointer, outputLength: Int) throws(Failure) -> [UInt8] {
        if outputLength == 0 {
            if input.count == 0 { return [] }
            throw .outputOverflow(0)
        }
        var failure: Failure?
        let out = [UInt8](unsafeUninitializedCapacity: outputLength) { buf, initialized in
            initialized = 0
            failure = decompress(input, into: UnsafeMutableRawBufferPointer(buf), produced: &initialized)
            if failure == nil && initialized != outputLength {
                failure = .lengthMismatch(expected: outputLength, got: initialized)
            }
            if failure != nil { initialized = 0 }
        }
        if let failure { throw failure }
        return out
    }

    static func decompress(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer,
                           produced: inout Int) -> Failure? {
        guard let ip = input.baseAddress, let op = out.baseAddress else {
            return input.count == 0 ? nil : .outputOverflow(0)
        }
        let inEnd = input.count
        let outEnd = out.count
        var i = 0
        var o = 0
        while i < inEnd {
            let ctrl = Int(ip.load(fromByteOffset: i, as: UInt8.self))
            i += 1
            if ctrl < 32 {
                let run = ctrl + 1
                if i + run > inEnd { return .truncatedInput(i) }
                if o + run > outEnd { return .outputOverflow(i) }
                // Most runs are short: whole words (the last may spill past the run into bytes
                // written next) when both buffers have room, else byte by byte; no memmove call.
                let words = (run + 7) & ~7
                if i + words <= inEnd && o + words <= outEnd {
                    var k = 0
                    repeat {
                        (op + o + k).storeBytes(of: (ip + i + k).loadUnaligned(as: UInt64.self), as: UInt64.self)
                        k += 8
                    } while k < run
                } else {
                    for k in 0..<run { op.storeBytes(of: ip.load(fromByteOffset: i + k, as: UInt8.self), toByteOffset: o + k, as: UInt8.self) }
                }
                i += run
                o += run
            } else {
                var len = ctrl >> 5
                if len == 7 {
                    if i >= inEnd { return .truncatedInput(i) }
                    len += Int(ip.load(fromByteOffset: i, as: UInt8.self))
                    i += 1
                }
                if i >= inEnd { return .truncatedInput(i) }
                let back = ((ctrl & 0x1F) << 8) + Int(ip.load(fromByteOffset: i, as: UInt8.self)) + 1
                i += 1
                len += 2
                if back > o { return .backReferenceOutOfRange(i) }
                if o + len > outEnd { return .outputOverflow(i) }
                var src = o - back
                // A source at least a word behind: whole words (each read ends before the write
                // it feeds). Closer ones repeat a short pattern ("aaaa..."): forward, byte-wise.
                if back >= 8 && o + ((len + 7) & ~7) <= outEnd {
                    var k = 0
                    repeat {
                        (op + o + k).storeBytes(of: (op + src + k).loadUnaligned(as: UInt64.self), as: UInt64.self)
                        k += 8
                    } while k < len
                    o += len
                } else {
                    for _ in 0..<len {
                        op.storeBytes(of: op.load(fromByteOffset: src, as: UInt8.self), toByteOffset: o, as: UInt8.self)
                        o += 1
                        src += 1
                    }
                }
            }
        }
        produced = o
        return nil
    }

    /// Compresses `input`. Returns nil when the result would not be smaller than `maxOutput`
    /// bytes (Redis only stores LZF when it saves at least 4 bytes).
    public static func compress(_ input: UnsafeRawBufferPointer, maxOutput: Int) -> [UInt8]? {
        let n = input.count
        guard n > 0, maxOutput > 0, input.baseAddress != nil else { return nil }
        // The hash table is sized to the input (a 64 KB table cleared for every 100-byte value
        // was most of the cost of writing an RDB); on the stack, not the heap.
        var hlog = 8
        while hlog < 14 && (1 << hlog) < n { hlog += 1 }
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 1 << hlog) { htab in
            htab.initialize(repeating: -1)
            return compress(input, maxOutput: maxOutput, htab: htab, hlog: hlog)
        }
    }

    private static func compress(_ input: UnsafeRawBufferPointer, maxOutput: Int, htab: UnsafeMutableBufferPointer<Int32>, hlog: Int) -> [UInt8]? {
        let n = input.count
        let ip = input.baseAddress!
        var out = [UInt8]()
        out.reserveCapacity(maxOutput + 1)
        var litStart = 0      // start of the pending literal run
        var i = 0
        @inline(__always) func byte(_ k: Int) -> UInt32 { UInt32(ip.load(fromByteOffset: k, as: UInt8.self)) }

        func flushLiterals(upTo end: Int) {
            var s = litStart
            while s < end {
                let run = min(32, end - s)
                out.append(UInt8(run - 1))
                for k in s..<(s + run) { out.append(UInt8(byte(k))) }
                s += run
            }
            litStart = end
        }

        while i + 2 < n {
            let v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2)
            let h = Int(((v &* 2654435761) >> UInt32(32 - hlog - 8)) & UInt32((1 << hlog) - 1))
            let ref = Int(htab[h])
            htab[h] = Int32(i)
            if ref >= 0, i - ref - 1 < 8192, ref < i,
               byte(ref) == byte(i), byte(ref + 1) == byte(i + 1), byte(ref + 2) == byte(i + 2) {
                var len = 3
                let maxLen = min(264, n - i)
                while len < maxLen && byte(ref + len) == byte(i + len) { len += 1 }
                flushLiterals(upTo: i)
                let off = i - ref - 1
                let l = len - 2
                if l < 7 {
                    out.append(UInt8((l << 5) | (off >> 8)))
                } else {
                    out.append(UInt8((7 << 5) | (off >> 8)))
                    out.append(UInt8(l - 7))
                }
                out.append(UInt8(off & 0xFF))
                i += len
                litStart = i
                if out.count >= maxOutput { return nil }
            } else {
                i += 1
            }
        }
        flushLiterals(upTo: n)
        return out.count < maxOutput ? out : nil
    }
}

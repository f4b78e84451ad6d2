#if canImport(Glibc)
import Glibc
#endif

/// The epoll system calls. Swift's Glibc module does not import <sys/epoll.h>, so they are
/// looked up in libc and called through C function pointers; `struct epoll_event` is packed on
/// x86-64 (12 bytes: events, then the 64-bit data) and handled as raw bytes.
enum Epoll {
    typealias Create1 = @convention(c) (Int32) -> Int32
    typealias Ctl = @convention(c) (Int32, Int32, Int32, UnsafeMutableRawPointer?) -> Int32
    typealias Wait = @convention(c) (Int32, UnsafeMutableRawPointer?, Int32, Int32) -> Int32
    static let IN: UInt32 = 0x001, OUT: UInt32 = 0x004, ERR: UInt32 = 0x008, HUP: UInt32 = 0x010
    static let ctlAdd: Int32 = 1, ctlDel: Int32 = 2, ctlMod: Int32 = 3
    static let cloexec: Int32 = 0o2000000
    #if arch(x86_64)
    static let eventSize = 12
    #else
    static let eventSize = 16
    #endif
    static let dataOffset = eventSize - 8

    static func symbol<T>(_ name: String, as: T.Type) -> T {
        guard let p = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { fatalError("libc has no \(name)") }
        return unsafeBitCast(p, to: T.self)
    }
    static let create1 = symbol("epoll_create1", as: Create1.self)
    static let ctl = symbol("epoll_ctl", as: Ctl.self)
    static let wait = symbol("epoll_wait", as: Wait.self)
}

/// A readiness loop on epoll (level-triggered), single-threaded as Redis's ae: file events
/// for sockets, and a periodic tick for the server's cron.
final class EventLoop {
    struct Interest: OptionSet {
        let rawValue: UInt32
        static let read = Interest(rawValue: Epoll.IN)
        static let write = Interest(rawValue: Epoll.OUT)
    }

    private let epfd: Int32
    private var handlers: [Int32: (UInt32) -> Void] = [:]
    private var interests: [Int32: Interest] = [:]
    var stopRequested = false

    init() throws {
        epfd = Epoll.create1(Epoll.cloexec)
        if epfd < 0 { throw ServerError("epoll_create1: \(String(cString: strerror(errno)))") }
    }

    deinit { close(epfd) }

    private func control(_ op: Int32, _ fd: Int32, _ events: UInt32) {
        withUnsafeTemporaryAllocation(byteCount: 16, alignment: 8) { b in
            b.storeBytes(of: events, toByteOffset: 0, as: UInt32.self)
            b.storeBytes(of: UInt64(UInt32(bitPattern: fd)), toByteOffset: Epoll.dataOffset, as: UInt64.self)
            _ = Epoll.ctl(epfd, op, fd, b.baseAddress)
        }
    }

    func add(_ fd: Int32, _ interest: Interest, _ handler: @escaping (UInt32) -> Void) {
        control(Epoll.ctlAdd, fd, interest.rawValue)
        handlers[fd] = handler
        interests[fd] = interest
    }

    func modify(_ fd: Int32, _ interest: Interest) {
        guard interests[fd] != nil, interests[fd] != interest else { return }
        control(Epoll.ctlMod, fd, interest.rawValue)
        interests[fd] = interest
    }

    func remove(_ fd: Int32) {
        control(Epoll.ctlDel, fd, 0)
        handlers[fd] = nil
        interests[fd] = nil
    }

    /// One round of ready events without waiting (a busy script lets the server answer others
    /// meanwhile, as Redis's processEventsWhileBlocked).
    func pollOnce() {
        let capacity = 64
        let events = UnsafeMutableRawPointer.allocate(byteCount: capacity * Epoll.eventSize, alignment: 8)
        defer { events.deallocate() }
        let n = Epoll.wait(epfd, events, Int32(capacity), 0)
        for i in 0..<max(0, Int(n)) {
            let e = events + i * Epoll.eventSize
            let ev = e.loadUnaligned(as: UInt32.self)
            let fd = Int32(truncatingIfNeeded: (e + Epoll.dataOffset).loadUnaligned(as: UInt64.self))
            if let h = handlers[fd] { h(ev) }
        }
    }

    /// Runs until `stopRequested`: events, `tick` about every `periodMs`, and `beforeSleep`
    /// before each wait (where the replies of the iteration are written, as Redis's beforeSleep
    /// does: one burst of writes wakes a client process once, not once per reply).
    func run(periodMs: Int, beforeSleep: () -> Void, tick: () -> Void) {
        let capacity = 512
        let events = UnsafeMutableRawPointer.allocate(byteCount: capacity * Epoll.eventSize, alignment: 8)
        defer { events.deallocate() }
        var nextTick = EventLoop.nowMs() + Int64(periodMs)
        while !stopRequested {
            beforeSleep()
            let wait = max(0, nextTick - EventLoop.nowMs())
            let n = Epoll.wait(epfd, events, Int32(capacity), Int32(wait))
            if n > 0 {
                for i in 0..<Int(n) {
                    let e = events + i * Epoll.eventSize
                    let ev = e.loadUnaligned(as: UInt32.self)
                    let fd = Int32(truncatingIfNeeded: (e + Epoll.dataOffset).loadUnaligned(as: UInt64.self))
                    if let h = handlers[fd] { h(ev) }
                }
            }
            if EventLoop.nowMs() >= nextTick {
                tick()
                nextTick = EventLoop.nowMs() + Int64(periodMs)
            }
        }
    }

    static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

public struct ServerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A bounded queue between one producer thread and one consumer thread, for plain values
/// (pointers and counts: nothing whose reference count two threads could touch at once).
/// `put` waits while `limit` elements are queued; `take` waits for one, and returns nil once
/// the producer has called `finish` and the queue is empty. `cancel` (consumer side) makes
/// every later `put` return false at once, so a producer never waits on a consumer that left.
public final class HandOff<Element>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var queue: [Element] = []
    private var head = 0
    private let limit: Int
    private var finished = false
    private var cancelled = false

    public init(limit: Int) {
        self.limit = max(limit, 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    /// Queues `element`; false (nothing queued) when the consumer has cancelled.
    public func put(_ element: Element) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while queue.count - head >= limit && !cancelled { pthread_cond_wait(changed, mutex) }
        if cancelled { return false }
        if head > 0 && head == queue.count { queue.removeAll(keepingCapacity: true); head = 0 }
        queue.append(element)
        pthread_cond_broadcast(changed)
        return true
    }

    /// How many elements wait to be taken: near `limit`, the consumer is the slower side.
    public var queued: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return queue.count - head
    }

    /// The producer's last call: no more elements follow.
    public func finish() {
        pthread_mutex_lock(mutex)
        finished = true
        pthread_cond_broadcast(changed)
        pthread_mutex_unlock(mutex)
    }

    /// The next element, waiting for it; nil once finished and drained.
    public func take() -> Element? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while head == queue.count && !finished { pthread_cond_wait(changed, mutex) }
        if head == queue.count { return nil }
        let e = queue[head]
        head += 1
        pthread_cond_broadcast(changed)
        return e
    }

    /// The consumer stops taking: the producer's next `put` returns false. Returns what was
    /// queued and not taken, for the consumer to dispose of.
    public func cancel() -> [Element] {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        cancelled = true
        let rest = Array(queue[head...])
        queue.removeAll()
        head = 0
        pthread_cond_broadcast(changed)
        return rest
    }
}

/// Runs `body` on a thread of its own while `around` runs on the caller's, and returns once
/// both are done (the thread joined: everything it did happens before this returns). `body`
/// does not escape, so its captures are not reference-counted by the thread that starts it.
/// nil, with neither run, when no thread can be started (the caller does the work itself).
public func withWorkerThread<R>(_ body: () -> Void, around: () throws -> R) rethrows -> R? {
    #if canImport(Glibc)
    return try withoutActuallyEscaping(body) { escapable -> R? in
        let box = Unmanaged.passRetained(WorkerBody(escapable)).toOpaque()
        var thread = pthread_t()
        guard pthread_create(&thread, nil, { raw in
            // Released on the worker thread, before the join below returns.
            Unmanaged<WorkerBody>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box) == 0 else {
            Unmanaged<WorkerBody>.fromOpaque(box).release()
            return nil
        }
        defer { pthread_join(thread, nil) }
        return try around()
    }
    #else
    return nil
    #endif
}

private final class WorkerBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

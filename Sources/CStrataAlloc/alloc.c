// Counting allocator shim: every malloc/calloc/realloc/free (and the aligned variants) of the
// process goes through glibc's own allocator (__libc_*), and the usable size of each block is
// added to or taken from one counter. This is how Redis knows `used_memory` (zmalloc); glibc's
// mallinfo2() gives the same figure but walks every free chunk (hundreds of ms on a big heap),
// and RSS never shrinks after a free, so neither can drive eviction.
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <unistd.h>
#include "strata_alloc.h"

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

// One counter per thread, so that counting costs a plain add (no locked instruction on every
// malloc and free of the server's single command thread). A thread's counter may go negative
// (it frees what another allocated); the sum over all threads is the process's figure.
// Counters are registered on a thread's first allocation and never removed (the few threads a
// process makes each leave 16 bytes behind; their counts stay part of the sum).
struct counter {
    _Atomic long long bytes;   // written by its thread only; read by strata_used_memory
    struct counter *next;
};
static struct counter *_Atomic counters = NULL;
static __thread struct counter *mine = NULL;

static struct counter *register_thread(void) {
    struct counter *c = __libc_malloc(sizeof *c);   // not counted itself
    if (!c) return NULL;
    atomic_init(&c->bytes, 0);
    c->next = atomic_load_explicit(&counters, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&counters, &c->next, c, memory_order_release, memory_order_relaxed)) {}
    mine = c;
    return c;
}

static inline void count(long long n) {
    struct counter *c = mine;
    if (__builtin_expect(c == NULL, 0)) {
        c = register_thread();
        if (!c) return;
    }
    // Only this thread writes it: a relaxed load and store (plain moves), not a locked add.
    atomic_store_explicit(&c->bytes, atomic_load_explicit(&c->bytes, memory_order_relaxed) + n, memory_order_relaxed);
}

static inline void *counted(void *p) {
    if (p) count((long long)malloc_usable_size(p));
    return p;
}

void *malloc(size_t n) { return counted(__libc_malloc(n)); }

void *calloc(size_t a, size_t b) { return counted(__libc_calloc(a, b)); }

void free(void *p) {
    if (!p) return;
    count(-(long long)malloc_usable_size(p));
    __libc_free(p);
}

void *realloc(void *p, size_t n) {
    size_t old = p ? malloc_usable_size(p) : 0;
    void *q = __libc_realloc(p, n);
    if (q) {
        count((long long)malloc_usable_size(q) - (long long)old);
    } else if (p && n == 0) {
        count(-(long long)old);   // freed
    }
    return q;
}

void *memalign(size_t alignment, size_t n) { return counted(__libc_memalign(alignment, n)); }

void *aligned_alloc(size_t alignment, size_t n) { return counted(__libc_memalign(alignment, n)); }

int posix_memalign(void **out, size_t alignment, size_t n) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = counted(__libc_memalign(alignment, n));
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t n) { return counted(__libc_memalign((size_t)sysconf(_SC_PAGESIZE), n)); }

void *pvalloc(size_t n) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return counted(__libc_memalign(page, (n + page - 1) & ~(page - 1)));
}

size_t strata_used_memory(void) {
    long long v = 0;
    for (struct counter *c = atomic_load_explicit(&counters, memory_order_acquire); c; c = c->next)
        v += atomic_load_explicit(&c->bytes, memory_order_relaxed);
    return v < 0 ? 0 : (size_t)v;
}

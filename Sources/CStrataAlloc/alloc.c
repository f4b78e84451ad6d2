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

static _Atomic long long used_bytes = 0;

static inline void *counted(void *p) {
    if (p) atomic_fetch_add_explicit(&used_bytes, (long long)malloc_usable_size(p), memory_order_relaxed);
    return p;
}

void *malloc(size_t n) { return counted(__libc_malloc(n)); }

void *calloc(size_t a, size_t b) { return counted(__libc_calloc(a, b)); }

void free(void *p) {
    if (!p) return;
    atomic_fetch_sub_explicit(&used_bytes, (long long)malloc_usable_size(p), memory_order_relaxed);
    __libc_free(p);
}

void *realloc(void *p, size_t n) {
    size_t old = p ? malloc_usable_size(p) : 0;
    void *q = __libc_realloc(p, n);
    if (q) {
        atomic_fetch_add_explicit(&used_bytes, (long long)malloc_usable_size(q) - (long long)old, memory_order_relaxed);
    } else if (p && n == 0) {
        atomic_fetch_sub_explicit(&used_bytes, (long long)old, memory_order_relaxed);   // freed
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
    long long v = atomic_load_explicit(&used_bytes, memory_order_relaxed);
    return v < 0 ? 0 : (size_t)v;
}

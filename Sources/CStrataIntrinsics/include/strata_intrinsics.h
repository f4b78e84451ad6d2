#ifndef STRATA_INTRINSICS_H
#define STRATA_INTRINSICS_H

/// Asks the CPU to start loading the cache line at `p` (no fault if `p` is not readable):
/// hash table walks prefetch the entry they will touch on the next operation.
static inline void strata_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

/// The same, for a line about to be written.
static inline void strata_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 3); }

#endif

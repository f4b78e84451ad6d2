#ifndef STRATA_ALLOC_H
#define STRATA_ALLOC_H
#include <stddef.h>

/// Bytes currently allocated through malloc and friends in this process (usable sizes, as
/// Redis's zmalloc counts them): what `used_memory` and maxmemory are measured against.
size_t strata_used_memory(void);

#endif

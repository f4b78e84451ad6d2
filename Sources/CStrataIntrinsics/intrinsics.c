// The functions of this target are static inline in its header (compiled into each Swift
// caller); this file only gives SwiftPM a source to build.
#include "strata_intrinsics.h"

#ifndef HALFSTEP_CHEAPCOUNTER_H
#define HALFSTEP_CHEAPCOUNTER_H

/// Counts heap allocations made by the calling thread between begin and end.
///
/// Linking this target interposes malloc, calloc, realloc, posix_memalign, aligned_alloc and
/// memalign for the whole process (forwarding to glibc's own entry points); only the thread that
/// called hs_heap_counting_begin() is counted, so a test runner's other threads do not disturb.
void hs_heap_counting_begin(void);

/// Stops counting on this thread and returns the allocations counted since begin.
long hs_heap_counting_end(void);

#endif

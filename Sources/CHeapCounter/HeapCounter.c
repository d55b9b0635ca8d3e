// Heap-allocation counter: interposes the allocator entry points and forwards to glibc.
//
// glibc exports its implementation under __libc_* names, so forwarding needs no dlsym (which
// itself allocates). The counters are thread-local and zero-initialised, which is safe before
// any thread setup runs.
#include <stddef.h>
#include <errno.h>
#include "CHeapCounter.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

static _Thread_local int counting;
static _Thread_local long allocations;

static inline void note(void) {
    if (counting) allocations++;
}

void hs_heap_counting_begin(void) {
    allocations = 0;
    counting = 1;
}

long hs_heap_counting_end(void) {
    counting = 0;
    return allocations;
}

void *malloc(size_t size) {
    note();
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size) {
    note();
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size) {
    note();
    return __libc_realloc(p, size);
}

void free(void *p) {
    __libc_free(p);
}

void *memalign(size_t alignment, size_t size) {
    note();
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    note();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    note();
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (p == NULL && size != 0) return ENOMEM;
    *out = p;
    return 0;
}

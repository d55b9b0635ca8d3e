// The few routines HalfStep's library calls beyond memcpy/memset/memmove, shipped inside
// libhalfstep.a. Every one is weak: a C library that defines them (newlib defines the __aeabi_*
// helpers, libm sqrtf) takes precedence without a duplicate-symbol error, and a firmware without
// a C library still links.
#include <stddef.h>

// Declared here rather than through <string.h>: the library is built without a C library's headers.
void *memcpy(void *, const void *, size_t);
void *memmove(void *, const void *, size_t);
void *memset(void *, int, size_t);

// The ARM run-time ABI's memory helpers (AEABI section 4.3.4), which LLVM emits for Swift's
// copies and fills, over the three C library routines the package requires.
__attribute__((weak)) void __aeabi_memcpy(void *d, const void *s, size_t n) { memcpy(d, s, n); }
__attribute__((weak)) void __aeabi_memcpy4(void *d, const void *s, size_t n) { memcpy(d, s, n); }
__attribute__((weak)) void __aeabi_memcpy8(void *d, const void *s, size_t n) { memcpy(d, s, n); }
__attribute__((weak)) void __aeabi_memmove(void *d, const void *s, size_t n) { memmove(d, s, n); }
__attribute__((weak)) void __aeabi_memmove4(void *d, const void *s, size_t n) { memmove(d, s, n); }
__attribute__((weak)) void __aeabi_memmove8(void *d, const void *s, size_t n) { memmove(d, s, n); }
__attribute__((weak)) void __aeabi_memset(void *d, size_t n, int c) { memset(d, c, n); }
__attribute__((weak)) void __aeabi_memset4(void *d, size_t n, int c) { memset(d, c, n); }
__attribute__((weak)) void __aeabi_memset8(void *d, size_t n, int c) { memset(d, c, n); }
__attribute__((weak)) void __aeabi_memclr(void *d, size_t n) { memset(d, 0, n); }
__attribute__((weak)) void __aeabi_memclr4(void *d, size_t n) { memset(d, 0, n); }
__attribute__((weak)) void __aeabi_memclr8(void *d, size_t n) { memset(d, 0, n); }

// Swift's squareRoot() (Adam) lowers to a call to sqrtf on this target. The FPU's vsqrt is IEEE
// correctly rounded, as the host's square root is, so host/device parity holds whichever
// definition links.
__attribute__((weak)) float sqrtf(float x) {
    float r;
    __asm__("vsqrt.f32 %0, %1" : "=t"(r) : "t"(x));
    return r;
}

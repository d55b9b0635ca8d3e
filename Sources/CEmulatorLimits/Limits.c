// Guarded mappings, the fault handler and the guarded training thread. See CEmulatorLimits.h.
#define _GNU_SOURCE
#include "CEmulatorLimits.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }
static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

int hs_region_map(hs_region *r, size_t bytes) {
    size_t page = page_size();
    size_t body = round_up(bytes ? bytes : 1, page);
    size_t total = body + 2 * page;
    uint8_t *m = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return errno;
    if (mprotect(m + page, body, PROT_READ | PROT_WRITE) != 0) { munmap(m, total); return errno; }
    // The usable bytes end exactly where the upper guard page begins.
    r->base = m + page + body - bytes;
    r->bytes = bytes;
    r->mapping = m;
    r->mapping_bytes = total;
    return 0;
}

int hs_region_protect_read_only(hs_region *r) {
    size_t page = page_size();
    uint8_t *first = (uint8_t *)r->mapping + page;
    size_t body = r->mapping_bytes - 2 * page;
    return mprotect(first, body, PROT_READ) == 0 ? 0 : errno;
}

void hs_region_unmap(hs_region *r) {
    if (r->mapping) munmap(r->mapping, r->mapping_bytes);
    r->mapping = NULL;
}

// MARK: - Fault reports (async-signal-safe: no malloc, no stdio)

static hs_emulation *active;

static size_t put_str(char *buf, size_t at, size_t cap, const char *s) {
    while (*s && at + 1 < cap) buf[at++] = *s++;
    return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, long long v) {
    char tmp[24];
    int n = 0;
    unsigned long long u = v < 0 ? (unsigned long long)(-v) : (unsigned long long)v;
    do { tmp[n++] = (char)('0' + u % 10); u /= 10; } while (u && n < 23);
    if (v < 0 && at + 1 < cap) buf[at++] = '-';
    while (n > 0 && at + 1 < cap) buf[at++] = tmp[--n];
    return at;
}

static void report(const char *kind, const char *what, long long offset, const char *unit) {
    char buf[512];
    size_t at = 0, cap = sizeof buf;
    int op = active ? active->current_op : -1;
    if (active && active->json) {
        at = put_str(buf, at, cap, "{\"verdict\": \"fail\", \"violation\": \"");
        at = put_str(buf, at, cap, kind);
        at = put_str(buf, at, cap, "\", \"offset\": ");
        at = put_num(buf, at, cap, offset);
        at = put_str(buf, at, cap, ", \"op\": ");
        at = put_num(buf, at, cap, op);
        at = put_str(buf, at, cap, ", \"message\": \"");
        at = put_str(buf, at, cap, what);
        at = put_str(buf, at, cap, "\"}\n");
        (void)!write(1, buf, at);
    } else {
        at = put_str(buf, at, cap, "halfstep validate: FAIL: ");
        if (active && active->plan_path) { at = put_str(buf, at, cap, active->plan_path); at = put_str(buf, at, cap, ": "); }
        at = put_str(buf, at, cap, what);
        at = put_str(buf, at, cap, " at ");
        at = put_str(buf, at, cap, unit);
        at = put_str(buf, at, cap, " ");
        at = put_num(buf, at, cap, offset);
        if (op >= 0) { at = put_str(buf, at, cap, " (step program op "); at = put_num(buf, at, cap, op); at = put_str(buf, at, cap, ")"); }
        else at = put_str(buf, at, cap, " (outside the step program)");
        at = put_str(buf, at, cap, "\n");
        (void)!write(2, buf, at);
    }
    _exit(3);
}

static void on_fault(int sig, siginfo_t *info, void *uc) {
    (void)uc;
    uintptr_t a = (uintptr_t)info->si_addr;
    hs_emulation *e = active;
    if (e) {
        if (a >= e->arena_base + e->arena_bytes && a < e->arena_base + e->arena_bytes + page_size() * 2)
            report("arena-overflow", "arena overflow", (long long)(a - e->arena_base), "offset");
        if (a < e->arena_base && a + page_size() * 2 >= e->arena_base)
            report("arena-underflow", "arena underflow", (long long)a - (long long)e->arena_base, "offset");
        if (a >= e->flash_base && a < e->flash_base + e->flash_bytes)
            report("flash-write", "write to flash", (long long)(a - e->flash_base), "plan byte");
        if (e->stack_limit && a < e->stack_limit && a + page_size() * 4 >= e->stack_limit)
            report("stack-overflow", "stack overflow", (long long)(e->stack_limit - a), "bytes past the stack limit:");
    }
    report(sig == SIGBUS ? "bus-error" : "segfault", sig == SIGBUS ? "bus error" : "invalid memory access", (long long)a, "address");
}

int hs_install_fault_handler(hs_emulation *emulation) {
    active = emulation;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) != 0) return errno;
    if (sigaction(SIGBUS, &sa, NULL) != 0) return errno;
    return 0;
}

// MARK: - The guarded training thread

typedef struct {
    size_t stack_bytes;
    void (*body)(void *);
    void *context;
    hs_stack_report *report;
} thread_args;

#define PAINT 0xA5

static __attribute__((noinline)) void run_painted(thread_args *t) {
    size_t page = page_size();
    volatile uint8_t marker = 0;
    uintptr_t sp = (uintptr_t)&marker;
    // The usable stack is the stack_bytes below this frame; the page below that is the guard.
    uintptr_t limit = (sp - t->stack_bytes) & ~(uintptr_t)(page - 1);
    if (limit + t->stack_bytes < sp - t->stack_bytes) limit += page;
    uintptr_t guard = limit - page;
    if (mprotect((void *)guard, page, PROT_NONE) != 0) { t->report->error = errno; return; }
    if (active) active->stack_limit = limit;
    // Paint from the limit up to just below this frame.
    for (volatile uint8_t *p = (uint8_t *)limit; (uintptr_t)p < sp - 256; p++) *p = PAINT;
    t->body(t->context);
    uintptr_t deepest = sp;
    for (uint8_t *p = (uint8_t *)limit; (uintptr_t)p < sp - 256; p++) {
        if (*p != PAINT) { deepest = (uintptr_t)p; break; }
    }
    t->report->high_water_bytes = sp - deepest;
    mprotect((void *)guard, page, PROT_READ | PROT_WRITE);
    if (active) active->stack_limit = 0;
}

static void *thread_main(void *p) {
    thread_args *t = p;
    static __thread uint8_t altstack[64 * 1024];
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = altstack;
    ss.ss_size = sizeof altstack;
    sigaltstack(&ss, NULL);
    run_painted(t);
    return NULL;
}

void hs_run_on_guarded_stack(size_t stack_bytes, void (*body)(void *), void *context, hs_stack_report *report) {
    memset(report, 0, sizeof *report);
    report->stack_bytes = stack_bytes;
    size_t page = page_size();
    // Room above the emulated stack for glibc's thread control block and static TLS, which it
    // places at the top of a caller-provided stack, and for the thread's own start-up frames.
    size_t slack = 256 * 1024;
    size_t total = round_up(stack_bytes, page) + 2 * page + slack;
    void *stack = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) { report->error = errno; return; }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, stack, total);
    thread_args args = { stack_bytes, body, context, report };
    pthread_t thread;
    int rc = pthread_create(&thread, &attr, thread_main, &args);
    pthread_attr_destroy(&attr);
    if (rc != 0) { report->error = rc; munmap(stack, total); return; }
    pthread_join(thread, NULL);
    munmap(stack, total);
}

// MARK: - Self-test violations

static __attribute__((noinline)) int recurse(volatile int depth) {
    volatile uint8_t frame[1024];
    frame[0] = (uint8_t)depth;
    return depth > 1000000 ? frame[0] : recurse(depth + 1) + frame[0];
}

void hs_inject_violation(hs_emulation *e, int kind) {
    switch (kind) {
    case 1: ((volatile uint8_t *)e->arena_base)[e->arena_bytes] = 1; break;
    case 2: ((volatile uint8_t *)e->flash_base)[e->flash_bytes / 2] = 1; break;
    case 3: (void)recurse(0); break;
    default: break;
    }
}

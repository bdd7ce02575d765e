/* Support library shared by vmrun's bare-metal test kernels (no libc). */
#ifndef GUEST_H
#define GUEST_H
#include <stdint.h>
#include <stddef.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

/* Output: COM1 in a guest, stdout in the native build of the benchmarks. */
void print_char(char c);
void print_str(const char *s);
void print_hex(u64 v);   /* 0x-prefixed, no leading zeros */
void print_dec(u64 v);

#ifndef NATIVE
/* isa-debug-exit protocol (docs/guest-tests.md): v=0x10 pass → status 33, v=0x11 fail → 35. */
#define EXIT_PASS 0x10
#define EXIT_FAIL 0x11
void guest_exit(int failed) __attribute__((noreturn));

struct mb_info {
  u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
  u32 syms[4];
  u32 mmap_length, mmap_addr;
  u32 drives_length, drives_addr, config_table, boot_loader_name;
};

/* Looks up "key=value" after the first word (the kernel's name) of the multiboot command line. */
const char *arg_str(const struct mb_info *mbi, const char *key, size_t *len);
u64 arg_u64(const struct mb_info *mbi, const char *key, u64 def);

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#endif

/* The benchmark kernels implement these; a shared main (guest or native) calls them. */
extern const u64 bench_default_scale;
void bench(u64 scale);

#endif

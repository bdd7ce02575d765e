#include "guest.h"

#define COM1 0x3f8

void print_char(char c) {
  while (!(inb(COM1 + 5) & 0x20)) {} /* LSR.THRE */
  outb(COM1, (u8)c);
}

void print_str(const char *s) { while (*s) print_char(*s++); }

void print_hex(u64 v) {
  char buf[19];
  int i = 18;
  buf[i] = 0;
  do { buf[--i] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
  buf[--i] = 'x';
  buf[--i] = '0';
  print_str(buf + i);
}

void print_dec(u64 v) {
  char buf[21];
  int i = 20;
  buf[i] = 0;
  do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
  print_str(buf + i);
}

void guest_exit(int failed) {
  outb(0xf4, failed ? EXIT_FAIL : EXIT_PASS);
  /* Only reached without an isa-debug-exit device. */
  for (;;) __asm__ volatile("cli; hlt");
}

const char *arg_str(const struct mb_info *mbi, const char *key, size_t *len) {
  if (!(mbi->flags & 4) || !mbi->cmdline) return 0;
  const char *p = (const char *)(uintptr_t)mbi->cmdline;
  size_t klen = 0;
  while (key[klen]) klen++;
  while (*p && *p != ' ') p++; /* the kernel's own name */
  for (;;) {
    while (*p == ' ') p++;
    if (!*p) return 0;
    const char *w = p;
    while (*p && *p != ' ') p++;
    if ((size_t)(p - w) > klen && w[klen] == '=' && memcmp(w, key, klen) == 0) {
      if (len) *len = (size_t)(p - w) - klen - 1;
      return w + klen + 1;
    }
  }
}

u64 arg_u64(const struct mb_info *mbi, const char *key, u64 def) {
  size_t n;
  const char *v = arg_str(mbi, key, &n);
  if (!v || !n) return def;
  u64 r = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9') return def;
    r = r * 10 + (u64)(v[i] - '0');
  }
  return r;
}

void *memset(void *d, int c, size_t n) {
  u8 *p = d;
  while (n--) *p++ = (u8)c;
  return d;
}

void *memcpy(void *d, const void *s, size_t n) {
  u8 *p = d;
  const u8 *q = s;
  while (n--) *p++ = *q++;
  return d;
}

void *memmove(void *d, const void *s, size_t n) {
  u8 *p = d;
  const u8 *q = s;
  if (p < q) while (n--) *p++ = *q++;
  else while (n--) p[n] = q[n];
  return d;
}

int memcmp(const void *a, const void *b, size_t n) {
  const u8 *p = a, *q = b;
  for (; n; n--, p++, q++) if (*p != *q) return *p < *q ? -1 : 1;
  return 0;
}

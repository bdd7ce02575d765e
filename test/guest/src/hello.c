/* Prints what the loader handed over: command line, modules (with a checksum), memory map. */
#include "guest.h"

struct mb_mod { u32 start, end, string, reserved; };

int kmain(const struct mb_info *mbi, u32 magic) {
  print_str("hello: magic=");
  print_hex(magic);
  print_str(" flags=");
  print_hex(mbi->flags);
  print_str("\nhello: mem_lower=");
  print_dec(mbi->mem_lower);
  print_str(" mem_upper=");
  print_dec(mbi->mem_upper);
  print_str("\nhello: cmdline=");
  print_str((const char *)(uintptr_t)mbi->cmdline);
  print_str("\n");
  const struct mb_mod *m = (const struct mb_mod *)(uintptr_t)mbi->mods_addr;
  for (u32 i = 0; i < mbi->mods_count; i++) {
    u32 sum = 0;
    for (const u8 *p = (const u8 *)(uintptr_t)m[i].start; p < (const u8 *)(uintptr_t)m[i].end; p++) sum = sum * 31 + *p;
    print_str("hello: module ");
    print_str((const char *)(uintptr_t)m[i].string);
    print_str(" size=");
    print_dec(m[i].end - m[i].start);
    print_str(" aligned=");
    print_str(m[i].start & 0xfff ? "no" : "yes");
    print_str(" sum=");
    print_hex(sum);
    print_str("\n");
  }
  for (u32 o = 0; o < mbi->mmap_length;) {
    const u8 *e = (const u8 *)(uintptr_t)(mbi->mmap_addr + o);
    u64 base, len;
    u32 type, size;
    memcpy(&size, e, 4);
    memcpy(&base, e + 4, 8);
    memcpy(&len, e + 12, 8);
    memcpy(&type, e + 20, 4);
    print_str("hello: mmap ");
    print_hex(base);
    print_str(" ");
    print_hex(len);
    print_str(" ");
    print_dec(type);
    print_str("\n");
    o += size + 4;
  }
  return arg_u64(mbi, "fail", 0) ? 1 : 0;
}

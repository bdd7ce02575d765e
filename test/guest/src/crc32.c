/* Benchmark: table-driven CRC-32 (IEEE, reflected) over a generated 64 KiB buffer, `scale` rounds. */
#include "guest.h"

#define BUF_SIZE 65536
const u64 bench_default_scale = 40;

static u32 table[256];
static u8 buf[BUF_SIZE];

static void make_table(void) {
  for (u32 i = 0; i < 256; i++) {
    u32 c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
}

static u32 crc32(u32 crc, const u8 *p, size_t n) {
  crc = ~crc;
  while (n--) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

void bench(u64 scale) {
  make_table();
  u32 x = 0x12345678;
  for (size_t i = 0; i < BUF_SIZE; i++) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    buf[i] = (u8)(x >> 24);
  }
  print_str("crc32: check(\"123456789\") = ");
  print_hex(crc32(0, (const u8 *)"123456789", 9));
  print_str("\n");
  u32 crc = 0;
  for (u64 r = 0; r < scale; r++) {
    crc = crc32(crc, buf, BUF_SIZE);
    buf[r % BUF_SIZE] ^= (u8)crc; /* each round sees different data */
  }
  print_str("crc32: rounds=");
  print_dec(scale);
  print_str(" crc=");
  print_hex(crc);
  print_str("\n");
}

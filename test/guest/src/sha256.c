/*
 * Benchmark: SHA-256 (FIPS 180-4) over a generated 64 KiB buffer, `scale` rounds. The shape of
 * the work Linux does when it checks module signatures: a long unrolled round loop, all in
 * registers, rotates and adds on 32-bit words.
 */
#include "guest.h"

/* Integer registers only, as the kernel is built (-mgeneral-regs-only): gcc would vectorize the
   message schedule with SSE otherwise. */
#pragma GCC target("general-regs-only")

#define BUF_SIZE 65536
const u64 bench_default_scale = 10;

static const u32 K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static u8 buf[BUF_SIZE];

static inline u32 ror(u32 x, int n) { return (x >> n) | (x << (32 - n)); }

static void compress(u32 h[8], const u8 *p) {
  u32 w[64];
  for (int i = 0; i < 16; i++) w[i] = (u32)p[4 * i] << 24 | (u32)p[4 * i + 1] << 16 | (u32)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    u32 s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
    u32 s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  u32 a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  /* eight rounds per iteration, as Linux's lib/crypto/sha256.c unrolls them */
  for (int i = 0; i < 64; i += 8) {
#define ROUND(a, b, c, d, e, f, g, h, j)                                         \
    do {                                                                         \
      u32 t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[j] + w[j]; \
      u32 t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c)); \
      d += t1;                                                                   \
      h = t1 + t2;                                                               \
    } while (0)
    ROUND(a, b, c, d, e, f, g, k, i + 0);
    ROUND(k, a, b, c, d, e, f, g, i + 1);
    ROUND(g, k, a, b, c, d, e, f, i + 2);
    ROUND(f, g, k, a, b, c, d, e, i + 3);
    ROUND(e, f, g, k, a, b, c, d, i + 4);
    ROUND(d, e, f, g, k, a, b, c, i + 5);
    ROUND(c, d, e, f, g, k, a, b, i + 6);
    ROUND(b, c, d, e, f, g, k, a, i + 7);
#undef ROUND
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

/* Digest of n bytes (n a multiple of 64 or not: the padding is done here). */
static void sha256(const u8 *p, size_t n, u32 h[8]) {
  static const u32 init[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
  for (int i = 0; i < 8; i++) h[i] = init[i];
  size_t i = 0;
  for (; i + 64 <= n; i += 64) compress(h, p + i);
  u8 last[128] = { 0 };
  size_t rest = n - i;
  for (size_t j = 0; j < rest; j++) last[j] = p[i + j];
  last[rest] = 0x80;
  size_t len = rest + 1 + 8 <= 64 ? 64 : 128;
  u64 bits = (u64)n * 8;
  for (int j = 0; j < 8; j++) last[len - 1 - j] = (u8)(bits >> (8 * j));
  compress(h, last);
  if (len == 128) compress(h, last + 64);
}

static void print_digest(const u32 h[8]) {
  for (int i = 0; i < 8; i++) print_hex(h[i]);
}

void bench(u64 scale) {
  u32 h[8];
  sha256((const u8 *)"abc", 3, h);
  print_str("sha256: check(\"abc\") = ");
  print_digest(h);
  print_str("\n");
  u32 x = 0x2545f491;
  for (size_t i = 0; i < BUF_SIZE; i++) {
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    buf[i] = (u8)(x >> 24);
  }
  for (u64 r = 0; r < scale; r++) {
    sha256(buf, BUF_SIZE, h);
    buf[r % BUF_SIZE] ^= (u8)h[0]; /* each round sees different data */
  }
  print_str("sha256: rounds=");
  print_dec(scale);
  print_str(" digest=");
  print_digest(h);
  print_str("\n");
}

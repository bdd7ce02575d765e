/*
 * Benchmark: sorts `scale` thousand pseudo-random u64s twice (quicksort and heapsort), checks
 * both agree and are ordered, and prints a position-weighted checksum.
 */
#include "guest.h"

#define MAX_N (1u << 19)
const u64 bench_default_scale = 40;

static u64 a[MAX_N], b[MAX_N];

static u64 rng_state;
static u64 rng(void) {
  u64 x = rng_state;
  x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
  rng_state = x;
  return x * 0x2545f4914f6cdd1dull;
}

static void swap(u64 *x, u64 *y) { u64 t = *x; *x = *y; *y = t; }

static void quicksort(u64 *v, long lo, long hi) {
  while (hi - lo > 16) {
    long mid = lo + (hi - lo) / 2;
    if (v[mid] < v[lo]) swap(&v[mid], &v[lo]);
    if (v[hi] < v[lo]) swap(&v[hi], &v[lo]);
    if (v[hi] < v[mid]) swap(&v[hi], &v[mid]);
    u64 pivot = v[mid];
    long i = lo, j = hi;
    while (i <= j) {
      while (v[i] < pivot) i++;
      while (v[j] > pivot) j--;
      if (i <= j) { swap(&v[i], &v[j]); i++; j--; }
    }
    /* recurse into the smaller half so the stack stays O(log n) */
    if (j - lo < hi - i) { quicksort(v, lo, j); lo = i; }
    else { quicksort(v, i, hi); hi = j; }
  }
  for (long i = lo + 1; i <= hi; i++) {
    u64 t = v[i];
    long j = i - 1;
    while (j >= lo && v[j] > t) { v[j + 1] = v[j]; j--; }
    v[j + 1] = t;
  }
}

static void sift_down(u64 *v, size_t root, size_t n) {
  for (;;) {
    size_t c = 2 * root + 1;
    if (c >= n) return;
    if (c + 1 < n && v[c + 1] > v[c]) c++;
    if (v[root] >= v[c]) return;
    swap(&v[root], &v[c]);
    root = c;
  }
}

static void heapsort(u64 *v, size_t n) {
  for (size_t i = n / 2; i-- > 0;) sift_down(v, i, n);
  for (size_t end = n; end-- > 1;) {
    swap(&v[0], &v[end]);
    sift_down(v, 0, end);
  }
}

void bench(u64 scale) {
  size_t n = scale * 1000;
  if (n > MAX_N) n = MAX_N;
  if (n < 2) n = 2;
  rng_state = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < n; i++) a[i] = b[i] = rng() >> (i & 7); /* some small values, some duplicates */
  quicksort(a, 0, (long)n - 1);
  heapsort(b, n);
  u64 sum = 0;
  int ok = 1;
  for (size_t i = 0; i < n; i++) {
    if (a[i] != b[i] || (i && a[i - 1] > a[i])) ok = 0;
    sum = sum * 31 + a[i] * (i + 1);
  }
  print_str("sort: n=");
  print_dec(n);
  print_str(ok ? " sorted" : " NOT SORTED");
  print_str(" min=");
  print_hex(a[0]);
  print_str(" max=");
  print_hex(a[n - 1]);
  print_str(" checksum=");
  print_hex(sum);
  print_str("\n");
}

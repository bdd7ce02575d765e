/* Host entry of the benchmark kernels, so the test can compare guest output with native output. */
#include <stdio.h>
#include <stdlib.h>
#include "guest.h"

void print_char(char c) { putchar(c); }
void print_str(const char *s) { fputs(s, stdout); }
void print_hex(u64 v) { printf("0x%llx", (unsigned long long)v); }
void print_dec(u64 v) { printf("%llu", (unsigned long long)v); }

int main(int argc, char **argv) {
  bench(argc > 1 ? strtoull(argv[1], 0, 10) : bench_default_scale);
  return 0;
}

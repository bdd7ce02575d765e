/* Guest entry of the benchmark kernels: scale from "scale=N" on the command line. */
#include "guest.h"

int kmain(const struct mb_info *mbi) {
  bench(arg_u64(mbi, "scale", bench_default_scale));
  return 0;
}

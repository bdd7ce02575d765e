/* Plain N-API binding of the oracle, built only where no C++ compiler exists
 * (node-addon-api is C++). Same exports and argument checks as oracle.cc. */
#include "oracle_core.h"

#include <node_api.h>

#define CHECK(call)                  \
  do {                               \
    if ((call) != napi_ok) return NULL; \
  } while (0)

static int typed(napi_env env, napi_value v, napi_typedarray_type want, void** data, size_t* len) {
  bool is = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &type, len, data, NULL, NULL) != napi_ok) return 0;
  return type == want;
}

static napi_value run_batch(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  void *code, *offsets, *regs, *mem, *faults;
  size_t code_len, off_len, regs_len, mem_len, faults_len;
  uint32_t mem_size = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 6 || !typed(env, argv[0], napi_uint8_array, &code, &code_len) ||
      !typed(env, argv[1], napi_uint32_array, &offsets, &off_len) ||
      !typed(env, argv[2], napi_biguint64_array, &regs, &regs_len) ||
      !typed(env, argv[3], napi_uint8_array, &mem, &mem_len) ||
      napi_get_value_uint32(env, argv[4], &mem_size) != napi_ok ||
      !typed(env, argv[5], napi_int32_array, &faults, &faults_len) || off_len < 1) {
    napi_throw_type_error(env, NULL, "runBatch(code, offsets, regs, mem, memSize, faults)");
    return NULL;
  }
  size_t n = off_len - 1;
  const uint32_t* off = (const uint32_t*)offsets;
  if (regs_len != n * ORACLE_REGS || mem_len != n * mem_size || faults_len != 2 * n || mem_size == 0 ||
      off[n] > code_len) {
    napi_throw_range_error(env, NULL, "runBatch: inconsistent array sizes");
    return NULL;
  }
  const char* err = oracle_run_batch((const uint8_t*)code, off, n, (uint64_t*)regs, (uint8_t*)mem, mem_size,
                                     (int32_t*)faults);
  if (err) napi_throw_error(env, NULL, err);
  return NULL;
}

static napi_value cpuid(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], buf, out;
  uint32_t leaf = 0, sub = 0;
  void* data;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc > 0) napi_get_value_uint32(env, argv[0], &leaf);
  if (argc > 1) napi_get_value_uint32(env, argv[1], &sub);
  CHECK(napi_create_arraybuffer(env, 16, &data, &buf));
  oracle_cpuid(leaf, sub, (uint32_t*)data);
  CHECK(napi_create_typedarray(env, napi_uint32_array, 4, buf, 0, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn, name;
  CHECK(napi_create_function(env, "runBatch", NAPI_AUTO_LENGTH, run_batch, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "runBatch", fn));
  CHECK(napi_create_function(env, "cpuid", NAPI_AUTO_LENGTH, cpuid, NULL, &fn));
  CHECK(napi_set_named_property(env, exports, "cpuid", fn));
  CHECK(napi_create_string_utf8(env, "node-api (C)", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_set_named_property(env, exports, "binding", name));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

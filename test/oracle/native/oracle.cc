// node-addon-api binding of the oracle (the machine-level work is in
// oracle_core.h, shared with the plain N-API fallback oracle_napi.c).
#include "oracle_core.h"

#include <napi.h>

namespace {

// runBatch(code, offsets, regs, mem, memSize, faults)
//   code:    Uint8Array, all snippets concatenated
//   offsets: Uint32Array(n + 1), snippet i is code[offsets[i], offsets[i+1])
//   regs:    BigUint64Array(17 n), in/out
//   mem:     Uint8Array(memSize n), in/out
//   faults:  Int32Array(2 n), out: (vector, faultOffset) pairs
Napi::Value RunBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 6 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
      !info[3].IsTypedArray() || !info[4].IsNumber() || !info[5].IsTypedArray()) {
    Napi::TypeError::New(env, "runBatch(code, offsets, regs, mem, memSize, faults)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto code = info[0].As<Napi::TypedArray>();
  auto offsets = info[1].As<Napi::TypedArray>();
  auto regs = info[2].As<Napi::TypedArray>();
  auto mem = info[3].As<Napi::TypedArray>();
  size_t memSize = info[4].As<Napi::Number>().Uint32Value();
  auto faults = info[5].As<Napi::TypedArray>();
  if (code.TypedArrayType() != napi_uint8_array || offsets.TypedArrayType() != napi_uint32_array ||
      regs.TypedArrayType() != napi_biguint64_array || mem.TypedArrayType() != napi_uint8_array ||
      faults.TypedArrayType() != napi_int32_array || offsets.ElementLength() < 1) {
    Napi::TypeError::New(env, "runBatch: wrong array types").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  size_t n = offsets.ElementLength() - 1;
  auto* off = offsets.As<Napi::Uint32Array>().Data();
  if (regs.ElementLength() != n * ORACLE_REGS || mem.ElementLength() != n * memSize ||
      faults.ElementLength() != 2 * n || memSize == 0 || off[n] > code.ElementLength()) {
    Napi::RangeError::New(env, "runBatch: inconsistent array sizes").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const char* err = oracle_run_batch(code.As<Napi::Uint8Array>().Data(), off, n,
                                     regs.As<Napi::TypedArrayOf<uint64_t>>().Data(),
                                     mem.As<Napi::Uint8Array>().Data(), memSize,
                                     faults.As<Napi::Int32Array>().Data());
  if (err) Napi::Error::New(env, err).ThrowAsJavaScriptException();
  return env.Undefined();
}

// cpuid(leaf, subleaf) -> Uint32Array [eax, ebx, ecx, edx]
Napi::Value Cpuid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t leaf = info.Length() > 0 ? info[0].As<Napi::Number>().Uint32Value() : 0;
  uint32_t sub = info.Length() > 1 ? info[1].As<Napi::Number>().Uint32Value() : 0;
  auto out = Napi::Uint32Array::New(env, 4);
  oracle_cpuid(leaf, sub, out.Data());
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("runBatch", Napi::Function::New(env, RunBatch));
  exports.Set("cpuid", Napi::Function::New(env, Cpuid));
  exports.Set("binding", Napi::String::New(env, "node-addon-api"));
  return exports;
}

}  // namespace

NODE_API_MODULE(oracle, Init)

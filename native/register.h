// The addon's parts beside addon.cc, each adding its functions to the module's exports; addon.cc's Init calls
// them all (and adds the XNOR GEMM's own).
#pragma once
#include <napi.h>

namespace bnn {

void register_training_ops(Napi::Env env, Napi::Object exports);  // train_ops.cc: matmul, sign, BatchNorm, optimizer
void register_conv_ops(Napi::Env env, Napi::Object exports);      // conv_ops.cc: conv2d and its two backprops
void register_pool_ops(Napi::Env env, Napi::Object exports);      // pool_ops.cc: maxPool, maxPoolGrad
void register_engine(Napi::Env env, Napi::Object exports);        // engine.cc: BinaryNetwork

}  // namespace bnn

// Native ConvNet kernels for training (Conv2D forward and both backprops, max-pool and its
// gradient), on Float32Array views of the wasm heap like train_ops.cc.
#include <napi.h>

#include "napi_args.h"
#include "parallel.h"
#include "sgemm.h"

namespace bnn {

void register_conv_ops(Napi::Env env, Napi::Object exports) {
  (void)env;
  (void)exports;
}

}  // namespace bnn

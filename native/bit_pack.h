// Packing ±1 float matrices into the XNOR kernels' bit layout (xnor_common.h), checking on the way
// that every value is exactly +1 or −1: the training matmul uses the XNOR GEMM only when both
// operands pass, so the binary path is taken exactly where it gives the float result.
#pragma once
#include <cstddef>
#include <cstdint>

namespace bnn {

// Rows along K: dst row r (stride words) ← src[r·ld + k], k < K, for r in [r0, r1). False if a value is not ±1.
bool pack_rows(const float* src, size_t ld, size_t K, size_t r0, size_t r1, uint64_t* dst, size_t stride);

// Columns: dst row n ← src[k·ld + n], k < K, for n in [n0, n1) (a 64×64 bit transpose per block).
bool pack_cols(const float* src, size_t ld, size_t K, size_t n0, size_t n1, uint64_t* dst, size_t stride);

}  // namespace bnn

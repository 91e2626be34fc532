// Hot element-wise loops are compiled for AVX-512 and AVX2 too, picked at load time (GCC's function
// multi-versioning): the select chains of the max-pool gradient, for one, do not vectorize with the
// baseline SSE2 (measured 4.9 → 0.6 ms).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BNN_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define BNN_SIMD_CLONES
#endif

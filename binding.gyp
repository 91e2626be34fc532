{
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fno-math-errno"],
    "xcode_settings": {"GCC_ENABLE_CPP_EXCEPTIONS": "YES", "OTHER_CPLUSPLUSFLAGS": ["-std=c++17", "-O3", "-fno-math-errno"]}
  },
  "targets": [
    {
      "target_name": "xnor_native",
      "sources": ["native/addon.cc", "native/gemm_scalar.cc", "native/train_ops.cc", "native/conv_ops.cc", "native/pool_ops.cc", "native/engine.cc", "native/bit_pack.cc", "native/parallel.cc", "native/sgemm.cc", "native/sgemm_scalar.cc"],
      "conditions": [
        ["target_arch=='x64'", {"dependencies": ["xnor_popcnt", "xnor_avx2", "xnor_avx512", "engine_avx512", "sgemm_avx2", "sgemm_avx512"]}],
        ["target_arch=='arm64'", {"sources": ["native/gemm_neon.cc"]}]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {"target_name": "xnor_popcnt", "type": "static_library", "sources": ["native/gemm_popcnt.cc"],
         "cflags_cc": ["-mpopcnt"], "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-mpopcnt"]}},
        {"target_name": "xnor_avx2", "type": "static_library", "sources": ["native/gemm_avx2.cc"],
         "cflags_cc": ["-mavx2", "-mpopcnt"], "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mpopcnt"]}},
        {"target_name": "xnor_avx512", "type": "static_library", "sources": ["native/gemm_avx512.cc"],
         "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512vpopcntdq"],
         "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-mavx512f", "-mavx512bw", "-mavx512vpopcntdq"]}},
        {"target_name": "engine_avx512", "type": "static_library", "sources": ["native/engine_avx512.cc"],
         "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512vpopcntdq"],
         "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-mavx512f", "-mavx512bw", "-mavx512vpopcntdq"]}},
        {"target_name": "sgemm_avx2", "type": "static_library", "sources": ["native/sgemm_avx2.cc"],
         "cflags_cc": ["-mavx2", "-mfma"], "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mfma"]}},
        {"target_name": "sgemm_avx512", "type": "static_library", "sources": ["native/sgemm_avx512.cc"],
         "cflags_cc": ["-mavx512f"], "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-mavx512f"]}}
      ]
    }]
  ]
}

// One persistent thread pool shared by every native kernel (XNOR GEMM, float GEMM, training ops).
// Threads are started once and wait between calls, so a small product pays a wake-up (~µs), not
// a thread start (~50–100 µs each), and the thread count is chosen from the size of the work.
#pragma once
#include <cstddef>
#include <functional>

namespace bnn {

// Threads the pool may use: BNN_THREADS if set, else the hardware concurrency (at least 1).
size_t pool_threads();

// Runs body(part) for every part in [0, parts); the calling thread runs part 0. `parts` is capped
// at pool_threads(). Blocks until all parts are done. Not re-entrant: a body must not call it.
void run_parts(size_t parts, const std::function<void(size_t)>& body);

// Threads worth waking for `flops` floating-point (or binary) operations: 1 below a threshold where a
// wake-up costs more than it saves, more as the work grows, never above `limit` (0 = pool size).
// The answer depends on timing (whether workers sleep), so a kernel's result must not depend on it:
// a reduction splits its work into parts fixed by the problem size, never by the thread count.
size_t threads_for(double flops, size_t limit = 0);

// Threads worth waking for a memory-bound pass over `elements` floats (~10 GB/s on one core here):
// each weighs like 64 flops, so arrays past ~60 k elements use the second core.
inline size_t threads_for_elements(double elements) { return threads_for(elements * 64); }

// Splits [0, n) into contiguous ranges of whole `grain`s over `threads` parts: body(lo, hi).
template <typename Body>
void parallel_for(size_t n, size_t grain, size_t threads, const Body& body) {
  if (n == 0) return;
  if (grain == 0) grain = 1;
  const size_t blocks = (n + grain - 1) / grain;
  const size_t parts = threads < blocks ? (threads ? threads : 1) : blocks;
  if (parts <= 1) {
    body(size_t{0}, n);
    return;
  }
  run_parts(parts, [&](size_t p) {
    const size_t lo = blocks * p / parts * grain, hi = blocks * (p + 1) / parts * grain;
    if (lo < n) body(lo, hi < n ? hi : n);
  });
}

}  // namespace bnn

// The persistent pool behind parallel.h. Workers start on the first call that needs them and
// then live for the process: between calls they spin briefly (a call that follows soon finds them
// awake) and then sleep on a condition variable. The pool is never destroyed and its threads are
// detached, so process exit neither joins nor tears down anything a worker might still touch.
#include "parallel.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define BNN_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define BNN_PAUSE() asm volatile("yield")
#else
#define BNN_PAUSE() ((void)0)
#endif

namespace bnn {

size_t pool_threads() {
  static const size_t n = [] {
    if (const char* env = std::getenv("BNN_THREADS")) {
      const long v = std::strtol(env, nullptr, 10);
      if (v >= 1 && v <= 256) return static_cast<size_t>(v);
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return static_cast<size_t>(hw ? hw : 1);
  }();
  return n;
}

namespace {

// How long a waiting thread spins before it sleeps: long enough to bridge the gaps between the
// native kernels of one training step (tfjs runs tens to hundreds of µs of JavaScript between
// them), short enough not to steal a core from other work for long. BNN_POOL_SPIN_US overrides.
const std::chrono::microseconds kSpin = [] {
  if (const char* env = std::getenv("BNN_POOL_SPIN_US")) {
    const long v = std::strtol(env, nullptr, 10);
    if (v >= 0 && v <= 1000000) return std::chrono::microseconds(v);
  }
  return std::chrono::microseconds(100);
}();

// Workers that are asleep (or not started yet): waking one costs ~50–100 µs on a busy VM, against
// ~1 µs for a spinning one, so threads_for splits mid-sized work only while all are awake.
std::atomic<size_t> asleep{0};
std::atomic<bool> started{false};

template <typename Ready>
bool spin_until(const Ready& ready) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (unsigned i = 1;; i++) {
    if (ready()) return true;
    BNN_PAUSE();
    if (i % 64 == 0 && std::chrono::steady_clock::now() > until) return false;
  }
}

class Pool {
 public:
  Pool() {
    // A worker that cannot be started leaves its parts to the caller (see run).
    for (size_t w = 1; w < pool_threads(); w++) {
      try {
        std::thread(&Pool::work, this, w).detach();
        workers_++;
      } catch (const std::system_error&) {
        break;
      }
    }
  }

  void run(size_t parts, const std::function<void(size_t)>& body) {
    body_ = &body;
    parts_ = parts;
    error_ = nullptr;
    // Every worker reports back, even one without a part, so none can still be reading this job
    // when the next one is written.
    remaining_.store(workers_, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();

    std::exception_ptr mine;
    for (size_t p = 0; p < parts; p++) {
      if (p != 0 && p <= workers_) continue;  // a worker's part
      try {
        body(p);
      } catch (...) {
        if (!mine) mine = std::current_exception();
      }
    }
    if (!spin_until([&] { return remaining_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(mu_);
      done_.wait(lock, [&] { return remaining_.load(std::memory_order_acquire) == 0; });
    }
    body_ = nullptr;
    if (mine) std::rethrow_exception(mine);
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void work(size_t w) {
    uint64_t seen = 0;
    for (;;) {
      if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; })) {
        asleep.fetch_add(1, std::memory_order_relaxed);
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
        asleep.fetch_sub(1, std::memory_order_relaxed);
      }
      seen = generation_.load(std::memory_order_acquire);
      if (w < parts_) {
        try {
          (*body_)(w);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mu_);
          if (!error_) error_ = std::current_exception();
        }
      }
      if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mu_);  // the caller may be between its check and its wait
        done_.notify_one();
      }
    }
  }

  size_t workers_ = 0;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<size_t> remaining_{0};
  const std::function<void(size_t)>* body_ = nullptr;
  size_t parts_ = 0;
  std::exception_ptr error_;
};

// True on a thread inside run_parts, so that a nested call runs serially instead of deadlocking.
thread_local bool inside = false;

}  // namespace

void run_parts(size_t parts, const std::function<void(size_t)>& body) {
  if (parts > pool_threads()) parts = pool_threads();
  if (parts <= 1 || inside) {
    for (size_t p = 0; p < parts; p++) body(p);
    return;
  }
  static Pool* const pool = new Pool();  // never deleted: see the top of this file
  started.store(true, std::memory_order_relaxed);
  static std::mutex callers;             // one job at a time if several threads call anyway
  std::lock_guard<std::mutex> lock(callers);
  inside = true;
  struct Reset {
    ~Reset() { inside = false; }
  } reset;
  pool->run(parts, [&](size_t p) {
    const bool was = inside;
    inside = true;
    struct Restore {
      bool was;
      ~Restore() { inside = was; }
    } restore{was};
    body(p);
  });
}

size_t threads_for(double flops, size_t limit) {
  // Measured here (Zen 5 VM, 2 cores): handing a part to a spinning worker costs ~1 µs, to a
  // sleeping one ~50–110 µs. So: 1 thread below 4 MFLOP (~25 µs of FMA work on one core); up to
  // 40 MFLOP (~250 µs) only while no worker sleeps; above that always all threads.
  const bool awake = started.load(std::memory_order_relaxed) && asleep.load(std::memory_order_relaxed) == 0;
  size_t t = flops < 4e6 || (flops < 4e7 && !awake) ? 1 : pool_threads();
  if (limit && t > limit) t = limit;
  return t;
}

}  // namespace bnn

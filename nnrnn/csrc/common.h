// Shared by the package's C++ extensions (elman.cpp, fused_step.cpp): the BLAS that libtorch links,
// the guards that run per-step products on one MKL thread and flush subnormals, the target_clones
// macro and the float expm1 kernel of the nonlinearities. Everything sits in an unnamed namespace:
// each extension (one translation unit) gets its own copy, as when the code was written out twice.
#pragma once

#include <cstdint>
#include <cstring>

#if !defined(_WIN32)
#include <dlfcn.h>
#endif
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define NNRNN_HAS_MXCSR 1
#endif

// Vectorizable kernels: GCC on x86-64 compiles one clone per listed target next to the baseline one
// and picks at load time (target_clones); elsewhere the plain loop is used. Each source names its
// targets: #define NNRNN_CLONES NNRNN_TARGET_CLONES("avx2", "default").
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NNRNN_TARGET_CLONES(...) __attribute__((target_clones(__VA_ARGS__)))
#else
#define NNRNN_TARGET_CLONES(...)
#endif

namespace {

using sgemm_t = void (*)(const char*, const char*, const int*, const int*, const int*, const float*,
                         const float*, const int*, const float*, const int*, const float*, float*,
                         const int*);
using dgemm_t = void (*)(const char*, const char*, const int*, const int*, const int*, const double*,
                         const double*, const int*, const double*, const int*, const double*, double*,
                         const int*);

using mkl_threads_local_t = int (*)(int);

struct Blas {
  sgemm_t sgemm = nullptr;
  dgemm_t dgemm = nullptr;
  // MKL only: its C function (not the Fortran-style lower-case alias, which takes a pointer)
  mkl_threads_local_t mkl_threads_local = nullptr;
  Blas() {
#if !defined(_WIN32)
    // The Fortran BLAS (32-bit integers) that libtorch itself calls: MKL or OpenBLAS, already
    // loaded with libtorch_cpu. Any other library's symbol of the same name is a second choice.
    void* lib = dlopen("libtorch_cpu.so", RTLD_LAZY | RTLD_NOLOAD);
    if (lib != nullptr) {
      sgemm = reinterpret_cast<sgemm_t>(dlsym(lib, "sgemm_"));
      dgemm = reinterpret_cast<dgemm_t>(dlsym(lib, "dgemm_"));
    }
    if (sgemm == nullptr || dgemm == nullptr) {
      sgemm = reinterpret_cast<sgemm_t>(dlsym(RTLD_DEFAULT, "sgemm_"));
      dgemm = reinterpret_cast<dgemm_t>(dlsym(RTLD_DEFAULT, "dgemm_"));
      lib = nullptr;
    }
    if (lib != nullptr) {
      mkl_threads_local = reinterpret_cast<mkl_threads_local_t>(dlsym(lib, "MKL_Set_Num_Threads_Local"));
    }
#endif
  }
};

const Blas& blas() {
  static Blas b;
  return b;
}

bool g_use_blas = true;  // switched off by set_blas(false) to exercise the ATen path

// Runs the enclosing per-step products on one MKL thread (thread-local, restored on exit);
// torch's own thread setting is untouched. A no-op without MKL.
class OneBlasThread {
 public:
  explicit OneBlasThread(bool on) {
    if (on && blas().mkl_threads_local != nullptr) {
      prev_ = blas().mkl_threads_local(1);
      active_ = true;
    }
  }
  ~OneBlasThread() {
    if (active_) blas().mkl_threads_local(prev_);
  }
  OneBlasThread(const OneBlasThread&) = delete;
  OneBlasThread& operator=(const OneBlasThread&) = delete;

 private:
  int prev_ = 0;
  bool active_ = false;
};

// Flushes subnormal floats to zero on this thread while alive (x86: the FTZ and DAZ bits of
// MXCSR, as torch.set_flush_denormal(True) sets them), then restores the caller's mode. Gradients
// that vanish through hundreds of steps can reach the subnormal range (below 1.2e-38 in float32),
// where every multiply in the step loop costs about a hundred cycles on x86.
class FlushDenormals {
 public:
  FlushDenormals() {
#if defined(NNRNN_HAS_MXCSR)
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | 0x8040u);  // FTZ (bit 15) | DAZ (bit 6)
#endif
  }
  ~FlushDenormals() {
#if defined(NNRNN_HAS_MXCSR)
    _mm_setcsr(saved_);
#endif
  }
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
  unsigned int saved_ = 0;
};

// expm1(x) for x <= 0 in float: Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, a degree-7
// Taylor polynomial for expm1(r), then expm1(x) = 2^k expm1(r) + (2^k - 1). Max relative error
// about 1e-7 (tested against double precision in tests/test_engine.py through elu and tanh).
inline float expm1_nonpos(float x) {
  x = x < -87.0f ? -87.0f : x;
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding and subtracting it rounds to an integer
  const float kf = (x * 1.44269504088896341f + magic) - magic;
  float r = x - kf * 0.693145751953125f;
  r = r - kf * 1.428606765330187045e-06f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r * r + r;
  const int32_t bits = (static_cast<int32_t>(kf) + 127) << 23;
  float s;
  std::memcpy(&s, &bits, sizeof s);
  return s * p + (s - 1.0f);
}

}  // namespace

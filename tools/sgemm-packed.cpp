// One recurrence product of the fused step, (N x N) W times (N x B) states, chained over S steps as
// the forward pass chains them: MKL's plain sgemm_ against its packed-matrix API (W packed once by
// cblas_sgemm_pack, then cblas_sgemm_compute per step), one MKL thread. The README's performance
// section quotes it (issue 20: is there a faster BLAS path for the recurrence?).
//
//   g++ -O2 -std=c++17 tools/sgemm-packed.cpp -o /tmp/sgemm-packed -ldl
//   LD_LIBRARY_PATH=$(.venv/bin/python -c 'import torch, os; print(os.path.dirname(torch.__file__) + "/lib")') \
//       /tmp/sgemm-packed 16      # batch B (N = 100, S = 750: addition's size)
//
// It needs the libtorch_cpu.so of a torch build linked with MKL (the CPU wheels on x86-64).
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

using sgemm_t = void (*)(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
                         const int*, const float*, const int*, const float*, float*, const int*);
using pack_size_t = size_t (*)(int, int, int, int);
using pack_t = void (*)(int, int, int, int, int, int, float, const float*, int, float*);
using compute_t = void (*)(int, int, int, int, int, int, const float*, int, const float*, int, float, float*, int);
using threads_t = int (*)(int);

int main(int argc, char** argv) {
  void* lib = dlopen("libtorch_cpu.so", RTLD_NOW | RTLD_GLOBAL);
  if (lib == nullptr) { std::printf("%s\n", dlerror()); return 1; }
  auto sgemm = reinterpret_cast<sgemm_t>(dlsym(lib, "sgemm_"));
  auto pack_size = reinterpret_cast<pack_size_t>(dlsym(lib, "cblas_sgemm_pack_get_size"));
  auto pack = reinterpret_cast<pack_t>(dlsym(lib, "cblas_sgemm_pack"));
  auto compute = reinterpret_cast<compute_t>(dlsym(lib, "cblas_sgemm_compute"));
  auto threads = reinterpret_cast<threads_t>(dlsym(lib, "MKL_Set_Num_Threads_Local"));
  if (!sgemm || !pack_size || !pack || !compute || !threads) { std::printf("not an MKL build of torch\n"); return 1; }
  threads(1);
  const int N = 100, B = argc > 1 ? std::atoi(argv[1]) : 16, S = 750;
  const int kColMajor = 102, kNoTrans = 111, kPacked = 151, kAMatrix = 161;  // CBLAS enum values
  std::vector<float> w(N * N), h0((S + 1) * B * N, 0.0f), h, hp;
  std::mt19937 gen(0);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  for (auto& v : w) v = normal(gen);
  for (int i = 0; i < B * N; ++i) h0[i] = 0.01f * normal(gen);
  std::vector<float> packed(pack_size(kAMatrix, N, B, N) / sizeof(float) + 16);
  const float one = 1.0f;
  const char no = 'N';
  double plain = 1e9, packed_compute = 1e9, packing = 1e9;
  for (int round = 0; round < 30; ++round) {
    h = h0, hp = h0;
    auto t0 = std::chrono::steady_clock::now();
    for (int t = 1; t <= S; ++t)
      sgemm(&no, &no, &N, &B, &N, &one, w.data(), &N, h.data() + (t - 1) * B * N, &N, &one, h.data() + t * B * N, &N);
    auto t1 = std::chrono::steady_clock::now();
    pack(kColMajor, kAMatrix, kNoTrans, N, B, N, 1.0f, w.data(), N, packed.data());
    auto t2 = std::chrono::steady_clock::now();
    for (int t = 1; t <= S; ++t)
      compute(kColMajor, kPacked, kNoTrans, N, B, N, packed.data(), N, hp.data() + (t - 1) * B * N, N, 1.0f,
              hp.data() + t * B * N, N);
    auto t3 = std::chrono::steady_clock::now();
    plain = std::min(plain, std::chrono::duration<double>(t1 - t0).count());
    packing = std::min(packing, std::chrono::duration<double>(t2 - t1).count());
    packed_compute = std::min(packed_compute, std::chrono::duration<double>(t3 - t2).count());
  }
  std::printf("N=%d B=%d, best of 30 rounds of %d chained products: sgemm %.2f us per product, packed compute "
              "%.2f us (pack once: %.1f us); packed / plain %.2f\n",
              N, B, S, plain / S * 1e6, packed_compute / S * 1e6, packing * 1e6, packed_compute / plain);
  return 0;
}

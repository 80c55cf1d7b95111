// Time loops of the Elman RNN engine (nnrnn.models), h_t = f(W h_{t-1} + U x_t + b).
//
// Compiled on first use by torch.utils.cpp_extension.load (see nnrnn/models.py); the pure-PyTorch
// engine in models.py computes the same thing and is the fallback when this file cannot be built.
//
// Tensors are row-major and contiguous: out/grad (T, B, N), h0 (B, N), W (N, N).
// Matrix products call the BLAS that libtorch was linked against (sgemm_/dgemm_, looked up at
// run time) and fall back to at::addmm_ / at::mm_out when no such symbol is exported.
// Nonlinearity codes: 0 = elu (alpha 1), 1 = relu, 2 = tanh. Derivatives are computed from the
// outputs: elu' = min(h, 0) + 1, relu' = [h > 0], tanh' = 1 - h^2.

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/zeros.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "common.h"

namespace {

// Per-step products smaller than this many multiply-adds run on one BLAS thread. Splitting a
// (16 x 100) x (100 x 100) product over threads gains little, and when the cores are busy
// every step waits for a descheduled thread: a copy-size forward pass measured 30 ms on one
// thread and 640 ms on two, on a loaded 2-core machine. Larger products (psMNIST at batch 128)
// keep torch's thread count. Set with set_sequential_macs().
int64_t g_sequential_macs = int64_t(1) << 20;

// Column-major GEMM C = alpha op(A) op(B) + beta C with the BLAS of libtorch.
template <typename T>
bool gemm(char ta, char tb, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
          T beta, T* c, int ldc);

template <>
bool gemm<float>(char ta, char tb, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc) {
  if (!g_use_blas || blas().sgemm == nullptr) return false;
  blas().sgemm(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
  return true;
}

template <>
bool gemm<double>(char ta, char tb, int m, int n, int k, double alpha, const double* a, int lda,
                  const double* b, int ldb, double beta, double* c, int ldc) {
  if (!g_use_blas || blas().dgemm == nullptr) return false;
  blas().dgemm(&ta, &tb, &m, &n, &k, &alpha, a, &lda, b, &ldb, &beta, c, &ldc);
  return true;
}

#define NNRNN_CLONES NNRNN_TARGET_CLONES("avx2", "default")

NNRNN_CLONES void elu_f32(float* a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = a[i];
    const float e = expm1_nonpos(v);
    a[i] = v <= 0.0f ? e : v;  // NaN stays NaN
  }
}

NNRNN_CLONES void tanh_f32(float* a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = a[i];
    const float e = expm1_nonpos(-2.0f * std::fabs(v));  // tanh|v| = -e / (2 + e)
    const float t = std::copysign(-e / (2.0f + e), v);
    a[i] = v != v ? v : t;
  }
}

template <typename T>
NNRNN_CLONES void relu_loop(T* a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] = a[i] < T(0) ? T(0) : a[i];
}

// In-place nonlinearity on n contiguous values.
void activate(float* a, int64_t n, int64_t act) {
  if (act == 0) {
    elu_f32(a, n);
  } else if (act == 1) {
    relu_loop<float>(a, n);
  } else {
    tanh_f32(a, n);
  }
}

void activate(double* a, int64_t n, int64_t act) {
  if (act == 0) {
    for (int64_t i = 0; i < n; ++i) a[i] = a[i] <= 0.0 ? std::expm1(a[i]) : a[i];
  } else if (act == 1) {
    relu_loop<double>(a, n);
  } else {
    for (int64_t i = 0; i < n; ++i) a[i] = std::tanh(a[i]);
  }
}

// da = (p + q) * f'(h), from the outputs h; q may be null (then da = p * f'(h)).
template <typename T>
NNRNN_CLONES void act_grad(const T* p, const T* q, const T* h, T* da, int64_t n, int64_t act) {
  if (q == nullptr) {
    if (act == 0) {
      for (int64_t i = 0; i < n; ++i) da[i] = p[i] * ((h[i] < T(0) ? h[i] : T(0)) + T(1));
    } else if (act == 1) {
      for (int64_t i = 0; i < n; ++i) da[i] = h[i] > T(0) ? p[i] : T(0);
    } else {
      for (int64_t i = 0; i < n; ++i) da[i] = p[i] * (T(1) - h[i] * h[i]);
    }
  } else {
    if (act == 0) {
      for (int64_t i = 0; i < n; ++i) da[i] = (p[i] + q[i]) * ((h[i] < T(0) ? h[i] : T(0)) + T(1));
    } else if (act == 1) {
      for (int64_t i = 0; i < n; ++i) da[i] = h[i] > T(0) ? p[i] + q[i] : T(0);
    } else {
      for (int64_t i = 0; i < n; ++i) da[i] = (p[i] + q[i]) * (T(1) - h[i] * h[i]);
    }
  }
}

template <typename T>
void forward_impl(at::Tensor& out, const at::Tensor& h0, const at::Tensor& w, int64_t act) {
  const int64_t steps = out.size(0), batch = out.size(1), n = out.size(2);
  const int64_t step = batch * n;
  T* o = out.data_ptr<T>();
  const at::Tensor wt = w.t().contiguous();  // W^T, so that BLAS runs its faster 'N','N' case
  const T* wtp = wt.data_ptr<T>();
  FlushDenormals ftz;
  OneBlasThread one_thread(batch * n * n < g_sequential_macs);
  for (int64_t t = 0; t < steps; ++t) {
    const T* prev = t == 0 ? h0.data_ptr<T>() : o + (t - 1) * step;
    T* cur = o + t * step;
    // row-major cur (B, N) += prev (B, N) @ W^T  <=>  column-major cur^T += W prev^T
    if (!gemm<T>('N', 'N', n, batch, n, T(1), wtp, n, prev, n, T(1), cur, n)) {
      const at::Tensor prev_view = t == 0 ? h0 : out.select(0, t - 1);
      out.select(0, t).addmm_(prev_view, w.t());
    }
    activate(cur, step, act);
  }
}

struct Grads {
  at::Tensor dx, dh0, du, dw, db;
};

// Backward through time in chunks of `chunk` steps, from the last chunk to the first. Inside a
// chunk, one matmul per step carries the hidden gradient back: dh_{t-1} = da_t W, with
// da_t = (dh_t + g_t) * f'(h_t). After each chunk, its da rows enter the weight gradients as
// a few large matmuls (dW += da^T h_prev, dU += da^T x, db += sum da, dx = da U), so the da
// buffer stays small and warm in cache instead of spanning the whole sequence.
template <typename T>
void backward_impl(const c10::optional<at::Tensor>& grad, const c10::optional<at::Tensor>& grad_last,
                   const at::Tensor& out, const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_ih,
                   const at::Tensor& w_hh, int64_t act, int64_t chunk, Grads& r) {
  const int64_t steps = out.size(0), batch = out.size(1), n = out.size(2), d = x.size(2);
  const int64_t step = batch * n;
  chunk = std::max<int64_t>(1, std::min(chunk, steps));
  const T* g = grad.has_value() ? grad->data_ptr<T>() : nullptr;
  const T* h = out.data_ptr<T>();
  const T* wp = w_hh.data_ptr<T>();
  at::Tensor da = at::empty({chunk, batch, n}, out.options());
  T* dap = da.data_ptr<T>();
  at::Tensor dh = at::empty({batch, n}, out.options());
  T* dhp = dh.data_ptr<T>();
  bool have_dh = false;  // dh holds a gradient (else it is zero)
  if (grad_last.has_value()) {
    dh.copy_(*grad_last);
    have_dh = true;
  }
  const at::Tensor out2 = out.view({steps * batch, n});
  const at::Tensor x2 = x.view({steps * batch, d});
  for (int64_t end = steps; end > 0; end -= chunk) {
    const int64_t begin = std::max<int64_t>(0, end - chunk), len = end - begin;
    {
      FlushDenormals ftz;
      OneBlasThread one_thread(batch * n * n < g_sequential_macs);  // the step loop only
      for (int64_t t = end - 1; t >= begin; --t) {
        T* dat = dap + (t - begin) * step;
        const T* gt = g == nullptr ? nullptr : g + t * step;
        if (have_dh) {
          act_grad<T>(dhp, gt, h + t * step, dat, step, act);
        } else if (gt != nullptr) {
          act_grad<T>(gt, nullptr, h + t * step, dat, step, act);
        } else {
          std::memset(dat, 0, sizeof(T) * step);
        }
        if (t == 0 && !r.dh0.defined()) break;
        T* target = t > 0 ? dhp : r.dh0.data_ptr<T>();
        // row-major target (B, N) = da_t (B, N) @ W  <=>  column-major target^T = W^T da_t^T
        if (!gemm<T>('N', 'N', n, batch, n, T(1), wp, n, dat, n, T(0), target, n)) {
          at::Tensor tv = t > 0 ? dh : r.dh0;
          at::mm_out(tv, da.select(0, t - begin), w_hh);
        }
        have_dh = true;
      }
    }
    const at::Tensor dac = da.narrow(0, 0, len).view({len * batch, n});
    if (r.dw.defined()) {
      if (begin > 0) {
        r.dw.addmm_(dac.t(), out2.narrow(0, (begin - 1) * batch, len * batch));
      } else {
        if (len > 1) r.dw.addmm_(dac.narrow(0, batch, (len - 1) * batch).t(), out2.narrow(0, 0, (len - 1) * batch));
        r.dw.addmm_(dac.narrow(0, 0, batch).t(), h0);
      }
    }
    if (r.du.defined()) r.du.addmm_(dac.t(), x2.narrow(0, begin * batch, len * batch));
    if (r.db.defined()) r.db.add_(dac.sum(0));
    if (r.dx.defined()) {
      at::Tensor dxc = r.dx.view({steps * batch, d}).narrow(0, begin * batch, len * batch);
      at::mm_out(dxc, dac, w_ih);
    }
  }
}

void check(const at::Tensor& x, const char* name, int64_t ndim) {
  TORCH_CHECK(x.device().is_cpu(), "nnrnn_elman: ", name, " must be a CPU tensor");
  TORCH_CHECK(x.is_contiguous(), "nnrnn_elman: ", name, " must be contiguous");
  TORCH_CHECK(x.dim() == ndim, "nnrnn_elman: ", name, " must have ", ndim, " dimensions");
}

}  // namespace

// out (T, B, N) holds U x_t + b on entry and h_t on exit.
void forward_(at::Tensor out, const at::Tensor& h0, const at::Tensor& w, int64_t act) {
  check(out, "out", 3);
  check(h0, "h0", 2);
  check(w, "weight_hh", 2);
  TORCH_CHECK(act >= 0 && act <= 2, "nnrnn_elman: unknown nonlinearity code ", act);
  TORCH_CHECK(h0.scalar_type() == out.scalar_type() && w.scalar_type() == out.scalar_type(),
              "nnrnn_elman: dtypes differ");
  if (out.scalar_type() == at::kFloat) {
    forward_impl<float>(out, h0, w, act);
  } else if (out.scalar_type() == at::kDouble) {
    forward_impl<double>(out, h0, w, act);
  } else {
    TORCH_CHECK(false, "nnrnn_elman: float32 or float64 only, got ", out.scalar_type());
  }
}

// Gradients (dx, dh0, dU, dW, db) of the loss, given dL/dh for all states (`grad`, optional) and
// for the last state (`grad_last`, optional); a gradient that is not needed comes back undefined.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> backward(
    const c10::optional<at::Tensor>& grad, const c10::optional<at::Tensor>& grad_last, const at::Tensor& out,
    const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_ih, const at::Tensor& w_hh, int64_t act,
    bool need_x, bool need_h0, bool need_w_ih, bool need_w_hh, bool need_b, int64_t chunk) {
  check(out, "out", 3);
  check(x, "x", 3);
  check(h0, "h0", 2);
  check(w_ih, "weight_ih", 2);
  check(w_hh, "weight_hh", 2);
  if (grad.has_value()) {
    check(*grad, "grad", 3);
    TORCH_CHECK(grad->sizes() == out.sizes(), "nnrnn_elman: grad and out shapes differ");
  }
  if (grad_last.has_value()) {
    check(*grad_last, "grad_last", 2);
    TORCH_CHECK(grad_last->sizes() == h0.sizes(), "nnrnn_elman: grad_last and h0 shapes differ");
  }
  TORCH_CHECK(act >= 0 && act <= 2, "nnrnn_elman: unknown nonlinearity code ", act);
  const auto opt = out.options();
  const int64_t n = out.size(2), d = x.size(2);
  Grads r;
  if (need_x) r.dx = at::empty({out.size(0), out.size(1), d}, opt);
  if (need_h0) r.dh0 = at::empty({out.size(1), n}, opt);
  if (need_w_ih) r.du = at::zeros({n, d}, opt);
  if (need_w_hh) r.dw = at::zeros({n, n}, opt);
  if (need_b) r.db = at::zeros({n}, opt);
  if (out.scalar_type() == at::kFloat) {
    backward_impl<float>(grad, grad_last, out, x, h0, w_ih, w_hh, act, chunk, r);
  } else if (out.scalar_type() == at::kDouble) {
    backward_impl<double>(grad, grad_last, out, x, h0, w_ih, w_hh, act, chunk, r);
  } else {
    TORCH_CHECK(false, "nnrnn_elman: float32 or float64 only, got ", out.scalar_type());
  }
  return std::make_tuple(r.dx, r.dh0, r.du, r.dw, r.db);
}

// ---------------------------------------------------------------------------------------------
// Lockstep training (nnrnn.lockstep): K independent runs of the same shape, stacked on a leading
// dimension. Each run's loop is exactly the single-run loop above, on its own contiguous slice,
// so a run's states and gradients do not depend on which other runs share the group. The runs
// are spread over torch's intra-op threads (each run on one BLAS thread): no synchronisation
// inside the time loop.

// out (K, T, B, N) holds U x_t + b on entry and h_t on exit; h0 (K, B, N); w (K, N, N).
void forward_batched_(at::Tensor out, const at::Tensor& h0, const at::Tensor& w, int64_t act) {
  check(out, "out", 4);
  check(h0, "h0", 3);
  check(w, "weight_hh", 3);
  TORCH_CHECK(act >= 0 && act <= 2, "nnrnn_elman: unknown nonlinearity code ", act);
  TORCH_CHECK(h0.scalar_type() == out.scalar_type() && w.scalar_type() == out.scalar_type(),
              "nnrnn_elman: dtypes differ");
  TORCH_CHECK(h0.size(0) == out.size(0) && w.size(0) == out.size(0), "nnrnn_elman: run counts differ");
  TORCH_CHECK(out.scalar_type() == at::kFloat || out.scalar_type() == at::kDouble,
              "nnrnn_elman: float32 or float64 only, got ", out.scalar_type());
  at::parallel_for(0, out.size(0), 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      at::Tensor o = out.select(0, k);
      if (out.scalar_type() == at::kFloat) {
        forward_impl<float>(o, h0.select(0, k), w.select(0, k), act);
      } else {
        forward_impl<double>(o, h0.select(0, k), w.select(0, k), act);
      }
    }
  });
}

// Gradients (dx, dh0, dU, dW, db) of K stacked runs; shapes as in `backward` with a leading K.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> backward_batched(
    const c10::optional<at::Tensor>& grad, const c10::optional<at::Tensor>& grad_last, const at::Tensor& out,
    const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w_ih, const at::Tensor& w_hh, int64_t act,
    bool need_x, bool need_h0, bool need_w_ih, bool need_w_hh, bool need_b, int64_t chunk) {
  check(out, "out", 4);
  check(x, "x", 4);
  check(h0, "h0", 3);
  check(w_ih, "weight_ih", 3);
  check(w_hh, "weight_hh", 3);
  if (grad.has_value()) {
    check(*grad, "grad", 4);
    TORCH_CHECK(grad->sizes() == out.sizes(), "nnrnn_elman: grad and out shapes differ");
  }
  if (grad_last.has_value()) {
    check(*grad_last, "grad_last", 3);
    TORCH_CHECK(grad_last->sizes() == h0.sizes(), "nnrnn_elman: grad_last and h0 shapes differ");
  }
  TORCH_CHECK(act >= 0 && act <= 2, "nnrnn_elman: unknown nonlinearity code ", act);
  TORCH_CHECK(out.scalar_type() == at::kFloat || out.scalar_type() == at::kDouble,
              "nnrnn_elman: float32 or float64 only, got ", out.scalar_type());
  const auto opt = out.options();
  const int64_t runs = out.size(0), n = out.size(3), d = x.size(3);
  Grads all;
  if (need_x) all.dx = at::empty({runs, out.size(1), out.size(2), d}, opt);
  if (need_h0) all.dh0 = at::empty({runs, out.size(2), n}, opt);
  if (need_w_ih) all.du = at::zeros({runs, n, d}, opt);
  if (need_w_hh) all.dw = at::zeros({runs, n, n}, opt);
  if (need_b) all.db = at::zeros({runs, n}, opt);
  at::parallel_for(0, runs, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      Grads r;
      if (need_x) r.dx = all.dx.select(0, k);
      if (need_h0) r.dh0 = all.dh0.select(0, k);
      if (need_w_ih) r.du = all.du.select(0, k);
      if (need_w_hh) r.dw = all.dw.select(0, k);
      if (need_b) r.db = all.db.select(0, k);
      const c10::optional<at::Tensor> gk =
          grad.has_value() ? c10::optional<at::Tensor>(grad->select(0, k)) : c10::nullopt;
      const c10::optional<at::Tensor> glk =
          grad_last.has_value() ? c10::optional<at::Tensor>(grad_last->select(0, k)) : c10::nullopt;
      if (out.scalar_type() == at::kFloat) {
        backward_impl<float>(gk, glk, out.select(0, k), x.select(0, k), h0.select(0, k), w_ih.select(0, k),
                             w_hh.select(0, k), act, chunk, r);
      } else {
        backward_impl<double>(gk, glk, out.select(0, k), x.select(0, k), h0.select(0, k), w_ih.select(0, k),
                              w_hh.select(0, k), act, chunk, r);
      }
    }
  });
  return std::make_tuple(all.dx, all.dh0, all.du, all.dw, all.db);
}

// Ask Linux for transparent huge pages on the 2 MiB-aligned interior of a fresh, untouched
// buffer. A (784, 128, 100) float state buffer is 40 MB: touching it page by page costs about
// 30 ms of page faults on every call, versus about 5 ms with huge pages. Only this buffer's
// mapping changes; returns whether the kernel accepted the advice.
bool advise_hugepages(const at::Tensor& t) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t huge = uintptr_t(2) << 20;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(t.data_ptr());
  const uintptr_t end = begin + static_cast<uintptr_t>(t.nbytes());
  const uintptr_t b = (begin + huge - 1) & ~(huge - 1), e = end & ~(huge - 1);
  if (e <= b) return false;
  return madvise(reinterpret_cast<void*>(b), e - b, MADV_HUGEPAGE) == 0;
#else
  (void)t;
  return false;
#endif
}

bool has_blas() { return blas().sgemm != nullptr && blas().dgemm != nullptr; }

void set_blas(bool on) { g_use_blas = on; }

void set_sequential_macs(int64_t macs) { g_sequential_macs = macs; }

// Registered as torch.ops.nnrnn_elman.* (a plain shared library: no Python headers, fast to build).
TORCH_LIBRARY(nnrnn_elman, m) {
  m.def("forward_(Tensor(a!) out, Tensor h0, Tensor w, int act) -> ()", &forward_);
  m.def(
      "backward(Tensor? grad, Tensor? grad_last, Tensor out, Tensor x, Tensor h0, Tensor w_ih, Tensor w_hh, "
      "int act, bool need_x, bool need_h0, bool need_w_ih, bool need_w_hh, bool need_b, int chunk) "
      "-> (Tensor, Tensor, Tensor, Tensor, Tensor)",
      &backward);
  m.def("forward_batched_(Tensor(a!) out, Tensor h0, Tensor w, int act) -> ()", &forward_batched_);
  m.def(
      "backward_batched(Tensor? grad, Tensor? grad_last, Tensor out, Tensor x, Tensor h0, Tensor w_ih, "
      "Tensor w_hh, int act, bool need_x, bool need_h0, bool need_w_ih, bool need_w_hh, bool need_b, int chunk) "
      "-> (Tensor, Tensor, Tensor, Tensor, Tensor)",
      &backward_batched);
  m.def("has_blas() -> bool", &has_blas);
  m.def("advise_hugepages(Tensor t) -> bool", &advise_hugepages);
  m.def("set_blas(bool on) -> ()", &set_blas);
  m.def("set_sequential_macs(int macs) -> ()", &set_sequential_macs);
}

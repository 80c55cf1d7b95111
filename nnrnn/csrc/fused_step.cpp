// One whole training step of one run of the Elman RNN task models, in one call (nnrnn.fused).
//
// h_t = f(W h_{t-1} + U x_t + b) from h_0 = 0, a linear readout z = V h + c at every step or at the
// last step, the task's loss, backward through time, global-norm clipping and an RMSprop update of
// the five parameters in place: the same recipe as nnrnn.train's reference step (torch.optim.RMSprop
// with eps outside the square root, torch.nn.utils.clip_grad_norm_), with no Python in between.
//
// Every buffer is passed in by the caller and reused from one update to the next, so a step in the
// steady state allocates no tensor memory. Row-major, contiguous tensors:
//   x (B, S, d) batch first, as the task data give it; xt (S, B, d + 1) its time-major copy with
//   a column of ones; states H (S, B, N); dstates D (S, B, N): first dL/dh, then, in place, dL/da
//   (pre-activations); logits Z (S*B, O) per step or (B, O) last step: first the logits, then, in
//   place, dL/dz; scratch N (N + 2 (d + 1)) values. Parameters U (N, d), W (N, N), b (N), V (O, N),
//   c (O), their gradients and RMSprop square averages in the same shapes.
// Heads: 0 = softmax cross-entropy at every step, mean over S*B (copy); 1 = cross-entropy at the
// last step, mean over B (psMNIST); 2 = mean squared error at the last step, mean over B*O
// (addition). Nonlinearity codes as in elman.cpp: 0 = elu, 1 = relu, 2 = tanh.
//
// Matrix products call the BLAS that libtorch links (sgemm_/dgemm_, looked up at run time, as in
// common.h), falling back to ATen (at::addmm_out on borrowed buffers) where no symbol is exported.

#include <ATen/core/Tensor.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/from_blob.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <tuple>
#include <type_traits>
#include <vector>

#include "common.h"

namespace {

// Per-step products below this many multiply-adds run on one BLAS thread (as in elman.cpp).
constexpr int64_t kSequentialMacs = int64_t(1) << 20;

// Column-major C = alpha op(A) op(B) + beta C (BLAS conventions), or ATen where BLAS is missing.
template <typename T>
void gemm(char ta, char tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  const int im = int(m), in = int(n), ik = int(k), ila = int(lda), ilb = int(ldb), ilc = int(ldc);
  if (g_use_blas) {
    if constexpr (std::is_same_v<T, float>) {
      if (blas().sgemm != nullptr) {
        blas().sgemm(&ta, &tb, &im, &in, &ik, &alpha, a, &ila, b, &ilb, &beta, c, &ilc);
        return;
      }
    } else {
      if (blas().dgemm != nullptr) {
        blas().dgemm(&ta, &tb, &im, &in, &ik, &alpha, a, &ila, b, &ilb, &beta, c, &ilc);
        return;
      }
    }
  }
  // A column-major (rows x cols, ld) matrix is a row-major tensor of strides (1, ld).
  const auto opt = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
  auto view = [&](const T* p, char t, int64_t rows, int64_t cols, int64_t ld) {
    at::Tensor v = at::from_blob(const_cast<T*>(p), {t == 'N' ? rows : cols, t == 'N' ? cols : rows}, {1, ld}, opt);
    return t == 'N' ? v : v.t();
  };
  at::Tensor cv = at::from_blob(c, {m, n}, {1, ldc}, opt);
  if (k == 0) {
    beta == T(0) ? cv.zero_() : cv.mul_(beta);
    return;
  }
  const at::Tensor av = view(a, ta, m, k, lda), bv = view(b, tb, k, n, ldb);
  if (beta == T(0)) cv.zero_();  // BLAS semantics: C is not read when beta is zero
  cv.addmm_(av, bv, beta == T(0) ? T(1) : beta, alpha);
}

#define NNRNN_CLONES NNRNN_TARGET_CLONES("avx512f", "avx2", "default")

NNRNN_CLONES void activate_f32(float* a, int64_t n, int64_t act) {
  if (act == 0) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = a[i];
      const float e = expm1_nonpos(v);
      a[i] = v <= 0.0f ? e : v;
    }
  } else if (act == 1) {
    for (int64_t i = 0; i < n; ++i) a[i] = a[i] < 0.0f ? 0.0f : a[i];
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const float v = a[i];
      const float e = expm1_nonpos(-2.0f * std::fabs(v));
      const float t = std::copysign(-e / (2.0f + e), v);
      a[i] = v != v ? v : t;
    }
  }
}

void activate(float* a, int64_t n, int64_t act) { activate_f32(a, n, act); }

void activate(double* a, int64_t n, int64_t act) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = a[i];
    a[i] = act == 0 ? (v <= 0.0 ? std::expm1(v) : v) : act == 1 ? (v < 0.0 ? 0.0 : v) : std::tanh(v);
  }
}

// d <- d * f'(a) in place, with f' computed from the outputs h = f(a).
template <typename T>
NNRNN_CLONES void times_act_grad(T* d, const T* h, int64_t n, int64_t act) {
  if (act == 0) {
    for (int64_t i = 0; i < n; ++i) d[i] *= (h[i] < T(0) ? h[i] : T(0)) + T(1);
  } else if (act == 1) {
    for (int64_t i = 0; i < n; ++i) d[i] = h[i] > T(0) ? d[i] : T(0);
  } else {
    for (int64_t i = 0; i < n; ++i) d[i] *= T(1) - h[i] * h[i];
  }
}

inline float exp_nonpos(float x) { return expm1_nonpos(x) + 1.0f; }
inline double exp_nonpos(double x) { return std::exp(x); }

// Softmax cross-entropy of `rows` rows of `o` logits, in place: returns the sum of the losses
// (log-sum-exp minus the target's logit) and leaves (softmax - onehot(target)) * scale in z.
template <typename T>
double cross_entropy_(T* z, int64_t rows, int64_t o, const int64_t* target, int64_t target_stride, T scale) {
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    T* zr = z + r * o;
    const int64_t y = target[r * target_stride];
    TORCH_CHECK_VALUE(y >= 0 && y < o, "nnrnn_fused: target class ", y, " is outside [0, ", o, ")");
    T mx = zr[0];
    for (int64_t j = 1; j < o; ++j) mx = zr[j] > mx ? zr[j] : mx;
    if (!std::isfinite(mx)) return std::numeric_limits<double>::quiet_NaN();
    const T zy = zr[y] - mx;
    T sum = 0;
    for (int64_t j = 0; j < o; ++j) {
      zr[j] = exp_nonpos(zr[j] - mx);
      sum += zr[j];
    }
    total += std::log(static_cast<double>(sum)) - static_cast<double>(zy);  // log-sum-exp - z_y
    const T inv = scale / sum;
    for (int64_t j = 0; j < o; ++j) zr[j] *= inv;
    zr[y] -= scale;
  }
  return total;
}

template <typename T>
void fill_rows(T* out, int64_t rows, const T* row, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) std::memcpy(out + r * n, row, sizeof(T) * n);
}

// Column sums of a (rows, n) matrix, accumulated in double.
template <typename T>
void column_sums(const T* a, int64_t rows, int64_t n, T* out) {
  thread_local std::vector<double> acc;
  acc.assign(n, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const T* ar = a + r * n;
    for (int64_t j = 0; j < n; ++j) acc[j] += ar[j];
  }
  for (int64_t j = 0; j < n; ++j) out[j] = static_cast<T>(acc[j]);
}

struct Dims {
  int64_t batch, steps, d, n, o;
};

// Rows (steps x batch) per chunk of the forward and backward passes: a chunk's states and
// dstates rows (2 x 400 KB at N = 100) stay in a core's L2 cache between the products over the
// chunk (input projection; weight gradients) and the step loop.
// Set with set_chunk_rows() (the tests use small chunks to cross chunk boundaries).
int64_t g_chunk_rows = 1024;

// The loss of one batch and the raw (unclipped) gradients; returns the loss (NaN/inf if not finite,
// in which case the gradients are not computed). The inputs carry a column of ones, so that the
// bias enters the input projection, and its gradient the dU product, as one more column.
template <typename T>
double loss_and_grads(const Dims& s, const T* x, const at::Tensor& y, const T* const* p, T* const* g, T* xa, T* h,
                      T* dh, T* z, T* scratch, int64_t act, int64_t head) {
  const int64_t B = s.batch, S = s.steps, d = s.d, N = s.n, O = s.o, SB = S * B, BN = B * N, da = d + 1;
  const T *u = p[0], *w = p[1], *b = p[2], *v = p[3], *c = p[4];
  T* wt = scratch;           // W^T (N, N), so that BLAS runs 'N','N' in the forward loop
  T* ua = wt + N * N;        // [U | b] (N, d + 1)
  T* dua = ua + N * da;      // [dU | db] (N, d + 1)
  const bool per_step = head == 0;
  const bool one_thread = B * N * N < kSequentialMacs;
  // time-major inputs with a ones column, then every input projection in one product: H = xa [U | b]^T
  for (int64_t bi = 0; bi < B; ++bi)
    for (int64_t t = 0; t < S; ++t) {
      T* row = xa + (t * B + bi) * da;
      std::memcpy(row, x + (bi * S + t) * d, sizeof(T) * d);
      row[d] = T(1);
    }
  for (int64_t i = 0; i < N; ++i) {
    std::memcpy(ua + i * da, u + i * d, sizeof(T) * d);
    ua[i * da + d] = b[i];
    for (int64_t j = 0; j < N; ++j) wt[j * N + i] = w[i * N + j];
  }
  // the recurrence, chunk by chunk: the chunk's input projections in one product, then
  // H_t += H_{t-1} W^T and f, in place (the chunk stays in cache between the two)
  const int64_t chunk = std::max<int64_t>(1, g_chunk_rows / B);
  for (int64_t begin = 0; begin < S; begin += chunk) {
    const int64_t end = std::min(S, begin + chunk);
    gemm<T>('T', 'N', N, (end - begin) * B, da, T(1), ua, da, xa + begin * B * da, da, T(0), h + begin * BN, N);
    OneBlasThread one(one_thread);
    for (int64_t t = begin; t < end; ++t) {
      T* cur = h + t * BN;
      if (t > 0) gemm<T>('N', 'N', N, B, N, T(1), wt, N, cur - BN, N, T(1), cur, N);
      activate(cur, BN, act);
    }
  }
  // readout and loss; z becomes dL/dz in place
  const int64_t rows = per_step ? SB : B;
  const T* hr = per_step ? h : h + (S - 1) * BN;
  fill_rows(z, rows, c, O);
  gemm<T>('T', 'N', O, rows, N, T(1), v, N, hr, N, T(1), z, O);
  double loss;
  if (head == 2) {
    const T* target = y.data_ptr<T>();
    const T scale = T(2) / T(rows * O);
    double total = 0.0;
    for (int64_t i = 0; i < rows * O; ++i) {
      const T diff = z[i] - target[i];
      total += static_cast<double>(diff) * static_cast<double>(diff);
      z[i] = scale * diff;
    }
    loss = total / static_cast<double>(rows * O);
  } else {
    const int64_t* target = y.data_ptr<int64_t>();
    // per step: row t*B + b holds step t of sequence b, whose target is y[b, t]
    double total = 0.0;
    if (per_step) {
      for (int64_t t = 0; t < S && std::isfinite(total); ++t)
        total += cross_entropy_<T>(z + t * B * O, B, O, target + t, S, T(1) / T(rows));
    } else {
      total = cross_entropy_<T>(z, B, O, target, 1, T(1) / T(rows));
    }
    loss = total / static_cast<double>(rows);
  }
  if (!std::isfinite(static_cast<T>(loss))) return loss;  // no backward pass (beyond T: see step_impl)
  // dV = dZ^T H and dc = column sums of dZ (readout rows only)
  gemm<T>('N', 'T', N, O, rows, T(1), hr, N, z, O, T(0), g[3], N);
  column_sums<T>(z, rows, O, g[4]);
  // backward through time, chunk by chunk from the end: dL/dh from the readout (one product per
  // chunk: every step, or the last step only), then D_t <- D_t f'(H_t), D_{t-1} <- D_t W
  // (+ D_{t-1} per step), then the chunk's share of dW = sum_t D_t^T H_{t-1} and [dU | db] =
  // sum_t D_t^T [x_t | 1], each one product (h_0 = 0 adds nothing to dW).
  if (!per_step) gemm<T>('N', 'N', N, B, O, T(1), v, N, z, O, T(0), dh + (S - 1) * BN, N);
  for (int64_t end = S; end > 0; end -= chunk) {
    const int64_t begin = std::max<int64_t>(0, end - chunk), first = end == S;
    if (per_step) {  // row block end-1 already holds D_end W unless this is the last chunk
      gemm<T>('N', 'N', N, (end - 1 - begin) * B, O, T(1), v, N, z + begin * B * O, O, T(0), dh + begin * BN, N);
      gemm<T>('N', 'N', N, B, O, T(1), v, N, z + (end - 1) * B * O, O, first ? T(0) : T(1), dh + (end - 1) * BN, N);
    }
    {
      OneBlasThread one(one_thread);
      for (int64_t t = end - 1; t >= begin; --t) {
        T* dt = dh + t * BN;
        times_act_grad<T>(dt, h + t * BN, BN, act);
        if (t > 0) {
          // the first step of a chunk writes into the next chunk, whose readout term comes later
          const T beta = per_step && t > begin ? T(1) : T(0);
          gemm<T>('N', 'N', N, B, N, T(1), w, N, dt, N, beta, dt - BN, N);
        }
      }
    }
    const int64_t lo = std::max<int64_t>(begin, 1);
    gemm<T>('N', 'T', N, N, (end - lo) * B, T(1), h + (lo - 1) * BN, N, dh + lo * BN, N, first ? T(0) : T(1), g[1], N);
    gemm<T>('N', 'T', da, N, (end - begin) * B, T(1), xa + begin * B * da, da, dh + begin * BN, N,
            first ? T(0) : T(1), dua, da);
  }
  for (int64_t i = 0; i < N; ++i) {
    std::memcpy(g[0] + i * d, dua + i * da, sizeof(T) * d);
    g[2][i] = dua[i * da + d];
  }
  return loss;
}

void check(const at::Tensor& t, const char* name, at::ScalarType dtype, int64_t numel) {
  TORCH_CHECK_VALUE(t.device().is_cpu() && t.is_contiguous(), "nnrnn_fused: ", name, " must be a contiguous CPU tensor");
  TORCH_CHECK_VALUE(t.scalar_type() == dtype, "nnrnn_fused: ", name, " must be ", dtype, ", got ", t.scalar_type());
  TORCH_CHECK_VALUE(t.numel() >= numel, "nnrnn_fused: ", name, " holds ", t.numel(), " values, needs ", numel);
}

template <typename T>
std::tuple<double, double> step_impl(const at::Tensor& x, const at::Tensor& y, const std::vector<at::Tensor>& params,
                                     const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& square,
                                     const at::Tensor& xt, const at::Tensor& states, const at::Tensor& dstates,
                                     const at::Tensor& logits, const at::Tensor& scratch, int64_t act, int64_t head,
                                     double lr, double alpha, double eps, double clip) {
  const at::ScalarType dt = x.scalar_type();
  TORCH_CHECK_VALUE(params.size() == 5 && grads.size() == 5 && square.size() == 5,
              "nnrnn_fused: expected 5 parameters, gradients and square averages");
  TORCH_CHECK_VALUE(x.dim() == 3, "nnrnn_fused: x must be (batch, steps, inputs), got ", x.dim(), " dimensions");
  const Dims s{x.size(0), x.size(1), x.size(2), params[1].size(0), params[3].size(0)};
  TORCH_CHECK_VALUE(s.batch > 0 && s.steps > 0, "nnrnn_fused: x must hold at least one step of one sequence");
  const int64_t sizes[5] = {s.n * s.d, s.n * s.n, s.n, s.o * s.n, s.o};
  const char* names[5] = {"weight_ih", "weight_hh", "bias", "readout.weight", "readout.bias"};
  const T* p[5];
  T* g[5];
  for (int i = 0; i < 5; ++i) {
    check(params[i], names[i], dt, sizes[i]);
    check(grads[i], "gradient", dt, sizes[i]);
    check(square[i], "square average", dt, sizes[i]);
    TORCH_CHECK_VALUE(params[i].numel() == sizes[i], "nnrnn_fused: ", names[i], " has ", params[i].numel(),
                " values, expected ", sizes[i]);
    p[i] = params[i].data_ptr<T>();
    g[i] = grads[i].data_ptr<T>();
  }
  check(x, "x", dt, 0);
  const int64_t sbn = s.steps * s.batch * s.n;
  check(xt, "xt", dt, s.steps * s.batch * (s.d + 1));
  check(states, "states", dt, sbn);
  check(dstates, "dstates", dt, sbn);
  check(logits, "logits", dt, (head == 0 ? s.steps : 1) * s.batch * s.o);
  check(scratch, "scratch", dt, s.n * (s.n + 2 * (s.d + 1)));
  if (head == 2) {
    check(y, "target", dt, s.batch * s.o);
    TORCH_CHECK_VALUE(y.numel() == s.batch * s.o, "nnrnn_fused: target must hold batch x outputs values");
  } else {
    check(y, "target", at::kLong, 0);
    TORCH_CHECK_VALUE(y.numel() == (head == 0 ? s.steps : 1) * s.batch, "nnrnn_fused: target must hold ",
                head == 0 ? "batch x steps" : "batch", " class indices, got ", y.numel());
  }
  FlushDenormals ftz;
  const double loss64 = loss_and_grads<T>(s, x.data_ptr<T>(), y, p, g, xt.data_ptr<T>(), states.data_ptr<T>(),
                                        dstates.data_ptr<T>(), logits.data_ptr<T>(), scratch.data_ptr<T>(), act, head);
  // the loss and the norm are accumulated in double and then rounded to T, as the reference's
  // tensors are: a value beyond T's range is infinite here too, and the run diverges as it would there
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double loss = static_cast<double>(static_cast<T>(loss64));
  if (!std::isfinite(loss)) return std::make_tuple(loss, nan);
  // global norm, and the clipping factor as torch.nn.utils.clip_grad_norm_ computes it
  double sq = 0.0;
  for (int i = 0; i < 5; ++i)
    for (int64_t j = 0; j < sizes[i]; ++j) sq += static_cast<double>(g[i][j]) * static_cast<double>(g[i][j]);
  // clip_grad_norm_ sums the squares in T: a sum beyond T's range gives an infinite norm there, and here
  const double norm = std::isfinite(static_cast<T>(sq)) ? static_cast<double>(static_cast<T>(std::sqrt(sq)))
                                                        : std::numeric_limits<double>::infinity();
  if (!std::isfinite(norm)) return std::make_tuple(loss, norm);
  const T coef = static_cast<T>(std::min(1.0, clip / (norm + 1e-6)));
  // RMSprop (torch.optim.RMSprop, not centered, no momentum): s <- alpha s + (1 - alpha) g^2,
  // p <- p - lr g / (sqrt(s) + eps), with g the clipped gradient
  const T ta = static_cast<T>(alpha), tb = static_cast<T>(1.0 - alpha), te = static_cast<T>(eps);
  const T tl = static_cast<T>(lr);
  for (int i = 0; i < 5; ++i) {
    T* pi = params[i].data_ptr<T>();
    T* si = square[i].data_ptr<T>();
    const T* gi = g[i];
    for (int64_t j = 0; j < sizes[i]; ++j) {
      const T gc = gi[j] * coef;
      si[j] = si[j] * ta + tb * gc * gc;
      pi[j] -= tl * (gc / (std::sqrt(si[j]) + te));
    }
  }
  return std::make_tuple(loss, norm);
}

}  // namespace

// One update; returns (loss, pre-clip gradient norm). A non-finite loss returns before the
// backward pass (norm NaN) and a non-finite norm before the update: the parameters and square
// averages are then unchanged, and the caller records the run as diverged.
std::tuple<double, double> step(const at::Tensor& x, const at::Tensor& y, const std::vector<at::Tensor>& params,
                                const std::vector<at::Tensor>& grads, const std::vector<at::Tensor>& square,
                                const at::Tensor& xt, const at::Tensor& states, const at::Tensor& dstates,
                                const at::Tensor& logits, const at::Tensor& scratch, int64_t act, int64_t head, double lr,
                                double alpha, double eps, double clip) {
  TORCH_CHECK_VALUE(act >= 0 && act <= 2, "nnrnn_fused: unknown nonlinearity code ", act);
  TORCH_CHECK_VALUE(head >= 0 && head <= 2, "nnrnn_fused: unknown head code ", head);
  if (x.scalar_type() == at::kFloat)
    return step_impl<float>(x, y, params, grads, square, xt, states, dstates, logits, scratch, act, head, lr, alpha, eps,
                            clip);
  TORCH_CHECK_VALUE(x.scalar_type() == at::kDouble, "nnrnn_fused: float32 or float64 only, got ", x.scalar_type());
  return step_impl<double>(x, y, params, grads, square, xt, states, dstates, logits, scratch, act, head, lr, alpha, eps,
                           clip);
}

bool has_blas() { return blas().sgemm != nullptr && blas().dgemm != nullptr; }

void set_blas(bool on) { g_use_blas = on; }

void set_chunk_rows(int64_t rows) {
  TORCH_CHECK_VALUE(rows >= 1, "nnrnn_fused: chunk rows must be positive, got ", rows);
  g_chunk_rows = rows;
}

TORCH_LIBRARY(nnrnn_fused, m) {
  m.def(
      "step(Tensor x, Tensor y, Tensor(a!)[] params, Tensor(b!)[] grads, Tensor(c!)[] square, Tensor(d!) xt, "
      "Tensor(e!) states, Tensor(f!) dstates, Tensor(g!) logits, Tensor(h!) scratch, int act, int head, float lr, float alpha, float eps, float clip) "
      "-> (float, float)",
      &step);
  m.def("has_blas() -> bool", &has_blas);
  m.def("set_blas(bool on) -> ()", &set_blas);
  m.def("set_chunk_rows(int rows) -> ()", &set_chunk_rows);
}

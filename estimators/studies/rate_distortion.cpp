// study `rate_distortion`: the rate–distortion view of the information bottleneck.
// - `data: fashion_mnist`: a β-VAE (Gaussian encoder 784–H–2K, Bernoulli decoder K–H–784) on Fashion-MNIST
//   binarized at 0.5, trained with Adam on distortion + β·rate; on the test set it reports the rate
//   R = E KL(q(z|x) ‖ N(0, I)) (≥ I(X;Z)), the distortion D = E[−log p(x|z)] and −(D + R), the ELBO
//   (Alemi et al. 2018, "Fixing a Broken ELBO": the β sweep traces the R–D curve).
// - `data: linear_gaussian`: x ~ N(0, I_d), a linear-Gaussian encoder q(z|x) = N(Ax, σ²I_K) with A (K×d)
//   drawn from `data_seed`. Everything is Gaussian, so I(X;Z) = ½ log det(S)/σ^{2K} and the aggregate
//   q(z) = N(0, S), S = AAᵀ + σ²I, are exact; the rate is measured by Monte Carlo over `replicates` draws of x
//   and compared with the seed identity E_x KL(q(z|x) ‖ r) = I(X;Z) + KL(q(z) ‖ r) for r = N(0, I).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "vibench/math/linalg.hpp"
#include "vibench/math/stats.hpp"
#include "vibench/nn/beta_vae_model.hpp"
#include "vibench/plugin/minibatch_training.hpp"
#include "vibench/plugin/replicate_reduction.hpp"
#include "vibench/plugin/study.hpp"
#include "vibench/plugin/work_counter.hpp"

namespace {

using namespace vibench;

struct Sizes {
  std::size_t train_n, test_n, batch, epochs;
};

Sizes sizes(const Params& p) {
  const auto train_n = static_cast<std::size_t>(p.get_int("train_examples"));
  const auto test_n = static_cast<std::size_t>(p.get_int("test_examples"));
  return {train_n ? train_n : 60000, test_n ? test_n : 10000, static_cast<std::size_t>(p.get_int("batch_size")),
          static_cast<std::size_t>(p.get_int("epochs"))};
}

void binarize(Matrix& x) {
  for (std::size_t i = 0; i < x.rows() * x.cols(); ++i) x.data()[i] = x.data()[i] > 0.5 ? 1.0 : 0.0;
}

CellResult run_beta_vae(const CellContext& ctx, const Params& p) {
  const Sizes s = sizes(p);
  const std::vector<std::size_t> hidden(static_cast<std::size_t>(p.get_int("hidden_layers")),
                                        static_cast<std::size_t>(p.get_int("hidden_units")));
  const BetaVaeModel model(784, hidden, static_cast<std::size_t>(p.get_int("latent_dim")));
  const double beta = p.get_double("beta");
  const LabeledImages& train = fashion_mnist(true);
  const LabeledImages& test = fashion_mnist(false);
  MinibatchTraining st(model.num_params(), Adam(model.num_params(), p.get_double("learning_rate")),
                       /*sums and series: rate, distortion*/ 2, 2);
  std::vector<double> grad(st.params.size());
  BetaVaeWorkspace ws;
  Matrix x, eps;
  std::vector<std::uint8_t> labels;
  const bool finished = train_minibatches(
      ctx, st, s.train_n, s.batch, s.epochs,
      [&](MinibatchTraining& st) {
        Rng init(ctx.seed, ctx.cell_key, 0, streams::init);
        model.init(st.params.data(), init);
      },
      [](MinibatchTraining&) {},  // a constant learning rate
      [&](MinibatchTraining& st, const std::vector<std::size_t>& order, std::size_t begin, std::size_t end) {
        gather_batch(train, order, begin, end, x, labels);
        binarize(x);
        eps.resize(x.rows(), model.latent());
        Rng noise(ctx.seed, ctx.cell_key, st.step, streams::training);
        noise.normals(eps.data(), x.rows() * model.latent());
        const RateDistortion rd = model.loss(st.params.data(), x, eps, beta, grad.data(), ws);
        if (!std::isfinite(rd.rate) || !std::isfinite(rd.distortion)) return false;
        st.adam.step(st.params.data(), grad.data(), /*ascend=*/false);
        st.epoch_sums[0] += rd.rate * static_cast<double>(x.rows());
        st.epoch_sums[1] += rd.distortion * static_cast<double>(x.rows());
        return true;
      },
      [&](MinibatchTraining& st) {
        for (std::size_t i = 0; i < 2; ++i) st.records[i].push_back(st.epoch_sums[i] / static_cast<double>(s.train_n));
      });
  if (!finished) return diverged_training(st.step);
  CellResult r;
  const std::vector<double>& params = st.params;
  std::vector<std::size_t> all(s.test_n);
  std::iota(all.begin(), all.end(), std::size_t{0});
  Rng probe(ctx.seed, ctx.cell_key, 0, streams::probe);
  double rate = 0, distortion = 0;  // test-set means: batch means weighted by batch size
  for (std::size_t b = 0; b < s.test_n; b += 500) {
    gather_batch(test, all, b, std::min(b + 500, s.test_n), x, labels);
    binarize(x);
    eps.resize(x.rows(), model.latent());
    probe.normals(eps.data(), x.rows() * model.latent());
    const RateDistortion rd = model.loss(params.data(), x, eps, beta, nullptr, ws);
    rate += rd.rate * static_cast<double>(x.rows());
    distortion += rd.distortion * static_cast<double>(x.rows());
  }
  rate /= static_cast<double>(s.test_n);
  distortion /= static_cast<double>(s.test_n);
  r.add_scalar("rate_nats", rate);
  r.add_scalar("distortion_nats", distortion);
  r.add_scalar("elbo_nats", -(rate + distortion));
  r.add("trajectory_epoch", epoch_numbers(s.epochs));
  r.add("trajectory_train_rate", st.records[0]);
  r.add("trajectory_train_distortion", st.records[1]);
  return r;
}

CellResult run_linear_gaussian(const CellContext& ctx, const Params& p) {
  const auto d = static_cast<std::size_t>(p.get_int("x_dim")), k = static_cast<std::size_t>(p.get_int("latent_dim"));
  const double sigma = p.get_double("encoder_sd"), sigma2 = sigma * sigma;
  Matrix a(k, d);
  Rng data(static_cast<std::uint64_t>(p.get_int("data_seed")), 0, 0, streams::data);
  data.normals(a.data(), k * d);
  for (std::size_t i = 0; i < k * d; ++i) a.data()[i] /= std::sqrt(static_cast<double>(d));
  Matrix cov(k, k);  // S = A Aᵀ + σ² I
  for (std::size_t i = 0; i < k; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      double s = i == j ? sigma2 : 0.0;
      for (std::size_t m = 0; m < d; ++m) s += a(i, m) * a(j, m);
      cov(i, j) = s;
    }
  double trace = 0;
  for (std::size_t i = 0; i < k; ++i) trace += cov(i, i);
  const double log_det_s = linalg::logdet_from_cholesky(linalg::cholesky(cov)), log_det_d = static_cast<double>(k) * std::log(sigma2);
  const double mi = 0.5 * (log_det_s - log_det_d);                                        // I(X;Z)
  const double aggregate_kl = 0.5 * (trace - static_cast<double>(k) - log_det_s);         // KL(N(0,S) ‖ N(0,I))
  // Per x: KL(N(Ax, σ²I) ‖ N(0, I)) = ½(‖Ax‖² + Kσ² − K − K log σ²).
  const auto replicates = static_cast<std::size_t>(p.get_int("replicates"));
  struct Scratch {
    std::vector<double> x;
  };
  ReplicateMoments m = reduce_replicates<Scratch>(ctx.seed, ctx.cell_key, replicates, 1, [&](Scratch& ws, Rng& rng, double* out) {
    ws.x.resize(d);
    rng.normals(ws.x.data(), d);
    double norm = 0;
    for (std::size_t i = 0; i < k; ++i) {
      double s = 0;
      for (std::size_t j = 0; j < d; ++j) s += a(i, j) * ws.x[j];
      norm += s * s;
    }
    out[0] = 0.5 * (norm + static_cast<double>(k) * (sigma2 - 1) - log_det_d);
  });
  const Moments& rate = m.values[0];
  CellResult r;
  r.add_scalar("rate_nats", rate.mean());
  r.add_scalar("rate_se", rate.standard_error());
  r.add_scalar("mi_xz_exact", mi);
  r.add_scalar("aggregate_kl_exact", aggregate_kl);
  r.add_scalar("rate_minus_mi", rate.mean() - mi);
  r.add_scalar("identity_z", (rate.mean() - mi - aggregate_kl) / rate.standard_error());
  return r;
}

class RateDistortionStudy final : public Study {
 public:
  explicit RateDistortionStudy(const Params&) {}

  std::uint64_t work_units(const Config& cell) const override {
    const Params p(cell, "");
    if (p.get_string("data") == "linear_gaussian") return static_cast<std::uint64_t>(p.get_int("replicates"));
    const Sizes s = sizes(p);
    return minibatch_steps(s.train_n, s.batch, s.epochs);
  }
  const char* work_unit_name() const override { return "steps"; }

  MemoryEstimate memory_estimate(const Config& cell) const override {
    const Params p(cell, "");
    const auto size = [&](const char* key) { return static_cast<double>(p.get_int(key)); };
    const double k = size("latent_dim");
    MemoryEstimate e;
    if (p.get_string("data") == "linear_gaussian") {
      const double d = size("x_dim");
      e.add("the encoder matrix A (K x d) and the K x K covariance", doubles(k * d + 3 * k * k), k > d ? "latent_dim" : "x_dim");
      e.add("a draw of x for every worker thread", worker_threads() * doubles(d), "x_dim");
      return e;
    }
    const double h = size("hidden_units"), layers = size("hidden_layers");
    // Encoder 784 -> H ... -> 2K and decoder K -> H ... -> 784, every layer at its widest.
    const double latent_params = k * (3 * (h + 1) + 3 * 784), width_params = 2 * 784 * (h + 1) + 2 * layers * h * h;
    const double params = latent_params + width_params;
    add_fashion_mnist(e);
    add_network(e, params, latent_params > width_params ? "latent_dim" : "hidden_units", std::max(size("batch_size"), 500.0),
                2 * 784 + 2 * layers * h + 4 * k, "batch_size");
    return e;
  }

  std::optional<std::string> unsupported(const Config& cell) const override {
    const Sizes s = sizes(Params(cell, ""));
    if (s.train_n > 60000 || s.test_n > 10000)
      return std::string("Fashion-MNIST has 60000 training and 10000 test examples");
    return std::nullopt;
  }

  CellResult run(const CellContext& ctx) const override {
    const Params p(ctx.config, "");
    return p.get_string("data") == "linear_gaussian" ? run_linear_gaussian(ctx, p) : run_beta_vae(ctx, p);
  }
};

const Register<Study, RateDistortionStudy> registration{{
    .name = "rate_distortion",
    .description = "beta-VAE rate/distortion on Fashion-MNIST, or the exact linear-Gaussian rate = I(X;Z) + KL(q(z)||r) check",
    .reference = "Alemi et al. 2018 (Fixing a Broken ELBO); Higgins et al. 2017",
    .params = {ParamSpec::choice("data", {"fashion_mnist", "linear_gaussian"}, "fashion_mnist", "the source"),
               ParamSpec::real("beta", 1.0, "fashion_mnist: weight of the rate").at_least(0.0),
               ParamSpec::integer("latent_dim", 32, "K, dimension of z").at_least(1),
               ParamSpec::integer("hidden_layers", 1, "fashion_mnist: hidden layers of encoder and decoder").at_least(0),
               ParamSpec::integer("hidden_units", 512, "fashion_mnist: units per hidden layer").at_least(1),
               ParamSpec::integer("epochs", 10, "fashion_mnist: passes over the training examples").at_least(1),
               ParamSpec::integer("batch_size", 100, "fashion_mnist: examples per Adam step").at_least(1),
               ParamSpec::real("learning_rate", 1e-3, "fashion_mnist: Adam learning rate").positive(),
               ParamSpec::integer("train_examples", 0, "fashion_mnist: the first N training examples (0: all)").at_least(0),
               ParamSpec::integer("test_examples", 0, "fashion_mnist: the first N test examples (0: all)").at_least(0),
               ParamSpec::integer("x_dim", 10, "linear_gaussian: dimension of x").at_least(1),
               ParamSpec::real("encoder_sd", 0.5, "linear_gaussian: encoder noise sigma").positive(),
               ParamSpec::integer("data_seed", 0, "linear_gaussian: seed of the encoder matrix A").at_least(0),
               ParamSpec::integer("replicates", 100000, "linear_gaussian: Monte Carlo draws of x").at_least(2)},
}};

}  // namespace

// study `vae`: a VAE trained with the ELBO (k = 1) or the IWAE bound (k > 1, gradient `iwae` or `dreg`) on
// Fashion-MNIST binarized at 0.5 (Burda, Grosse & Salakhutdinov 2016; DReG: Tucker et al. 2019). The model is
// framework/nn/iwae_model.hpp: Gaussian encoder 784–H…–2L ([μ, log σ]), Bernoulli decoder L–…H–784, hidden
// layers `activation` (tanh, the paper's). Adam (β₁ 0.9, β₂ 0.999, ε `adam_epsilon`), batches of `batch_size`,
// `epochs` passes; `lr_schedule: burda` is the paper's: learning rate `learning_rate`·10^(−i/7) in stage i,
// which lasts 3^i passes (so 1 + 3 + 9 + … passes; the paper ran stages 0…7, 3280 passes).
// On the first `eval_examples` test images it reports, per image from `eval_k` draws of z (probe stream,
// replicate = image index, so the numbers do not depend on batching), the ELBO (the mean of log w), IWAE-5
// and IWAE-k (means over disjoint groups of 5 and of k draws), and IWAE-eval_k — the test log-likelihood
// estimate — with standard errors over images and the paired gaps between them; on the first `test_examples`
// test images the activity Cov_x(E_q[u]) of every latent unit u and the count of active units (> 10⁻²,
// Burda et al. §5.2). Training records the mean training bound per epoch.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "vibench/data/fashion_mnist.hpp"
#include "vibench/math/stats.hpp"
#include "vibench/nn/iwae_model.hpp"
#include "vibench/plugin/minibatch_training.hpp"
#include "vibench/plugin/study.hpp"
#include "vibench/plugin/work_counter.hpp"

namespace {

using namespace vibench;

constexpr std::size_t pixels = 784;

struct VaeSetup {
  IwaeModel model;
  std::size_t k, train_n, test_n, eval_n, eval_k, batch, epochs;
  IwaeGradient gradient;
};

VaeSetup setup(const Params& p) {
  const std::vector<std::size_t> hidden(static_cast<std::size_t>(p.get_int("hidden_layers")),
                                        static_cast<std::size_t>(p.get_int("hidden_units")));
  const auto count = [&](const char* key, std::size_t all) {
    const auto n = static_cast<std::size_t>(p.get_int(key));
    return n ? n : all;
  };
  return {IwaeModel(pixels, hidden, static_cast<std::size_t>(p.get_int("latent_dim")), parse_activation(p.get_string("activation"))),
          static_cast<std::size_t>(p.get_int("k")),
          count("train_examples", 60000),
          count("test_examples", 10000),
          static_cast<std::size_t>(p.get_int("eval_examples")),
          static_cast<std::size_t>(p.get_int("eval_k")),
          static_cast<std::size_t>(p.get_int("batch_size")),
          static_cast<std::size_t>(p.get_int("epochs")),
          p.get_string("gradient") == "dreg" ? IwaeGradient::dreg : IwaeGradient::iwae};
}

void binarize(Matrix& x) {
  for (std::size_t i = 0; i < x.rows() * x.cols(); ++i) x.data()[i] = x.data()[i] > 0.5 ? 1.0 : 0.0;
}

// Burda et al. §5: stage i of the schedule lasts 3^i passes at learning rate α·10^(−i/7).
double burda_learning_rate(double lr0, std::size_t epoch) {
  std::size_t stage = 0, end = 1, length = 1;
  while (epoch >= end) {
    length *= 3;
    end += length;
    ++stage;
  }
  return lr0 * std::pow(10.0, -static_cast<double>(stage) / 7.0);
}

// The mean over ⌊K/k⌋ disjoint groups of k consecutive log weights of log (1/k) Σ_group w: an estimate of IWAE-k.
double grouped_bound(const double* log_w, std::size_t total, std::size_t k) {
  const std::size_t groups = total / k;
  double s = 0;
  for (std::size_t g = 0; g < groups; ++g) s += log_mean_exp(log_w + g * k, k);
  return s / static_cast<double>(groups);
}

class VaeStudy final : public Study {
 public:
  explicit VaeStudy(const Params&) {}

  std::uint64_t work_units(const Config& cell) const override {
    const VaeSetup s = setup(Params(cell, ""));
    return static_cast<std::uint64_t>(minibatch_steps(s.train_n, s.batch, s.epochs));
  }
  const char* work_unit_name() const override { return "steps"; }

  MemoryEstimate memory_estimate(const Config& cell) const override {
    const Params p(cell, "");
    const auto size = [&](const char* key) { return static_cast<double>(p.get_int(key)); };
    const double h = size("hidden_units"), l = size("latent_dim"), layers = size("hidden_layers");
    // Encoder 784 -> H ... -> 2L and decoder L -> H ... -> 784, every layer at its widest.
    const double latent_params = l * (3 * (h + 1) + 3 * pixels), width_params = 2 * pixels * (h + 1) + 2 * layers * h * h;
    const double train_rows = size("batch_size") * size("k"), eval_rows = size("eval_k");
    MemoryEstimate e;
    add_fashion_mnist(e);
    add_network(e, latent_params + width_params, latent_params > width_params ? "latent_dim" : "hidden_units",
                std::max({train_rows, eval_rows, 500.0}), 3 * pixels + 2 * layers * h + 6 * l,
                train_rows > eval_rows ? "k" : "eval_k");
    return e;
  }

  std::optional<std::string> unsupported(const Config& cell) const override {
    const VaeSetup s = setup(Params(cell, ""));
    if (s.train_n > 60000 || s.test_n > 10000)
      return std::string("Fashion-MNIST has 60000 training and 10000 test examples");
    if (s.eval_n > s.test_n) return std::string("eval_examples exceeds test_examples");
    if (s.eval_k < std::max<std::size_t>(s.k, 5))
      return std::string("eval_k must be at least 5 and at least k (IWAE-5 and IWAE-k are read off the eval_k draws)");
    return std::nullopt;
  }

  CellResult run(const CellContext& ctx) const override {
    const Params p(ctx.config, "");
    const VaeSetup s = setup(p);
    const IwaeModel& model = s.model;
    const std::size_t l = model.latent();
    const LabeledImages& train = fashion_mnist(true);
    const LabeledImages& test = fashion_mnist(false);
    const double lr0 = p.get_double("learning_rate");
    const bool burda_schedule = p.get_string("lr_schedule") == "burda";

    MinibatchTraining st(model.num_params(), Adam(model.num_params(), lr0, 0.9, 0.999, p.get_double("adam_epsilon")),
                         /*sums: bound*/ 1, /*series: bound, learning rate*/ 2);
    std::vector<double> grad(st.params.size());
    IwaeWorkspace ws;
    Matrix x, eps;
    std::vector<std::uint8_t> labels;
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t steps_here = 0;
    double lr = lr0;
    const bool finished = train_minibatches(
        ctx, st, s.train_n, s.batch, s.epochs,
        [&](MinibatchTraining& st) {
          Rng init(ctx.seed, ctx.cell_key, 0, streams::init);
          model.init(st.params.data(), init);
        },
        [&](MinibatchTraining& st) {
          lr = burda_schedule ? burda_learning_rate(lr0, st.epoch) : lr0;
          st.adam.set_learning_rate(lr);
        },
        [&](MinibatchTraining& st, const std::vector<std::size_t>& order, std::size_t begin, std::size_t end) {
          gather_batch(train, order, begin, end, x, labels);
          binarize(x);
          eps.resize(x.rows() * s.k, l);
          Rng noise(ctx.seed, ctx.cell_key, st.step, streams::training);
          noise.normals(eps.data(), x.rows() * s.k * l);
          const double b = model.bound(st.params.data(), x, eps, s.k, s.gradient, grad.data(), ws);
          if (!std::isfinite(b)) return false;
          for (double g : grad)
            if (!std::isfinite(g)) return false;
          st.adam.step(st.params.data(), grad.data(), /*ascend=*/true);
          st.epoch_sums[0] += b * static_cast<double>(x.rows());
          ++steps_here;
          return true;
        },
        [&](MinibatchTraining& st) {
          st.records[0].push_back(st.epoch_sums[0] / static_cast<double>(s.train_n));
          st.records[1].push_back(lr);
        });
    if (!finished) return diverged_training(st.step);
    const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::vector<double>& params = st.params;
    CellResult r;

    // Active units: Cov_x(E_q[u]) = the variance over test images of μ_u(x).
    std::vector<std::size_t> all(s.test_n);
    std::iota(all.begin(), all.end(), std::size_t{0});
    std::vector<Moments> activity(l);
    Matrix mean;
    for (std::size_t b = 0; b < s.test_n; b += 500) {
      gather_batch(test, all, b, std::min(b + 500, s.test_n), x, labels);
      binarize(x);
      model.encoder_means(params.data(), x, ws, mean);
      for (std::size_t i = 0; i < mean.rows(); ++i)
        for (std::size_t u = 0; u < l; ++u) activity[u].add(mean(i, u));
    }
    const double threshold = p.get_double("active_threshold");
    std::vector<double> unit_activity(l);
    double active = 0;
    for (std::size_t u = 0; u < l; ++u) {
      unit_activity[u] = activity[u].variance();
      if (unit_activity[u] > threshold) ++active;
    }

    // Bounds per test image from eval_k draws.
    const auto t1 = std::chrono::steady_clock::now();
    std::vector<std::size_t> ks{1, 5, s.k, s.eval_k};
    std::sort(ks.begin(), ks.end());
    ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
    std::vector<Moments> bound(ks.size());
    Moments gap_ll_elbo, gap_ll_iwae5, gap_iwae5_elbo, gap_ll_iwae_k;
    const auto at = [&](std::size_t k) { return static_cast<std::size_t>(std::find(ks.begin(), ks.end(), k) - ks.begin()); };
    Matrix image_eps(s.eval_k, l);
    std::vector<double> value(ks.size()), image_ll(s.eval_n), image_elbo(s.eval_n), image_iwae5(s.eval_n);
    for (std::size_t i = 0; i < s.eval_n; ++i) {
      gather_batch(test, all, i, i + 1, x, labels);
      binarize(x);
      Rng probe(ctx.seed, ctx.cell_key, i, streams::probe);
      probe.normals(image_eps.data(), s.eval_k * l);
      model.log_weights(params.data(), x, image_eps, s.eval_k, ws);
      for (std::size_t j = 0; j < ks.size(); ++j) {
        value[j] = ks[j] == 1 ? std::accumulate(ws.log_w.row(0), ws.log_w.row(0) + s.eval_k, 0.0) / static_cast<double>(s.eval_k)
                              : grouped_bound(ws.log_w.row(0), s.eval_k, ks[j]);
        bound[j].add(value[j]);
      }
      const double ll = value[at(s.eval_k)], elbo = value[at(1)], iwae5 = value[at(5)];
      gap_ll_elbo.add(ll - elbo);
      gap_ll_iwae5.add(ll - iwae5);
      gap_iwae5_elbo.add(iwae5 - elbo);
      gap_ll_iwae_k.add(ll - value[at(s.k)]);
      image_ll[i] = ll;
      image_elbo[i] = elbo;
      image_iwae5[i] = iwae5;
    }
    const double eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    for (const Moments& m : bound)
      if (!std::isfinite(m.mean())) {
        r.status = "diverged";
        r.reason = "a test bound is not finite";
        return r;
      }

    std::vector<double> k_values, means, ses;
    for (std::size_t j = 0; j < ks.size(); ++j) {
      k_values.push_back(static_cast<double>(ks[j]));
      means.push_back(bound[j].mean());
      ses.push_back(bound[j].standard_error());
    }
    const auto scalar_with_se = [&](const std::string& name, const Moments& m) {
      r.add_scalar(name, m.mean());
      r.add_scalar(name + "_se", m.standard_error());
    };
    scalar_with_se("test_elbo", bound[at(1)]);
    scalar_with_se("test_iwae5", bound[at(5)]);
    scalar_with_se("test_iwae_train_k", bound[at(s.k)]);
    scalar_with_se("test_log_likelihood", bound[at(s.eval_k)]);
    scalar_with_se("gap_ll_elbo", gap_ll_elbo);
    scalar_with_se("gap_ll_iwae5", gap_ll_iwae5);
    scalar_with_se("gap_iwae5_elbo", gap_iwae5_elbo);
    scalar_with_se("gap_ll_iwae_train_k", gap_ll_iwae_k);
    r.add_scalar("active_units", active);
    r.add_scalar("eval_images", static_cast<double>(s.eval_n));
    r.add("test_bound_k", k_values);
    r.add("test_bound", means);
    r.add("test_bound_se", ses);
    r.add("unit_activity", unit_activity);
    // Per evaluated image (the same images, in order, in every cell): paired comparisons between cells.
    r.add("image_log_likelihood", image_ll);
    r.add("image_elbo", image_elbo);
    r.add("image_iwae5", image_iwae5);
    r.add("trajectory_epoch", epoch_numbers(s.epochs));
    r.add("trajectory_train_bound", st.records[0]);
    r.add("trajectory_learning_rate", st.records[1]);
    if (steps_here > 0) r.timings.emplace_back("seconds_per_step", train_seconds / static_cast<double>(steps_here));
    r.timings.emplace_back("seconds_training", train_seconds);
    r.timings.emplace_back("seconds_evaluation", eval_seconds);
    return r;
  }
};

const Register<Study, VaeStudy> registration{{
    .name = "vae",
    .description = "VAE / IWAE training on binarized Fashion-MNIST: test ELBO, IWAE-5, IWAE-5000 log-likelihood, active units",
    .reference = "Burda, Grosse & Salakhutdinov 2016 (IWAE); Tucker et al. 2019 (DReG)",
    .params = {ParamSpec::integer("k", 1, "K of the training bound (1: the ELBO)").at_least(1),
               ParamSpec::choice("gradient", {"iwae", "dreg"}, "iwae",
                                 "iwae: sum_k w~_k d log w_k; dreg: encoder gets sum_k w~_k^2 dlog w_k/dz dz/dphi"),
               ParamSpec::integer("latent_dim", 50, "L, dimension of z").at_least(1),
               ParamSpec::integer("hidden_layers", 2, "deterministic hidden layers of encoder and decoder each").at_least(0),
               ParamSpec::integer("hidden_units", 200, "units per hidden layer").at_least(1),
               ParamSpec::choice("activation", {"tanh", "relu", "softplus"}, "tanh", "hidden-layer activation"),
               ParamSpec::integer("epochs", 10, "passes over the training examples").at_least(1),
               ParamSpec::integer("batch_size", 20, "examples per Adam step").at_least(1),
               ParamSpec::real("learning_rate", 1e-3, "Adam learning rate (stage 0 of the burda schedule)").positive(),
               ParamSpec::choice("lr_schedule", {"constant", "burda"}, "constant",
                                 "burda: learning_rate * 10^(-i/7) for 3^i passes in stage i"),
               ParamSpec::real("adam_epsilon", 1e-4, "Adam epsilon (Burda et al.: 1e-4)").positive(),
               ParamSpec::integer("train_examples", 0, "the first N training examples (0: all 60000)").at_least(0),
               ParamSpec::integer("test_examples", 0, "the first N test examples for active units (0: all 10000)").at_least(0),
               ParamSpec::integer("eval_examples", 1000, "test images on which the bounds are estimated").at_least(2),
               ParamSpec::integer("eval_k", 5000, "draws of z per evaluated image (IWAE-eval_k: the log-likelihood estimate)").at_least(5),
               ParamSpec::real("active_threshold", 1e-2, "a unit is active if Cov_x(E_q[u]) exceeds this").positive()},
}};

}  // namespace

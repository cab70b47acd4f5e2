// study `vib`: Deep Variational Information Bottleneck (Alemi et al. 2017) on Fashion-MNIST. The encoder MLP
// (784–H–H–2K, ReLU) gives q(z|x) = N(μ, diag σ²), σ = softplus(s − 5); a softmax decoder q(y|z); Adam
// (β₁ = 0.5, β₂ = 0.999, learning rate decayed by 0.97 every 2 epochs, batch 100 — the paper's §4.1)
// minimizes cross-entropy + β·KL(q(z|x) ‖ N(0, I)) with one z per example. On the test set it reports the
// accuracy (class probabilities averaged over `test_samples` draws of z), the rate E_x KL(q(z|x) ‖ N(0, I))
// — an upper bound on I(Z;X) — and H(Y) − E[−log q(y|z)] — a lower bound on I(Z;Y) — in nats and bits.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "vibench/data/fashion_mnist.hpp"
#include "vibench/nn/vib_model.hpp"
#include "vibench/plugin/minibatch_training.hpp"
#include "vibench/plugin/study.hpp"
#include "vibench/plugin/work_counter.hpp"

namespace {

using namespace vibench;

constexpr std::size_t classes = 10;

struct VibSetup {
  VibModel model;
  std::size_t train_n, test_n, batch, epochs;
};

VibSetup setup(const Params& p) {
  const std::vector<std::size_t> hidden(static_cast<std::size_t>(p.get_int("hidden_layers")),
                                        static_cast<std::size_t>(p.get_int("hidden_units")));
  const std::vector<std::size_t> decoder_hidden(static_cast<std::size_t>(p.get_int("decoder_hidden_layers")),
                                                static_cast<std::size_t>(p.get_int("hidden_units")));
  const auto train_n = static_cast<std::size_t>(p.get_int("train_examples"));
  const auto test_n = static_cast<std::size_t>(p.get_int("test_examples"));
  return {VibModel(784, hidden, static_cast<std::size_t>(p.get_int("latent_dim")), decoder_hidden, classes),
          train_n ? train_n : 60000, test_n ? test_n : 10000, static_cast<std::size_t>(p.get_int("batch_size")),
          static_cast<std::size_t>(p.get_int("epochs"))};
}

class VibStudy final : public Study {
 public:
  explicit VibStudy(const Params&) {}

  std::uint64_t work_units(const Config& cell) const override {
    const VibSetup s = setup(Params(cell, ""));
    return static_cast<std::uint64_t>(minibatch_steps(s.train_n, s.batch, s.epochs));
  }
  const char* work_unit_name() const override { return "steps"; }

  MemoryEstimate memory_estimate(const Config& cell) const override {
    const Params p(cell, "");
    const auto size = [&](const char* key) { return static_cast<double>(p.get_int(key)); };
    const double h = size("hidden_units"), k = size("latent_dim"), layers = size("hidden_layers") + size("decoder_hidden_layers");
    // Every layer at its widest: 784 -> H ... H -> 2K, K -> H ... H -> 10 (or straight through when no hidden layer).
    const double latent_params = k * (3 * (h + 1) + 784 * 2 + classes), width_params = (784 + classes) * (h + 1) + layers * h * h;
    const double params = latent_params + width_params;
    const double rows = std::max(size("batch_size"), 500 * size("test_samples"));
    MemoryEstimate e;
    add_fashion_mnist(e);
    add_network(e, params, latent_params > width_params ? "latent_dim" : "hidden_units", rows, 784 + layers * h + 4 * k + classes,
                size("batch_size") > 500 * size("test_samples") ? "batch_size" : "test_samples");
    return e;
  }

  std::optional<std::string> unsupported(const Config& cell) const override {
    const VibSetup s = setup(Params(cell, ""));
    if (s.train_n > 60000 || s.test_n > 10000)
      return std::string("Fashion-MNIST has 60000 training and 10000 test examples");
    return std::nullopt;
  }

  CellResult run(const CellContext& ctx) const override {
    const Params p(ctx.config, "");
    const VibSetup s = setup(p);
    const LabeledImages& train = fashion_mnist(true);
    const LabeledImages& test = fashion_mnist(false);
    const double beta = p.get_double("beta"), lr0 = p.get_double("learning_rate");
    const std::size_t k = s.model.latent();

    MinibatchTraining st(s.model.num_params(), Adam(s.model.num_params(), lr0, p.get_double("adam_beta1"), 0.999),
                         /*sums: CE, rate, correct*/ 3, /*series: CE, rate, accuracy*/ 3);
    std::vector<double> grad(st.params.size());
    VibWorkspace ws;
    Matrix x, eps;
    std::vector<std::uint8_t> y;
    const bool finished = train_minibatches(
        ctx, st, s.train_n, s.batch, s.epochs,
        [&](MinibatchTraining& st) {
          Rng init(ctx.seed, ctx.cell_key, 0, streams::init);
          s.model.init(st.params.data(), init);
        },
        // Alemi et al.: the learning rate decays by 0.97 every 2 epochs.
        [&](MinibatchTraining& st) {
          st.adam.set_learning_rate(lr0 * std::pow(p.get_double("lr_decay"), static_cast<double>(st.epoch / 2)));
        },
        [&](MinibatchTraining& st, const std::vector<std::size_t>& order, std::size_t begin, std::size_t end) {
          gather_batch(train, order, begin, end, x, y);
          eps.resize(x.rows(), k);
          Rng noise(ctx.seed, ctx.cell_key, st.step, streams::training);
          noise.normals(eps.data(), x.rows() * k);
          const VibTerms t = s.model.loss(st.params.data(), x, y.data(), eps, beta, grad.data(), ws);
          if (!std::isfinite(t.cross_entropy) || !std::isfinite(t.rate)) return false;
          st.adam.step(st.params.data(), grad.data(), /*ascend=*/false);
          st.epoch_sums[0] += t.cross_entropy * static_cast<double>(x.rows());
          st.epoch_sums[1] += t.rate * static_cast<double>(x.rows());
          st.epoch_sums[2] += static_cast<double>(t.correct);
          return true;
        },
        [&](MinibatchTraining& st) {
          for (std::size_t i = 0; i < 3; ++i) st.records[i].push_back(st.epoch_sums[i] / static_cast<double>(s.train_n));
        });
    if (!finished) return diverged_training(st.step);
    CellResult r;
    const std::vector<double>& params = st.params;

    // Test set, in batches of 500, `test_samples` draws of z per example.
    std::vector<std::size_t> all(s.test_n);
    std::iota(all.begin(), all.end(), std::size_t{0});
    Rng probe(ctx.seed, ctx.cell_key, 0, streams::probe);
    const auto samples = static_cast<std::size_t>(p.get_int("test_samples"));
    double ce = 0, rate = 0;
    std::size_t correct = 0;
    std::vector<double> label_count(classes, 0.0);
    for (std::size_t b = 0; b < s.test_n; b += 500) {
      gather_batch(test, all, b, std::min(b + 500, s.test_n), x, y);
      const VibTerms t = s.model.evaluate(params.data(), x, y.data(), samples, probe, ws);
      ce += t.cross_entropy * static_cast<double>(x.rows());
      rate += t.rate * static_cast<double>(x.rows());
      correct += t.correct;
      for (auto label : y) label_count[label] += 1;
    }
    ce /= static_cast<double>(s.test_n);
    rate /= static_cast<double>(s.test_n);
    double h_y = 0;  // empirical entropy of the test labels (log 10 for the balanced test set)
    for (double c : label_count)
      if (c > 0) h_y -= c / static_cast<double>(s.test_n) * std::log(c / static_cast<double>(s.test_n));
    const double accuracy = static_cast<double>(correct) / static_cast<double>(s.test_n);
    r.add_scalar("test_accuracy", accuracy);
    r.add_scalar("test_error", 1 - accuracy);
    r.add_scalar("test_cross_entropy_nats", ce);
    r.add_scalar("rate_nats", rate);
    r.add_scalar("rate_bits", rate / std::log(2.0));
    r.add_scalar("h_y_nats", h_y);
    r.add_scalar("izy_lower_nats", h_y - ce);
    r.add_scalar("izy_lower_bits", (h_y - ce) / std::log(2.0));
    r.add("trajectory_epoch", epoch_numbers(s.epochs));
    r.add("trajectory_train_cross_entropy", st.records[0]);
    r.add("trajectory_train_rate", st.records[1]);
    r.add("trajectory_train_accuracy", st.records[2]);
    return r;
  }
};

const Register<Study, VibStudy> registration{{
    .name = "vib",
    .description = "Deep VIB on Fashion-MNIST: test accuracy, rate (>= I(Z;X)) and H(Y) - CE (<= I(Z;Y))",
    .reference = "Alemi et al. 2017, section 4.1",
    .params = {ParamSpec::real("beta", 1e-3, "weight of the rate KL(q(z|x) || N(0, I))").at_least(0.0),
               ParamSpec::integer("latent_dim", 256, "K, dimension of z").at_least(1),
               ParamSpec::integer("hidden_layers", 2, "encoder hidden layers").at_least(0),
               ParamSpec::integer("hidden_units", 1024, "units per hidden layer").at_least(1),
               ParamSpec::integer("decoder_hidden_layers", 0, "decoder hidden layers (0: logistic regression)").at_least(0),
               ParamSpec::integer("epochs", 200, "passes over the training examples").at_least(1),
               ParamSpec::integer("batch_size", 100, "examples per Adam step").at_least(1),
               ParamSpec::real("learning_rate", 1e-4, "initial Adam learning rate").positive(),
               ParamSpec::real("lr_decay", 0.97, "learning-rate factor every 2 epochs").positive().at_most(1.0),
               ParamSpec::real("adam_beta1", 0.5, "Adam beta1").at_least(0.0).at_most(0.999),
               ParamSpec::integer("train_examples", 0, "the first N training examples (0: all 60000)").at_least(0),
               ParamSpec::integer("test_examples", 0, "the first N test examples (0: all 10000)").at_least(0),
               ParamSpec::integer("test_samples", 12, "draws of z per test example").at_least(1)},
}};

}  // namespace

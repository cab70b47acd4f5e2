// study `optimize`: stochastic-gradient trajectories. From the cell's `point`, `steps` updates of φ (and of
// the target's model parameters θ when `learn_theta`) with Adam (Kingma & Ba 2015, Alg. 1, bias-corrected)
// or plain SGD, each from one gradient estimate of `samples` samples, ascending (or descending) the
// objective. Step t draws from Rng(seed, cell, t, estimator); the estimator's state (a moving-average
// baseline) carries over from step to step. Every `log_every` steps it records the mean objective
// estimate since the last record, the exact objective and KL(q_φ ‖ p(z|x)) where closed forms exist, the
// norm of the last gradient estimate, the parameters (φ, θ) themselves, and — with `variance_replicates` > 0 — the mean per-parameter variance of the gradient at
// the current point from that many extra estimates on the `probe` stream (they never steer the path).
// A non-finite estimate stops the run: `diverged_at_step` records where (−1: never).
// `optimizer: cavi` replaces the gradient steps by coordinate-ascent sweeps (Bishop 2006, PRML §10.1.2) where
// the closed-form coordinate updates exist: a target with an exact Gaussian posterior N(m, Λ⁻¹) and a family
// whose members are the mean-field Gaussians Πᵢ N(μᵢ, σᵢ²) (gaussian_diag). A sweep sets σᵢ² = 1/Λᵢᵢ and
// μᵢ = mᵢ − (1/Λᵢᵢ) Σ_{j≠i} Λᵢⱼ(μⱼ − mⱼ) for i = 0, …, D−1 in turn; `steps` counts sweeps. No gradient is
// estimated (the estimator is not used: the estimate and gradient-norm records are NaN).
// The update rules are vibench/math/optimizer.hpp's Sgd and Adam (rounded direction_first, as this study always has).
// `optimizer: sgd_cosine` is plain SGD with the step size lr·cos(πt/(2T)) at step t of T (the schedule of
// Mohamed et al. 2020's Bayesian logistic regression). A target with minibatches (Target::minibatch_size()
// > 0) draws step t's batch from Rng(seed, cell, t, minibatch) before the step's estimate; every record —
// the exact objective and the variance probes — uses the whole data set.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

#include <fmt/format.h>


#include "vibench/math/linalg.hpp"
#include "vibench/math/optimizer.hpp"
#include "vibench/math/stats.hpp"
#include "vibench/plugin/cell_plugins.hpp"
#include "vibench/plugin/study.hpp"
#include "vibench/plugin/work_counter.hpp"
#include "vibench/vi/cavi.hpp"

namespace {

using namespace vibench;

// KL(N(m_q, C_q) ‖ N(m_p, C_p)) = ½[tr(Λ_p C_q) + (m_p − m_q)ᵀΛ_p(m_p − m_q) − D + log|C_p| − log|C_q|]
// nullopt where there is no closed form, or q has degenerated (overflowed scales) along the path.
std::optional<double> gaussian_kl_to_posterior(const Family& q, const Target& t, const double* phi) {
  auto mq = q.gaussian_moments(phi);
  auto post = t.exact_posterior();
  if (!mq || !post) return std::nullopt;
  for (std::size_t i = 0; i < mq->cov.rows() * mq->cov.cols(); ++i)
    if (!std::isfinite(mq->cov.data()[i])) return std::nullopt;
  const std::size_t d = mq->mean.size();
  double trace = 0, quad = 0;
  std::vector<double> diff(d);
  for (std::size_t i = 0; i < d; ++i) diff[i] = post->mean[i] - mq->mean[i];
  for (std::size_t i = 0; i < d; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      trace += post->precision(i, j) * mq->cov(j, i);
      quad += diff[i] * post->precision(i, j) * diff[j];
    }
  const double logdet_p = linalg::logdet_from_cholesky(linalg::cholesky(post->cov));
  double logdet_q;
  try {
    logdet_q = linalg::logdet_from_cholesky(linalg::cholesky(mq->cov));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return 0.5 * (trace + quad - static_cast<double>(d) + logdet_p - logdet_q);
}

class OptimizeStudy final : public Study {
 public:
  explicit OptimizeStudy(const Params&) {}

  std::uint64_t work_units(const Config& cell) const override {
    return static_cast<std::uint64_t>(Params(cell, "").get_int("steps"));
  }
  const char* work_unit_name() const override { return "steps"; }

  MemoryEstimate memory_estimate(const Config& cell) const override {
    const Params p(cell, "");
    // One record every log_every steps and one at the end; variance probes hold one gradient's moments.
    const double records = std::floor(static_cast<double>(p.get_int("steps")) / static_cast<double>(p.get_int("log_every"))) + 2;
    return estimator_cell_memory(cell, records);
  }

  std::optional<std::string> unsupported(const Config& cell) const override {
    if (auto why = estimator_cell_unsupported(cell)) return why;
    const Params p(cell, "");
    if (p.get_string("optimizer") != "cavi") return std::nullopt;
    // CAVI maximizes the ELBO of a mean-field family by closed-form coordinate updates: every other setting
    // would silently optimize something else.
    if (Params(cell, "objective.").get_string("name") != "elbo")
      return std::string("optimizer cavi maximizes the ELBO: it needs objective elbo");
    if (p.get_string("direction") != "maximize") return std::string("optimizer cavi maximizes: it needs direction maximize");
    if (p.get_int("variance_replicates") > 0)
      return std::string("optimizer cavi estimates no gradients: variance_replicates must be 0");
    CellPlugins c = build_cell_plugins(cell);
    if (!c.target->exact_posterior())
      return fmt::format("optimizer cavi needs closed-form coordinate updates: target {} has no exact Gaussian posterior",
                         Params(cell, "target.").get_string("name"));
    if (!c.family->offers().has(Capability::diagonal_gaussian))
      return fmt::format("optimizer cavi updates mean-field Gaussians coordinate by coordinate: family {} is not one "
                         "(use gaussian_diag)", Params(cell, "family.").get_string("name"));
    if (p.get_bool("learn_theta") && c.target->num_model_params() > 0)
      return std::string("optimizer cavi updates q only: set learn_theta: false");
    return std::nullopt;
  }

  CellResult run(const CellContext& ctx) const override {
    CellPlugins p = build_cell_plugins(ctx.config);
    Params cell(ctx.config, "");
    const std::vector<double> phi0 = evaluation_point(Params(ctx.config, "point."), *p.target, *p.family, ctx.seed, ctx.cell_key);
    Target& t = *p.target;
    const Family& q = *p.family;
    const Objective& o = *p.objective;
    const Estimator& e = *p.estimator;
    const auto steps = static_cast<std::size_t>(cell.get_int("steps"));
    const auto samples = static_cast<std::size_t>(cell.get_int("samples"));
    const auto log_every = static_cast<std::size_t>(cell.get_int("log_every"));
    const auto probes = static_cast<std::size_t>(cell.get_int("variance_replicates"));
    const double lr = cell.get_double("learning_rate"), beta1 = cell.get_double("beta1"), beta2 = cell.get_double("beta2");
    const std::string rule = cell.get_string("optimizer");
    const bool cavi = rule == "cavi";
    const std::optional<GaussianPosterior> posterior = cavi ? t.exact_posterior() : std::nullopt;
    const bool minibatches = t.minibatch_size() > 0;
    const bool ascend = cell.get_string("direction") == "maximize";
    const std::size_t n_phi = q.num_params(), n_theta = cell.get_bool("learn_theta") ? t.num_model_params() : 0;
    const std::size_t n = n_phi + t.num_model_params();
    // x = (φ, θ): the point; the optimizer updates its first n_phi + n_theta coordinates.
    std::vector<double> x = phi0;
    const std::vector<double> theta0 = t.model_params();
    x.insert(x.end(), theta0.begin(), theta0.end());
    const std::vector<double> x0 = x;
    // Adam rounded as this study always has (optimizer.hpp: direction_first), so stored trajectories keep their bits.
    auto make_optimizer = [&]() -> std::unique_ptr<Optimizer> {
      if (rule == "adam") return std::make_unique<Adam>(n_phi + n_theta, lr, beta1, beta2, 1e-8, AdamRounding::direction_first);
      if (rule == "sgd_cosine") return std::make_unique<Sgd>(n_phi + n_theta, lr, StepSizeSchedule::cosine, steps);
      return std::make_unique<Sgd>(n_phi + n_theta, lr);  // sgd (cavi takes no gradient step)
    };
    std::unique_ptr<Optimizer> optimizer = make_optimizer();

    std::vector<double> g(n);
    const std::unique_ptr<EstimatorScratch> ws = e.make_scratch(), probe_ws = e.make_scratch();
    std::vector<double> rec_step, rec_estimate, rec_exact, rec_kl, rec_grad_norm, rec_grad_var, rec_params;
    double diverged_at = -1;
    Moments since_record;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::size_t step = 0;
    // Everything the remaining steps depend on: the point, the optimizer's state (Adam's moments), the last
    // estimate (its norm is recorded), the estimator's carried state (a moving-average baseline), the records.
    auto save = [&](StateWriter& out) {
      out.put(static_cast<std::uint64_t>(step));
      out.put(x);
      out.put(g);
      optimizer->write_state(out);
      for (const auto* vec : {&rec_step, &rec_estimate, &rec_exact, &rec_kl, &rec_grad_norm, &rec_grad_var, &rec_params})
        out.put(*vec);
      ws->save_state(out);
      for (double x : since_record.state()) out.put(x);
    };
    auto restore = [&](StateReader& in) {
      step = static_cast<std::size_t>(in.get<std::uint64_t>());
      if (step >= steps) throw StateFormatError("the saved step is past the cell's last step");
      in.get_sized(x, n);
      in.get_sized(g, n);
      optimizer->read_state(in);
      for (auto* vec : {&rec_step, &rec_estimate, &rec_exact, &rec_kl, &rec_grad_norm, &rec_grad_var, &rec_params})
        in.get(*vec);
      ws->load_state(in);
      std::array<double, 5> moments;
      for (double& x : moments) in.get(x);
      since_record = Moments::from_state(moments);
      return static_cast<std::uint64_t>(step);
    };
    auto record = [&](std::size_t step) {
      t.use_full_data();  // the step after a record draws its own batch again
      rec_step.push_back(static_cast<double>(step));
      rec_params.insert(rec_params.end(), x.begin(), x.end());
      rec_estimate.push_back(since_record.count() ? since_record.mean() : nan);
      since_record = Moments{};
      auto exact = o.exact_value(t, q, x.data());
      rec_exact.push_back(exact ? *exact : nan);
      auto kl = gaussian_kl_to_posterior(q, t, x.data());
      rec_kl.push_back(kl ? *kl : nan);
      double norm = 0;  // of the last estimate, over the parameters being updated
      for (std::size_t i = 0; i < n_phi + n_theta; ++i) norm += g[i] * g[i];
      rec_grad_norm.push_back(cavi ? nan : std::sqrt(norm));
      if (probes > 0) {
        std::vector<Moments> var(n_phi + n_theta);  // over the parameters being updated
        std::vector<double> pg(n);
        for (std::size_t r = 0; r < probes; ++r) {
          Rng rng(ctx.seed, ctx.cell_key, step * probes + r, streams::probe);
          probe_ws->reset_state();
          e.estimate(t, q, o, x.data(), rng, samples, *probe_ws, pg.data());
          for (std::size_t i = 0; i < var.size(); ++i) var[i].add(pg[i]);
        }
        double mean_var = 0;
        for (const Moments& mv : var) mean_var += mv.variance();
        rec_grad_var.push_back(mean_var / static_cast<double>(var.size()));
      }
    };

    TrainingCheckpoints checkpoints(ctx.checkpoints);
    // A checkpoint that does not parse may have overwritten some fields before failing: start from the
    // initial values again.
    if (checkpoints.resume(restore)) {
      if (n_theta > 0) t.set_model_params(x.data() + n_phi);
      count_work(step);
    } else {
      std::fill(g.begin(), g.end(), 0.0);
      optimizer = make_optimizer();
      for (auto* vec : {&rec_step, &rec_estimate, &rec_exact, &rec_kl, &rec_grad_norm, &rec_grad_var, &rec_params}) vec->clear();
      ws->reset_state();
      since_record = Moments{};
      step = 0;
      x = x0;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::size_t first_step = step;  // > 0 when resumed: this run times only the steps it takes
    for (; step < steps; ++step) {
      checkpoints.safe_point(step, save);
      if (step % log_every == 0) record(step);
      if (cavi) {
        auto view = q.diagonal_gaussian(x.data());
        std::vector<double> var(view->sigma.size());
        for (std::size_t i = 0; i < var.size(); ++i) var[i] = view->sigma[i] * view->sigma[i];
        cavi::gaussian_sweep(*posterior, view->mean, var);
        Matrix cov(var.size(), var.size());
        for (std::size_t i = 0; i < var.size(); ++i) cov(i, i) = var[i];
        const std::vector<double> phi = *q.from_gaussian(view->mean, cov, nullptr);  // 1/Λᵢᵢ > 0: always a member
        std::copy(phi.begin(), phi.end(), x.begin());
        count_work(1);
        continue;
      }
      if (minibatches) {
        Rng batch_rng(ctx.seed, ctx.cell_key, step, streams::minibatch);
        t.select_minibatch(batch_rng);
      }
      Rng rng(ctx.seed, ctx.cell_key, step, streams::estimator);
      const double value = e.estimate(t, q, o, x.data(), rng, samples, *ws, g.data());
      bool finite = std::isfinite(value);
      for (double gi : g) finite = finite && std::isfinite(gi);
      if (!finite) {
        diverged_at = static_cast<double>(step);
        break;
      }
      since_record.add(value);
      count_work(1);
      optimizer->step(x.data(), g.data(), ascend);
      if (n_theta > 0) t.set_model_params(x.data() + n_phi);
    }
    if (diverged_at < 0) record(step);
    count_work(steps - step);  // a diverged cell is finished: its remaining steps count as done
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    CellResult r;
    std::vector<std::string> names = q.param_names();
    for (const auto& name : t.model_param_names()) names.push_back(name);
    r.add_strings("param_names", names);
    r.add("phi_final", std::vector<double>(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n_phi)));
    if (t.num_model_params() > 0) r.add("theta_final", t.model_params());
    r.add("trajectory_step", rec_step);
    r.add("trajectory_objective_estimate", rec_estimate);
    r.add("trajectory_exact_objective", rec_exact);
    r.add("trajectory_kl_to_posterior", rec_kl);
    r.add("trajectory_grad_norm", rec_grad_norm);
    if (probes > 0) r.add("trajectory_grad_variance", rec_grad_var);
    r.add_matrix("trajectory_params", rec_step.size(), n, rec_params);
    r.add_scalar("final_exact_objective", rec_exact.back());
    r.add_scalar("final_kl_to_posterior", rec_kl.back());
    r.add_scalar("diverged_at_step", diverged_at);
    if (auto lz = t.log_evidence()) r.add_scalar("exact_log_evidence", *lz);
    if (auto post = t.exact_posterior()) {  // what the trajectories approach, for figures
      r.add("exact_posterior_mean", post->mean);
      r.add_matrix("exact_posterior_cov", post->cov.rows(), post->cov.cols(),
                   std::vector<double>(post->cov.data(), post->cov.data() + post->cov.rows() * post->cov.cols()));
    }
    r.timings.emplace_back("seconds_per_step", seconds / static_cast<double>(std::max<std::size_t>(step - first_step, 1)));
    if (diverged_at >= 0) {
      r.status = "diverged";
      r.reason = "non-finite gradient or objective estimate at step " + std::to_string(step);
    }
    return r;
  }
};

const Register<Study, OptimizeStudy> registration{{
    .name = "optimize",
    .description = "Adam, SGD or CAVI trajectories: objective, exact KL to the posterior, gradient norm and variance",
    .reference = "Kingma & Ba 2015 (Adam); Ranganath et al. 2014; Kucukelbir et al. 2017; Bishop 2006, PRML §10.1.2 (CAVI)",
    .params = {ParamSpec::plugin("target", "target", std::nullopt, "the model p(x, z)"),
               ParamSpec::plugin("family", "family", std::string("gaussian_diag"), "the variational family q_phi"),
               ParamSpec::plugin("objective", "objective", std::string("elbo"), "what is optimized"),
               ParamSpec::plugin("estimator", "estimator", std::nullopt, "the gradient estimator"),
               point_param(),
               ParamSpec::integer("samples", 1, "samples S per gradient estimate").at_least(1),
               ParamSpec::integer("steps", 1000, "optimizer steps").at_least(1),
               ParamSpec::choice("optimizer", {"adam", "sgd", "sgd_cosine", "cavi"}, "adam",
                                 "update rule (sgd_cosine: SGD with step learning_rate * cos(pi t / (2 steps)); cavi: "
                                 "closed-form coordinate-ascent sweeps for a Gaussian posterior with gaussian_diag)"),
               ParamSpec::real("learning_rate", 0.01, "step size").positive(),
               ParamSpec::real("beta1", 0.9, "Adam: first-moment decay").at_least(0).at_most(0.999999),
               ParamSpec::real("beta2", 0.999, "Adam: second-moment decay").at_least(0).at_most(0.999999),
               ParamSpec::choice("direction", {"maximize", "minimize"}, "maximize",
                                 "maximize (bounds such as the ELBO) or minimize (costs with objective 'expectation')"),
               ParamSpec::boolean("learn_theta", true, "also update the target's model parameters theta, if any"),
               ParamSpec::integer("log_every", 10, "steps between trajectory records").at_least(1),
               ParamSpec::integer("variance_replicates", 0, "extra estimates per record to measure gradient variance (0: off)").at_least(0)},
}};

}  // namespace

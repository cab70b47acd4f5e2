#include "vibench/math/optimizer.hpp"

#include <cmath>
#include <numbers>

#include "vibench/math/vector_kernels.hpp"

namespace vibench {

Sgd::Sgd(std::size_t n, double learning_rate, StepSizeSchedule schedule, std::size_t total_steps)
    : n_(n), lr_(learning_rate), schedule_(schedule), total_(total_steps) {}

double Sgd::step_size() const {
  if (schedule_ == StepSizeSchedule::constant) return lr_;
  return lr_ * std::cos(std::numbers::pi / 2 * static_cast<double>(t_) / static_cast<double>(total_));
}

void Sgd::step(double* params, const double* grad, bool ascend) {
  const double signed_rate = (ascend ? 1.0 : -1.0) * step_size();
  for (std::size_t i = 0; i < n_; ++i) params[i] += signed_rate * grad[i];
  ++t_;
}

void Sgd::write_state(StateWriter& out) const { out.put(static_cast<std::uint64_t>(t_)); }

void Sgd::read_state(StateReader& in) { t_ = static_cast<std::size_t>(in.get<std::uint64_t>()); }

Adam::Adam(std::size_t n, double learning_rate, double beta1, double beta2, double eps, AdamRounding rounding)
    : lr_(learning_rate), b1_(beta1), b2_(beta2), eps_(eps), rounding_(rounding), m_(n, 0.0), v_(n, 0.0) {}

void Adam::step(double* params, const double* grad, bool ascend) {
  ++t_;
  const double c1 = 1 - std::pow(b1_, static_cast<double>(t_)), c2 = 1 - std::pow(b2_, static_cast<double>(t_));
  const double signed_lr = (ascend ? 1.0 : -1.0) * lr_;
  if (rounding_ == AdamRounding::step_size_first)
    adam_update(params, grad, m_.data(), v_.data(), m_.size(), b1_, b2_, c1, c2, signed_lr, eps_);
  else
    adam_update_direction_first(params, grad, m_.data(), v_.data(), m_.size(), b1_, b2_, c1, c2, signed_lr, eps_);
}

void Adam::write_state(StateWriter& out) const {
  out.put(lr_);
  out.put(static_cast<std::uint64_t>(t_));
  out.put(m_);
  out.put(v_);
}

void Adam::read_state(StateReader& in) {
  const std::size_t n = m_.size();
  in.get(lr_);
  t_ = static_cast<std::size_t>(in.get<std::uint64_t>());
  in.get_sized(m_, n);
  in.get_sized(v_, n);
}

}  // namespace vibench

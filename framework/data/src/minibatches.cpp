#include "vibench/data/minibatches.hpp"

#include <algorithm>
#include <numeric>

#include "vibench/math/rng.hpp"

namespace vibench {

std::vector<std::size_t> shuffled_indices(std::size_t n, std::uint64_t seed, std::uint64_t cell_key, std::uint64_t epoch) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::vector<double> u(n);
  Rng rng(seed, cell_key, epoch, streams::data);
  rng.uniforms(u.data(), n);
  for (std::size_t i = n; i-- > 1;) std::swap(order[i], order[static_cast<std::size_t>(u[i] * static_cast<double>(i + 1))]);
  return order;
}

void gather_batch(const LabeledImages& data, const std::vector<std::size_t>& order, std::size_t begin, std::size_t end,
                  Matrix& x, std::vector<std::uint8_t>& y) {
  const std::size_t d = data.pixels.cols();
  x.resize(end - begin, d);
  y.resize(end - begin);
  for (std::size_t r = begin; r < end; ++r) {
    std::copy(data.pixels.row(order[r]), data.pixels.row(order[r]) + d, x.row(r - begin));
    y[r - begin] = data.labels[order[r]];
  }
}

}  // namespace vibench

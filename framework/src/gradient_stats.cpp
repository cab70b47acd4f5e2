#include "vibench/gradient_stats.hpp"

#include <chrono>

#include <tbb/parallel_for.h>

namespace vibench {

GradientStats gradient_statistics(const Target& t, const Family& q, const Objective& o, const Estimator& e,
                                  const std::vector<double>& phi, std::uint64_t seed, std::uint64_t cell_key,
                                  std::size_t replicates, std::size_t samples) {
  const std::size_t p = q.num_params();
  const std::size_t chunks = (replicates + replicate_chunk - 1) / replicate_chunk;
  std::vector<GradientStats> partial(chunks);
  tbb::parallel_for(std::size_t{0}, chunks, [&](std::size_t c) {
    auto t0 = std::chrono::steady_clock::now();
    GradientStats& s = partial[c];
    s.grad.assign(p, Moments{});
    EstimatorWorkspace ws;
    std::vector<double> g(p);
    const std::size_t end = std::min(replicates, (c + 1) * replicate_chunk);
    for (std::size_t r = c * replicate_chunk; r < end; ++r) {
      Rng rng(seed, cell_key, r, streams::estimator);
      double value = e.estimate(t, q, o, phi.data(), rng, samples, ws, g.data());
      for (std::size_t i = 0; i < p; ++i) s.grad[i].add(g[i]);
      s.objective.add(value);
    }
    s.replicates = end - c * replicate_chunk;
    s.thread_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  });
  GradientStats total;
  total.grad.assign(p, Moments{});
  for (const GradientStats& s : partial) {  // fixed order: deterministic
    for (std::size_t i = 0; i < p; ++i) total.grad[i].merge(s.grad[i]);
    total.objective.merge(s.objective);
    total.thread_seconds += s.thread_seconds;
    total.replicates += s.replicates;
  }
  return total;
}

}  // namespace vibench

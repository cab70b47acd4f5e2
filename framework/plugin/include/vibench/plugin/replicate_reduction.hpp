#pragma once
// Deterministic parallel reduction over independent replicates: replicate r draws from
// Rng(seed, cell_key, r, stream) (stream: streams::estimator unless given) and yields `width` values; their moments are accumulated in
// fixed chunks of replicate_chunk, and the chunks merged in order. The result is bitwise identical for any
// number of threads; the chunk size is therefore part of the numeric result (the last bits).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "vibench/math/rng.hpp"
#include "vibench/math/stats.hpp"
#include "vibench/plugin/parallel_for.hpp"
#include "vibench/plugin/stop_request.hpp"
#include "vibench/plugin/work_counter.hpp"

namespace vibench {

inline constexpr std::size_t replicate_chunk = 64;
// Chunks reduced at once (enough to keep many cores busy); memory holds this many chunks' moments.
inline constexpr std::size_t replicate_block = 256;

struct ReplicateMoments {
  std::vector<Moments> values;  // one per output value
  double thread_seconds = 0;    // summed over chunks: cost, independent of parallelism
  std::size_t replicates = 0;
};

// `draw(state, rng, out)` writes `width` values for one replicate; each chunk owns one default-built
// State (scratch buffers reused across its replicates).
template <class State, class Draw>
ReplicateMoments reduce_replicates(std::uint64_t seed, std::uint64_t cell_key, std::size_t replicates,
                                   std::size_t width, Draw&& draw, std::uint64_t stream = streams::estimator) {
  const std::size_t chunks = (replicates + replicate_chunk - 1) / replicate_chunk;
  // Chunks run in blocks of replicate_block and are merged block by block, in chunk order as before: the
  // memory held is one block's partial moments, whatever the number of replicates, and the bits are unchanged.
  std::vector<ReplicateMoments> partial(std::min(chunks, replicate_block));
  ReplicateMoments total;
  total.values.assign(width, Moments{});
  for (std::size_t first = 0; first < chunks; first += replicate_block) {
    const std::size_t block = std::min(replicate_block, chunks - first);
    parallel_for(block, [&](std::size_t b) {
      throw_if_stop_requested();  // a stop abandons the cell within one chunk; a resumed run recomputes it
      const std::size_t c = first + b;
      const auto t0 = std::chrono::steady_clock::now();
      ReplicateMoments& part = partial[b];
      part.values.assign(width, Moments{});
      State state;
      std::vector<double> out(width);
      const std::size_t end = std::min(replicates, (c + 1) * replicate_chunk);
      for (std::size_t r = c * replicate_chunk; r < end; ++r) {
        Rng rng(seed, cell_key, r, stream);
        draw(state, rng, out.data());
        for (std::size_t i = 0; i < width; ++i) part.values[i].add(out[i]);
      }
      part.replicates = end - c * replicate_chunk;
      count_work(part.replicates);
      part.thread_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    });
    for (std::size_t b = 0; b < block; ++b) {  // fixed order: deterministic
      const ReplicateMoments& part = partial[b];
      for (std::size_t i = 0; i < width; ++i) total.values[i].merge(part.values[i]);
      total.thread_seconds += part.thread_seconds;
      total.replicates += part.replicates;
    }
  }
  return total;
}

}  // namespace vibench

#include "vibench/plugin/minibatch_training.hpp"

namespace vibench {

void MinibatchTraining::write(StateWriter& out) const {
  out.put(static_cast<std::uint64_t>(epoch));
  out.put(static_cast<std::uint64_t>(batch_start));
  out.put(static_cast<std::uint64_t>(step));
  out.put(params);
  adam.write_state(out);
  out.put(epoch_sums);
  for (const auto& series : records) out.put(series);
}

void MinibatchTraining::read(StateReader& in) {
  epoch = static_cast<std::size_t>(in.get<std::uint64_t>());
  batch_start = static_cast<std::size_t>(in.get<std::uint64_t>());
  step = static_cast<std::size_t>(in.get<std::uint64_t>());
  in.get_sized(params, params.size());
  adam.read_state(in);
  in.get_sized(epoch_sums, epoch_sums.size());
  for (auto& series : records) {
    in.get(series);
    if (series.size() != epoch) throw StateFormatError("a saved record series does not have one value per finished epoch");
  }
}

}  // namespace vibench

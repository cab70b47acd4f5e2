#pragma once
// Epochs of minibatch training with Adam (the vib and rate_distortion studies), resumable from a checkpoint.
// The position (epoch, next batch, step), the parameters, Adam's state, the current epoch's running sums and
// the per-epoch records are the whole state: an epoch's order is recomputed from (seed, cell, epoch) and a
// step's noise from (seed, cell, step), so a resumed run takes the same steps with the same numbers.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "vibench/data/minibatches.hpp"
#include "vibench/math/optimizer.hpp"
#include "vibench/plugin/checkpoint.hpp"
#include "vibench/plugin/study.hpp"
#include "vibench/plugin/work_counter.hpp"

namespace vibench {

struct MinibatchTraining {
  MinibatchTraining(std::size_t num_params, Adam optimizer, std::size_t sums, std::size_t series)
      : params(num_params), adam(std::move(optimizer)), epoch_sums(sums, 0.0), records(series) {}

  std::size_t epoch = 0, batch_start = 0, step = 0;  // the next batch: rows [batch_start, …) of epoch's order
  std::vector<double> params;
  Adam adam;
  std::vector<double> epoch_sums;            // running sums over this epoch's batches
  std::vector<std::vector<double>> records;  // one series per recorded quantity, one value per finished epoch

  void write(StateWriter& out) const;
  void read(StateReader& in);  // sizes must match this object's
};

// 1, 2, …, epochs: the epoch numbers of a finished run's per-epoch records.
inline std::vector<double> epoch_numbers(std::size_t epochs) {
  std::vector<double> e(epochs);
  for (std::size_t i = 0; i < epochs; ++i) e[i] = static_cast<double>(i + 1);
  return e;
}

// Adam steps of a run of `epochs` passes over `train_n` examples in batches of `batch` (the last batch of an
// epoch may be short): the study's work units.
inline std::size_t minibatch_steps(std::size_t train_n, std::size_t batch, std::size_t epochs) {
  return epochs * ((train_n + batch - 1) / batch);
}

// The one training loop of the minibatch studies (vib, rate_distortion). Runs the remaining epochs of `st`
// over `train_n` examples in batches of `batch`, resuming from the cell's checkpoint if there is one (else
// `init` sets the initial parameters). Per epoch `before_epoch(st)` (e.g. a learning-rate schedule), per batch
// `train(st, order, begin, end)` — one Adam step; false when the loss is not finite — and after each epoch
// `after_epoch(st)` (records; the sums are then cleared). A stop request saves the state and throws
// CellInterrupted. Returns false if a step diverged (st.step is that step): the cell is then finished, and
// its remaining steps are counted as done (count_work), so progress reaches the total.
template <class Init, class BeforeEpoch, class Train, class AfterEpoch>
bool train_minibatches(const CellContext& ctx, MinibatchTraining& st, std::size_t train_n, std::size_t batch,
                       std::size_t epochs, Init&& init, BeforeEpoch&& before_epoch, Train&& train,
                       AfterEpoch&& after_epoch) {
  TrainingCheckpoints checkpoints(ctx.checkpoints);
  if (checkpoints.resume([&](StateReader& in) {
        MinibatchTraining saved = st;  // st stays untouched if the saved state does not parse
        saved.read(in);
        in.expect_end();
        st = std::move(saved);
        return st.step;
      }))
    count_work(st.step);  // the progress line counts the steps the checkpoint holds as done
  else
    init(st);
  for (; st.epoch < epochs; ++st.epoch) {
    before_epoch(st);
    const std::vector<std::size_t> order = shuffled_indices(train_n, ctx.seed, ctx.cell_key, st.epoch);
    for (; st.batch_start < train_n; st.batch_start += batch, ++st.step) {
      checkpoints.safe_point(st.step, [&](StateWriter& out) { st.write(out); });
      if (!train(st, order, st.batch_start, std::min(st.batch_start + batch, train_n))) {
        count_work(minibatch_steps(train_n, batch, epochs) - st.step);
        return false;
      }
      count_work(1);
    }
    after_epoch(st);
    st.batch_start = 0;
    std::fill(st.epoch_sums.begin(), st.epoch_sums.end(), 0.0);
  }
  return true;
}

// The result of a cell whose training diverged at step `step` (train_minibatches returned false).
inline CellResult diverged_training(std::size_t step) {
  CellResult r;
  r.status = "diverged";
  r.reason = "the loss is not finite at training step " + std::to_string(step);
  return r;
}

}  // namespace vibench

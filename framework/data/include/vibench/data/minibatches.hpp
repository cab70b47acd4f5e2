#pragma once
// Minibatches over a labeled data set: a per-epoch shuffle from the Philox streams (so an epoch's order
// depends only on seed, cell and epoch) and gathering rows into a batch.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "vibench/data/fashion_mnist.hpp"

namespace vibench {

// A uniformly random permutation of 0..n−1 (Fisher–Yates on stream `data`, replicate = epoch).
std::vector<std::size_t> shuffled_indices(std::size_t n, std::uint64_t seed, std::uint64_t cell_key, std::uint64_t epoch);

// Rows order[begin..end) of the data set into x (and their labels into y).
void gather_batch(const LabeledImages& data, const std::vector<std::size_t>& order, std::size_t begin, std::size_t end,
                  Matrix& x, std::vector<std::uint8_t>& y);

}  // namespace vibench

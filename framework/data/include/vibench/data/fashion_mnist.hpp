#pragma once
// Fashion-MNIST (Xiao et al. 2017) from Debian's dataset-fashion-mnist: gzip-compressed IDX files under
// /usr/share/datasets/fashion-mnist (or $VIBENCH_FASHION_MNIST_DIR). Loaded once per process.
#include <cstdint>
#include <string>
#include <vector>

#include "vibench/math/matrix.hpp"

namespace vibench {

struct LabeledImages {
  Matrix pixels;                     // n × 784, row-major 28×28, scaled to [0, 1]
  std::vector<std::uint8_t> labels;  // n, in 0..9
};

// The training (60000) or test (10000) split; throws std::runtime_error naming the file when it is missing
// or malformed.
const LabeledImages& fashion_mnist(bool train);

// The directory the files are read from.
std::string fashion_mnist_dir();

}  // namespace vibench

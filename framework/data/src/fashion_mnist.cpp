#include "vibench/data/fashion_mnist.hpp"

#include <zlib.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>

namespace vibench {

namespace {

std::vector<unsigned char> read_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f)
    throw std::runtime_error(fmt::format("cannot open {} (Fashion-MNIST: install Debian's dataset-fashion-mnist, "
                                         "which `make deps` does, or set VIBENCH_FASHION_MNIST_DIR)",
                                         path));
  std::vector<unsigned char> out;
  unsigned char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  const bool failed = n < 0;
  gzclose(f);
  if (failed) throw std::runtime_error("cannot decompress " + path);
  return out;
}

std::uint32_t big_endian(const std::vector<unsigned char>& b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) | b[at + 3];
}

LabeledImages load(const std::string& dir, const std::string& prefix) {
  const std::string image_path = dir + "/" + prefix + "-images-idx3-ubyte.gz";
  const std::string label_path = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
  const auto images = read_gzip(image_path), labels = read_gzip(label_path);
  // IDX: magic 0x00000803 (ubyte, 3 dims) then n, rows, cols; labels 0x00000801 then n.
  if (images.size() < 16 || big_endian(images, 0) != 0x803)
    throw std::runtime_error(image_path + " is not an IDX image file");
  if (labels.size() < 8 || big_endian(labels, 0) != 0x801) throw std::runtime_error(label_path + " is not an IDX label file");
  const std::size_t n = big_endian(images, 4), rows = big_endian(images, 8), cols = big_endian(images, 12);
  if (rows != 28 || cols != 28 || images.size() != 16 + n * 784 || big_endian(labels, 4) != n || labels.size() != 8 + n)
    throw std::runtime_error(fmt::format("{} / {}: unexpected sizes", image_path, label_path));
  LabeledImages out;
  out.pixels.resize(n, 784);
  for (std::size_t i = 0; i < n * 784; ++i) out.pixels.data()[i] = images[16 + i] / 255.0;
  out.labels.assign(labels.begin() + 8, labels.end());
  for (auto l : out.labels)
    if (l > 9) throw std::runtime_error(label_path + ": a label outside 0..9");
  return out;
}

}  // namespace

std::string fashion_mnist_dir() {
  const char* env = std::getenv("VIBENCH_FASHION_MNIST_DIR");
  return env && *env ? env : "/usr/share/datasets/fashion-mnist";
}

const LabeledImages& fashion_mnist(bool train) {
  static std::once_flag once[2];
  static std::unique_ptr<LabeledImages> data[2];
  const int k = train ? 0 : 1;
  std::call_once(once[k], [&] { data[k] = std::make_unique<LabeledImages>(load(fashion_mnist_dir(), train ? "train" : "t10k")); });
  return *data[k];
}

}  // namespace vibench

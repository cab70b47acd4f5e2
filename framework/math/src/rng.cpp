#include "vibench/math/rng.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

namespace vibench {

namespace {
constexpr double two_pow_minus_53 = 1.0 / 9007199254740992.0;
inline double u01_closed_open(std::uint64_t x) { return static_cast<double>(x >> 11) * two_pow_minus_53; }
// (0, 1]: safe for log.
inline double u01_open_closed(std::uint64_t x) { return static_cast<double>((x >> 11) + 1) * two_pow_minus_53; }

// Ziggurat for N(0, 1) (Marsaglia & Tsang 2000, J. Stat. Softw. 5(8)) with 256 layers of equal area v under
// f(x) = exp(−x²/2), x ≥ 0. Layer boundaries X[0] = v/f(r) (the base layer's virtual width: the rectangle
// [0, r]×[0, f(r)] plus the tail beyond r has area v), X[1] = r, X[i+1] = f⁻¹(f(X[i]) + v/X[i]), X[256] = 0.
// Layer i is [0, X[i]] × [f(X[i]), f(X[i+1])] (i ≥ 1). A draw picks a layer i and x = u·X[i], u ~ U[0, 1);
// x < X[i+1] lies under f whatever the height, so it is accepted at once (≈ 98.5% of draws: one 64-bit word,
// one multiply, one compare). Otherwise the base layer draws from the tail x > r (Marsaglia 1964) and the
// other layers accept x with probability (f(x) − f(X[i])) / (f(X[i+1]) − f(X[i])) or start over.
// r = 3.6541528853610088 is Marsaglia & Tsang's value for 256 layers; v follows from it.
class ZigguratTables {
 public:
  static constexpr int layers = 256;
  static constexpr double r = 3.6541528853610088;
  static constexpr double two_pow_minus_52 = 1.0 / 4503599627370496.0;

  ZigguratTables() {
    const double fr = f(r);
    const double v = r * fr + std::sqrt(std::numbers::pi / 2) * std::erfc(r / std::numbers::sqrt2);
    std::array<double, layers + 1> x{};
    x[0] = v / fr;
    x[1] = r;
    for (int i = 1; i < layers - 1; ++i) x[i + 1] = std::sqrt(-2.0 * std::log(f(x[i]) + v / x[i]));
    x[layers] = 0.0;
    for (int i = 0; i < layers; ++i) {
      accept_below[i] = static_cast<std::uint64_t>(x[i + 1] / x[i] * 4503599627370496.0);  // u·2⁵² < this ⇒ x < X[i+1]
      width[i] = x[i] * two_pow_minus_52;
      height[i] = f(x[i]);
    }
    height[layers] = 1.0;
  }
  static double f(double x) { return std::exp(-0.5 * x * x); }

  std::array<std::uint64_t, layers> accept_below;
  std::array<double, layers> width;
  std::array<double, layers + 1> height;
};

// Built on first use (not at static initialization, whose order across files is unspecified).
const ZigguratTables& ziggurat() {
  static const ZigguratTables tables;
  return tables;
}

// One normal by the whole ziggurat: the fast test, then the tail or the wedge, retrying after a rejection.
// `words.next()` gives the 64-bit words of consecutive blocks in order.
template <class Words>
double one_normal(const ZigguratTables& zig, Words& words) {
  for (;;) {
    const auto [layer, u, sign] = rng_kernels::decode_ziggurat_word(words.next());
    const double x = static_cast<double>(u) * zig.width[layer];
    if (u < zig.accept_below[layer]) [[likely]] return sign * x;
    if (layer == 0) {  // tail x > r: x = r + e/r, e ~ Exp(1), accepted if 2·Exp(1) > (e/r)²
      double t, e2;
      do {
        t = -std::log(u01_open_closed(words.next())) / ZigguratTables::r;
        e2 = -2.0 * std::log(u01_open_closed(words.next()));
      } while (e2 <= t * t);
      return sign * (ZigguratTables::r + t);
    }
    const double y = zig.height[layer] + u01_closed_open(words.next()) * (zig.height[layer + 1] - zig.height[layer]);
    if (y < ZigguratTables::f(x)) return sign * x;
  }
}

// Draws shorter than this take their blocks one at a time, straight from Philox: a vector body's setup
// costs more than it saves (measured with bench BM_Normals; the crossover lies between 20 and 200 normals).
constexpr std::size_t bulk_from = 32;
}  // namespace

Rng::Rng(std::uint64_t seed, std::uint64_t cell_key, std::uint64_t replicate, std::uint64_t stream, std::uint64_t step) {
  key_ = {{seed, cell_key}};
  ctr_ = {{replicate, stream, step, 0}};
}

// The words of consecutive blocks, made many blocks at a time by the CPU's Philox body. A call consumes the
// blocks whose words it read (a block once touched counts whole), exactly as if they were made one at a
// time: blocks made ahead and not read are given back at the end, so the next call starts where a
// block-at-a-time generator would.
class Rng::WordBuffer {
 public:
  static constexpr std::size_t capacity = 256;  // words: 2 KB on the stack

  WordBuffer(Rng& rng, Isa isa) : rng_(rng), isa_(isa) {}
  ~WordBuffer() { rng_.ctr_.v[3] -= (end_ - pos_) / 4; }  // whole blocks not read

  std::size_t available() const { return end_ - pos_; }
  const std::uint64_t* data() const { return words_ + pos_; }
  void consume(std::size_t k) { pos_ += k; }

  // At least min(want, what fits) words available (and at least one).
  void refill(std::size_t want) {
    const std::size_t have = available();
    if (have >= want) return;
    for (std::size_t i = 0; i < have; ++i) words_[i] = words_[pos_ + i];
    pos_ = 0;
    end_ = have;
    const std::size_t blocks = std::min((want - have + 3) / 4, (capacity - end_) / 4);
    if (blocks == 0) return;
    rng_kernels::philox_blocks(isa_, rng_.key_.v, rng_.ctr_.v, blocks, words_ + end_);
    rng_.ctr_.v[3] += blocks;
    end_ += 4 * blocks;
  }
  std::uint64_t next() {
    if (pos_ == end_) refill(1);
    return words_[pos_++];
  }

 private:
  Rng& rng_;
  Isa isa_;
  std::size_t pos_ = 0, end_ = 0;
  alignas(64) std::uint64_t words_[capacity];
};

// One block at a time, computed when its first word is asked for.
class Rng::BlockWords {
 public:
  explicit BlockWords(Rng& rng) : rng_(rng) {}
  std::uint64_t next() {
    if (used_ == 4) {
      block_ = r123::Philox4x64()(rng_.ctr_, rng_.key_);
      ++rng_.ctr_.v[3];
      used_ = 0;
    }
    return block_.v[used_++];
  }

 private:
  Rng& rng_;
  r123::Philox4x64::ctr_type block_{};
  int used_ = 4;
};

void Rng::uniforms(double* out, std::size_t n) {
  WordBuffer words(*this, cpu_isa());
  for (std::size_t i = 0; i < n;) {
    words.refill(n - i);
    const std::size_t m = std::min(n - i, words.available());
    for (std::size_t j = 0; j < m; ++j) out[i + j] = u01_closed_open(words.data()[j]);
    words.consume(m);
    i += m;
  }
}

void Rng::normals(double* out, std::size_t n) { normals(out, n, cpu_isa()); }

void Rng::normals(double* out, std::size_t n, Isa isa) {
  if (n < bulk_from) {
    const ZigguratTables& zig = ziggurat();
    BlockWords words(*this);
    for (std::size_t i = 0; i < n; ++i) out[i] = one_normal(zig, words);
    return;
  }
  const ZigguratTables& zig = ziggurat();
  WordBuffer words(*this, isa);
  for (std::size_t i = 0; i < n;) {
    if (words.available() < std::min<std::size_t>(n - i, 8)) words.refill(n - i);
    // Most words pass the fast test: a vector body takes them until the first that does not, which
    // one_normal then finishes (it repeats the fast test on that word, then takes the slow path).
    const std::size_t m = std::min(n - i, words.available());
    const std::size_t k = rng_kernels::ziggurat_accept_run(isa, words.data(), m, out + i, zig.accept_below.data(),
                                                           zig.width.data());
    words.consume(k);
    i += k;
    if (k < m) out[i++] = one_normal(zig, words);
  }
}

}  // namespace vibench

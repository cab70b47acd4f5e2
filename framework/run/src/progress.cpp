#include "vibench/run/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iostream>

#include <fmt/format.h>

#include "vibench/plugin/work_counter.hpp"

namespace vibench {
namespace {

// The process-wide count of work units done; studies reach it through count_work's installed observer.
std::atomic<std::uint64_t> work_done{0};

void add_work_done(std::uint64_t units) { work_done.fetch_add(units, std::memory_order_relaxed); }

std::uint64_t work_done_so_far() {
  set_work_observer(&add_work_done);  // from the first progress line on, count_work() counts here
  return work_done.load();
}

}  // namespace

std::string format_duration(double s) {
  if (s < 60) return fmt::format("{:.1f}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  return fmt::format("{}h{:02}m", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
}

std::string format_count(double n) {
  if (n < 1e3) return fmt::format("{:.0f}", n);
  if (n < 1e6) return fmt::format("{:.3g}k", n / 1e3);
  if (n < 1e9) return fmt::format("{:.3g}M", n / 1e6);
  return fmt::format("{:.3g}G", n / 1e9);
}

Progress::Progress(std::size_t to_run, std::uint64_t total_units, std::string unit_name, std::ostream& err,
                   std::chrono::milliseconds log_interval)
    : to_run_(to_run),
      total_units_(total_units),
      units_at_start_(work_done_so_far()),
      unit_name_(std::move(unit_name)),
      err_(err),
      tty_(::isatty(2) && &err == &std::cerr),
      log_interval_(log_interval),
      start_(std::chrono::steady_clock::now()) {
  if (to_run_ > 0 && (tty_ || unit_name_ != "cells")) ticker_ = std::thread([this] { tick(); });
}

Progress::~Progress() { finish(); }

std::string Progress::status() const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string failures = failed_ ? fmt::format(", {} failed", failed_) : "";
  // Units measure progress inside cells; without them (or before any), whole cells do.
  const double units = static_cast<double>(work_done_so_far() - units_at_start_);
  const double total = static_cast<double>(total_units_);
  std::string work;
  double fraction = to_run_ ? static_cast<double>(finished_) / static_cast<double>(to_run_) : 1.0;
  if (unit_name_ != "cells" && total > 0) {
    work = fmt::format(", {}/{} {}", format_count(std::min(units, total)), format_count(total), unit_name_);
    if (elapsed > 0 && units > 0) work += fmt::format(" at {}/s", format_count(units / elapsed));
    fraction = std::min(units / total, 1.0);
  }
  const std::string eta = fraction > 0 ? format_duration(elapsed * (1 - fraction) / fraction) : "?";
  return fmt::format("{}/{}{}{}, elapsed {}, ETA {}", finished_, to_run_, failures, work, format_duration(elapsed), eta);
}

void Progress::tick() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (tty_) {
    while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_; }))
      err_ << "\r[vibench] cells " << status() << "   " << std::flush;
    return;
  }
  std::uint64_t last = units_at_start_;
  while (!stop_cv_.wait_for(lock, log_interval_, [this] { return stopping_; })) {
    const std::uint64_t now = work_done_so_far();
    if (now == last) continue;  // nothing moved: say nothing
    last = now;
    err_ << "[vibench] cells " << status() << "\n" << std::flush;
  }
}

void Progress::cell_finished(const std::string& id, double seconds, bool failed) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++finished_;
  if (failed) ++failed_;
  if (tty_)
    err_ << "\r[vibench] cells " << status() << "   " << std::flush;
  else
    err_ << fmt::format("[vibench] cell {} {} in {} ({})\n", id, failed ? "FAILED" : "done", format_duration(seconds),
                        status())
         << std::flush;
}

void Progress::note(const std::string& line) {
  std::lock_guard<std::mutex> lock(mutex_);
  err_ << (tty_ ? "\r\x1b[K" : "") << line << "\n" << std::flush;  // on a terminal, replace the status line
}

void Progress::finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  if (tty_ && to_run_ > 0) err_ << "\n" << std::flush;  // keep the last state on screen
}

}  // namespace vibench

#include "vibench/progress.hpp"

#include <unistd.h>

#include <iostream>

#include <fmt/format.h>

namespace vibench {

std::string format_duration(double s) {
  if (s < 60) return fmt::format("{:.1f}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  return fmt::format("{}h{:02}m", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
}

Progress::Progress(std::size_t to_run, std::ostream& err)
    : to_run_(to_run), err_(err), tty_(::isatty(2) && &err == &std::cerr), start_(std::chrono::steady_clock::now()) {}

void Progress::cell_finished(const std::string& id, double seconds, bool failed) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++finished_;
  if (failed) ++failed_;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double eta = finished_ ? elapsed / static_cast<double>(finished_) * static_cast<double>(to_run_ - finished_) : 0;
  std::string failures = failed_ ? fmt::format(", {} failed", failed_) : "";
  if (tty_) {
    err_ << fmt::format("\r[vibench] cells {}/{}{} | elapsed {} | ETA {}   ", finished_, to_run_, failures,
                        format_duration(elapsed), format_duration(eta))
         << std::flush;
  } else {
    err_ << fmt::format("[vibench] cell {} {} in {} ({}/{}{}, elapsed {}, ETA {})\n", id, failed ? "FAILED" : "done",
                        format_duration(seconds), finished_, to_run_, failures, format_duration(elapsed),
                        format_duration(eta))
         << std::flush;
  }
}

void Progress::finish() {
  if (tty_ && finished_) err_ << "\n" << std::flush;
}

}  // namespace vibench

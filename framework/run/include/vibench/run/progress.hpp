#pragma once
// The progress of a run on stderr: cells done / total, work units (replicates or steps) done / total with
// their rate, elapsed time and ETA. On a terminal one line is rewritten in place twice a second (so long
// cells show movement); otherwise (logs, CI) one line per finished cell, plus a status line every
// `log_interval` while work units advance (a single hour-long cell still shows it is alive).
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <mutex>
#include <string>
#include <thread>

namespace vibench {

class Progress {
 public:
  // `total_units` of kind `unit_name` over `to_run` cells; units are counted by count_work().
  Progress(std::size_t to_run, std::uint64_t total_units, std::string unit_name, std::ostream& err,
           std::chrono::milliseconds log_interval = std::chrono::seconds(60));
  ~Progress();
  void cell_finished(const std::string& id, double seconds, bool failed);
  // A line of its own (e.g. why a cell diverged), written under the same lock as the status lines so the two
  // never interleave.
  void note(const std::string& line);
  void finish();

 private:
  std::string status() const;  // "3/12, 1.2M/4.8M replicates at 2.1M/s, elapsed 1.3s, ETA 1.7s"; mutex_ held
  void tick();                  // the terminal refresher, or the periodic log line

  std::size_t to_run_, finished_ = 0, failed_ = 0;
  std::uint64_t total_units_, units_at_start_;
  std::string unit_name_;
  std::ostream& err_;
  bool tty_;
  std::chrono::milliseconds log_interval_;
  std::chrono::steady_clock::time_point start_;
  mutable std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread ticker_;
};

std::string format_duration(double seconds);
std::string format_count(double n);  // 950, 12.3k, 4.80M, 1.20G

}  // namespace vibench

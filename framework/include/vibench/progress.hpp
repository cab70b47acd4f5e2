#pragma once
// The progress line of a run on stderr: cells done / total, elapsed, ETA. Rewritten in place on a
// terminal; one line per finished cell otherwise (logs, CI).
#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <mutex>
#include <string>

namespace vibench {

class Progress {
 public:
  Progress(std::size_t to_run, std::ostream& err);
  void cell_finished(const std::string& id, double seconds, bool failed);
  void finish();

 private:
  std::size_t to_run_, finished_ = 0, failed_ = 0;
  std::ostream& err_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
};

std::string format_duration(double seconds);

}  // namespace vibench

#include "vibench/run/signal_stop.hpp"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "vibench/plugin/stop_request.hpp"

namespace vibench {

namespace {

// Only async-signal-safe calls here: an atomic compare-exchange (lock-free), write, signal and raise.
extern "C" void on_stop_signal(int sig) {
  const int saved_errno = errno;
  int none = 0;
  if (!stop_signal_number.compare_exchange_strong(none, sig)) {
    static constexpr char abort_msg[] =
        "\n[vibench] second stop signal: aborting now (cells in flight lose what their last checkpoint does not hold)\n";
    (void)!::write(STDERR_FILENO, abort_msg, sizeof abort_msg - 1);
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    errno = saved_errno;
    return;
  }
  static constexpr char int_msg[] =
      "\n[vibench] SIGINT: stopping: no new cells start; training cells in flight save a checkpoint, other cells in "
      "flight are abandoned. Press Ctrl-C again to abort at once.\n";
  static constexpr char term_msg[] =
      "\n[vibench] SIGTERM: stopping: no new cells start; training cells in flight save a checkpoint, other cells in "
      "flight are abandoned.\n";
  if (sig == SIGINT)
    (void)!::write(STDERR_FILENO, int_msg, sizeof int_msg - 1);
  else
    (void)!::write(STDERR_FILENO, term_msg, sizeof term_msg - 1);
  errno = saved_errno;
}

constexpr int handled[] = {SIGINT, SIGTERM};

}  // namespace

StopSignals::StopSignals() {
  static_assert(std::size(handled) == sizeof previous_ / sizeof previous_[0]);
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // file writes and waits in progress continue rather than fail with EINTR
  for (std::size_t i = 0; i < std::size(handled); ++i) {
    ::sigaction(handled[i], nullptr, &previous_[i]);
    // A signal ignored at start stays ignored (a background job of a script, nohup-style launchers): the
    // convention is that whoever started us meant it not to stop us.
    if (previous_[i].sa_handler != SIG_IGN) ::sigaction(handled[i], &action, nullptr);
  }
}

StopSignals::~StopSignals() {
  for (std::size_t i = 0; i < std::size(handled); ++i) ::sigaction(handled[i], &previous_[i], nullptr);
}

int stopped_exit_status(int sig) { return 128 + sig; }

void exit_by_signal(int sig) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  ::signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(sig);
  std::_Exit(stopped_exit_status(sig));  // not reached: the default action of SIGINT/SIGTERM ends the process
}

}  // namespace vibench

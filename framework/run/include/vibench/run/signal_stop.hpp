#pragma once
// SIGINT (Ctrl-C) and SIGTERM (what Slurm sends before a time limit or on preemption) during `vibench run`:
// the first one sets the stop request (stop_request.hpp) and says on stderr what happens next; a second
// one aborts at once with the signal's default action.
#include <csignal>

namespace vibench {

class StopSignals {
 public:
  StopSignals();   // installs the handlers (sigaction, SA_RESTART)
  ~StopSignals();  // restores the previous ones
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction previous_[2];  // SIGINT's, SIGTERM's
};

// The exit status of a run that stopped on signal `sig`: 128 + sig (130 for SIGINT, 143 for SIGTERM).
int stopped_exit_status(int sig);

// Ends the process by `sig` with its default action, after flushing the standard streams, so that a parent
// (a shell, a script's loop, Slurm) sees a process ended by that signal, as the convention for SIGINT asks;
// a shell reports exit status 128 + sig.
[[noreturn]] void exit_by_signal(int sig);

}  // namespace vibench

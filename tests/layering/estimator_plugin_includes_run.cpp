// Must NOT compile: a plugin file (estimators/) is built against the plugin layer; the runner is out of reach.
#include "vibench/run/runner.hpp"

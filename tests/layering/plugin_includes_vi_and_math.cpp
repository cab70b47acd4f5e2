// Must compile (the control of the failing cases: their failure is the missing header, nothing else).
#include "vibench/math/rng.hpp"
#include "vibench/plugin/registry.hpp"
#include "vibench/vi/estimator.hpp"
int layering_control() { return 0; }

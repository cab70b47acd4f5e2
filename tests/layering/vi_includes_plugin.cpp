// Must NOT compile: the vi layer (target/family/objective/estimator interfaces) may not see the plugin layer.
#include "vibench/plugin/registry.hpp"

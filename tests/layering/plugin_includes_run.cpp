// Must NOT compile: the plugin layer (registry, study API) may not see the run layer (grids, HDF5 store).
#include "vibench/run/store.hpp"

// Must NOT compile: the math layer sits below vi.
#include "vibench/vi/target.hpp"

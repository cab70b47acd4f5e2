#pragma once
// The git state of the sources this binary was built from (captured at build time, not at run time, so a
// results file names the code that produced it even if the checkout has moved on since).
namespace vibench::git_state {
extern const char* const commit;  // 40 hex digits, or "unknown" outside a git checkout
extern const int dirty;           // 1: sources (not results/figures) differed from the commit or untracked ones existed; 0: clean; −1: unknown
}  // namespace vibench::git_state

#pragma once
// Spelling suggestions for unknown names (YAML keys, plugin names, command-line words).
#include <cstddef>
#include <string>
#include <vector>

namespace vibench {

// Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent transpositions.
std::size_t edit_distance(const std::string& a, const std::string& b);

// " (did you mean 'x'?)" for the closest candidate within a third of the name's length in edits, else "".
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace vibench

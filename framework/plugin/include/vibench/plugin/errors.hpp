#pragma once
// Errors that name where the user went wrong: file:line:column and the key.
#include <stdexcept>
#include <string>

namespace vibench {

struct Location {
  std::string file;  // a path, or "<--set>" for command-line overrides
  int line = 0;      // 1-based; 0 = unknown
  int column = 0;
  std::string str() const;
};

// Bad experiment input. The CLI prints what() and exits with status 2, writing no results.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(const Location& where, const std::string& key, const std::string& message);
  const Location& where() const { return where_; }
  const std::string& key() const { return key_; }
  const std::string& message() const { return message_; }

 private:
  Location where_;
  std::string key_, message_;
};

// Thrown by plugin constructors for a bad parameter value; the grid resolver rethrows it as a
// ConfigError at the location of the offending key (full dotted name in `key`).
class ParamError : public std::runtime_error {
 public:
  ParamError(std::string key, const std::string& message)
      : std::runtime_error(message), key_(std::move(key)) {}
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

// Thrown while building a cell's plugins when the combination cannot work (e.g. an amortized family on a
// target without observations): the cell is skipped with this reason, not an input error.
class Unsupported : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace vibench

#pragma once
/// Python's KeyError and IndexError, which only the manager proxies raise.
/// Both derive from mp::ValueError (Python's derive from LookupError, which
/// this library does not have), so every error stays a mp::ProcessError.

#include "../exceptions.hpp"

namespace multiprocessing {

/// A key that is not in a managed dict or set (Python: KeyError), or a name
/// that a Namespace does not have (Python: AttributeError).
class KeyError : public ValueError {
 public:
  using ValueError::ValueError;
};

/// An index outside a managed list or array, or pop() from an empty list
/// (Python: IndexError).
class IndexError : public ValueError {
 public:
  using ValueError::ValueError;
};

}  // namespace multiprocessing

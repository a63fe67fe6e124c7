#pragma once
// One include for Catch2 v3 (catch_all.hpp) and v2 (catch.hpp, Debian 12).
#if MP_CATCH_VERSION == 3
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

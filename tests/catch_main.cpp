// Catch2 v2 (Debian 12) needs its main in one translation unit; v3 links
// Catch2::Catch2WithMain instead.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

// pigeon/config/writer.hpp: a config::Config written back as a commented TOML file.
//
// Contract: to_toml() writes a file that parse_config() (config/reader.hpp) reads back to an
// equal Config, except for `create_demo_user`, which is not a file key (it only exists for the
// embedded default). tests/config/config_test.cpp checks the round trip.
#pragma once
#include <string>

#include "config/model.hpp"

namespace pigeon::config {

// The configuration as a commented TOML file (what `pigeon show-config` prints).
std::string to_toml(const Config& config);

}  // namespace pigeon::config

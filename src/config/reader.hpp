// pigeon/config/reader.hpp: a TOML configuration file read into a config::Config.
//
// Contract:
//   - parse_config() never throws and never touches the file system or the network. Anything
//     wrong gives a ParseError whose message is "<source>:<line>: <key>: <what is wrong>",
//     e.g. "config.toml:12: limits.max_recipients: must be >= 100 (RFC 5321 4.5.3.1.8)".
//     Unknown keys (with a near miss suggested), wrong types and out-of-range values are
//     errors: a typo must never be silently ignored. Keys left out take their default
//     (config/model.hpp).
//   - The rules that are not about the file's shape are config/validate.hpp's; the reader
//     reports what they find at the key and line it came from.
//   - load_config() reads the file (an unreadable file is a ParseError too) and parses it.
#pragma once
#include <string>
#include <string_view>

#include "config/model.hpp"
#include "core/result.hpp"

namespace pigeon::config {

// `default_hostname` is used when the file has no `hostname` key.
core::Result<Config> parse_config(std::string_view text, std::string_view source_name,
                                  std::string_view default_hostname = "localhost");

// Reads `path` and parses it with system_hostname() as the default hostname.
core::Result<Config> load_config(const std::string& path);

}  // namespace pigeon::config

// pigeon/core/log_level.hpp: how much the server says, from the configuration's `log_level`
// down to each line the server, the checks and the CLI write.
#pragma once

namespace pigeon::core {

// In order of urgency: a line is written when its level is <= the configured one.
enum class LogLevel { error, warn, info, debug };

inline const char* log_level_name(LogLevel level) {
    switch (level) {
        case LogLevel::error: return "error";
        case LogLevel::warn: return "warn";
        case LogLevel::info: return "info";
        case LogLevel::debug: return "debug";
    }
    return "?";
}

}  // namespace pigeon::core

// pigeon/core/base64.hpp: base64 (RFC 4648 4), one encoder and one strict decoder for the
// whole project (SASL in smtp/, DKIM in auth/dkim).
//
// Contract: base64_decode is strict: whole 4-character groups, "=" padding only at the end,
// pad bits zero, no white space, so base64_decode(base64_encode(b)) == b and
// base64_encode(base64_decode(t)) == t. Never throws. (DKIM keeps its own lenient decoder for
// tag values, which may carry folding white space: see auth/dkim/record.hpp.)
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace pigeon::core {

std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);

}  // namespace pigeon::core

// pigeon/core/result.hpp: a value or a reason, for parsers that must never throw on bad input.
#pragma once
#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace pigeon::core {

struct ParseError {
    std::string message;  // human-readable, names what was wrong and where
    friend bool operator==(const ParseError&, const ParseError&) = default;
};

template <class T>
class Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(ParseError error) : v_(std::move(error)) {}

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    const T& value() const& { assert(ok()); return std::get<0>(v_); }
    T& value() & { assert(ok()); return std::get<0>(v_); }
    T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
    const ParseError& error() const { assert(!ok()); return std::get<1>(v_); }

    const T* operator->() const { return &value(); }
    const T& operator*() const { return value(); }

private:
    std::variant<T, ParseError> v_;
};

}  // namespace pigeon::core

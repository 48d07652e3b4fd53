// pigeon/core/result.hpp: the one result type. A value or an error; never throws on the
// error path.
//
// Contract:
//   - An error is a core::Error<Code>: a code that callers branch on, and a message for a
//     person. Each library has its own small Code enum, whose first enumerator is its
//     general failure (so a value-initialised code means "failed", with the message saying
//     how). Callers never branch on the message's text.
//   - Result<T, E> holds a T or an E; Status<E> is the result of an operation that yields
//     nothing. value() on an error, or error() on a value, is a bug (asserts).
//   - Parsers use the defaults: Result<T> holds a T or a ParseError (code malformed, message
//     naming what was wrong and where). The spool's queue::Result and queue::Status are this
//     template over queue::Error (see queue/storage.hpp).
#pragma once
#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace pigeon::core {

template <class Code>
struct Error {
    std::string message;  // human-readable: what was wrong, where, and why
    Code code{};
    friend bool operator==(const Error&, const Error&) = default;
};

// What a parser's error is: the input does not follow the grammar. The message says how.
enum class ParseCode : std::uint8_t { malformed };
using ParseError = Error<ParseCode>;

template <class T, class E = ParseError>
class Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(E error) : v_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    const T& value() const& { assert(ok()); return std::get<0>(v_); }
    T& value() & { assert(ok()); return std::get<0>(v_); }
    T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
    const E& error() const& { assert(!ok()); return std::get<1>(v_); }
    E&& error() && { assert(!ok()); return std::get<1>(std::move(v_)); }
    auto code() const { return error().code; }

    const T* operator->() const { return &value(); }
    T* operator->() { return &value(); }
    const T& operator*() const { return value(); }

private:
    std::variant<T, E> v_;
};

template <class E = ParseError>
class Status {
public:
    Status() = default;  // success
    Status(E error) : error_(std::move(error)) {}
    static Status success() { return {}; }

    bool ok() const noexcept { return !error_.has_value(); }
    explicit operator bool() const noexcept { return ok(); }
    const E& error() const { assert(!ok()); return *error_; }
    auto code() const { return error().code; }

private:
    std::optional<E> error_;
};

}  // namespace pigeon::core

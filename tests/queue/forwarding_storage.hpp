// A Storage that hands every call to a MemoryStorage (`inner`), for tests that change one
// behaviour (a slow barrier, one failing barrier) and keep the rest.
#pragma once
#include "queue/memory_storage.hpp"

namespace pigeon::test {

class ForwardingStorage : public queue::Storage {
public:
    queue::Status create(const std::string& n, std::string_view b) override { return inner.create(n, b); }
    queue::Result<std::string> read(const std::string& n) const override { return inner.read(n); }
    queue::Result<std::vector<std::string>> list() const override { return inner.list(); }
    queue::Status rename(const std::string& f, const std::string& t) override { return inner.rename(f, t); }
    queue::Status remove(const std::string& n) override { return inner.remove(n); }
    queue::Status append(const std::string& n, std::string_view b) override { return inner.append(n, b); }
    queue::Result<std::string> read_range(const std::string& n, std::uint64_t o, std::uint64_t l) const override {
        return inner.read_range(n, o, l);
    }
    queue::Status sync() override { return inner.sync(); }

    queue::MemoryStorage inner;
};

}  // namespace pigeon::test

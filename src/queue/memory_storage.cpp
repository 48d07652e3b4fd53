// pigeon/queue/memory_storage.cpp: the crashable in-memory Storage.
#include "queue/memory_storage.hpp"

namespace pigeon::queue {
namespace {

// splitmix64: a tiny fixed generator so a seed tears files the same way on every compiler.
std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

Error bad_name(const char* op, const std::string& name) {
    return Error{std::string(op) + " '" + name + "': invalid storage name"};
}

}  // namespace

Status MemoryStorage::spend(const char* op, const std::string& name) {
    if (budget_) {
        if (*budget_ == 0) {
            return Error{std::string(op) + " '" + name + "': storage stopped (simulated crash)"};
        }
        --*budget_;
    }
    return {};
}

Status MemoryStorage::create(const std::string& name, std::string_view bytes) {
    if (!is_valid_storage_name(name)) {
        return bad_name("create", name);
    }
    std::lock_guard lock(mutex_);
    if (auto s = spend("create", name); !s) {
        return s;
    }
    if (current_.count(name) != 0) {
        return Error{"create '" + name + "': file exists"};
    }
    if (create_failure_) {
        current_[name] = std::string(bytes.substr(0, bytes.size() / 2));
        return Error{"create '" + name + "': " + *create_failure_};
    }
    current_[name] = std::string(bytes);
    ++mutations_;
    return {};
}

Result<std::string> MemoryStorage::read(const std::string& name) const {
    std::lock_guard lock(mutex_);
    const auto it = current_.find(name);
    if (it == current_.end()) {
        return Error{"read '" + name + "': no such file"};
    }
    return it->second;
}

Result<std::vector<std::string>> MemoryStorage::list() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> names;
    names.reserve(current_.size());
    for (const auto& [name, bytes] : current_) {
        names.push_back(name);
    }
    return names;
}

Status MemoryStorage::rename(const std::string& from, const std::string& to) {
    if (!is_valid_storage_name(from) || !is_valid_storage_name(to)) {
        return bad_name("rename", from + "' -> '" + to);
    }
    std::lock_guard lock(mutex_);
    if (auto s = spend("rename", from); !s) {
        return s;
    }
    const auto it = current_.find(from);
    if (it == current_.end()) {
        return Error{"rename '" + from + "': no such file"};
    }
    std::string bytes = std::move(it->second);
    current_.erase(it);
    current_[to] = std::move(bytes);
    ++mutations_;
    return {};
}

Status MemoryStorage::remove(const std::string& name) {
    if (!is_valid_storage_name(name)) {
        return bad_name("remove", name);
    }
    std::lock_guard lock(mutex_);
    if (auto s = spend("remove", name); !s) {
        return s;
    }
    current_.erase(name);
    ++mutations_;
    return {};
}

Status MemoryStorage::append(const std::string& name, std::string_view bytes) {
    if (!is_valid_storage_name(name)) {
        return bad_name("append", name);
    }
    std::lock_guard lock(mutex_);
    if (auto s = spend("append", name); !s) {
        return s;
    }
    std::string& file = current_[name];
    if (create_failure_) {
        file.append(bytes.substr(0, bytes.size() / 2));
        return Error{"append '" + name + "': " + *create_failure_};
    }
    file.append(bytes);
    ++mutations_;
    return {};
}

Result<std::string> MemoryStorage::read_range(const std::string& name, std::uint64_t offset,
                                                std::uint64_t length) const {
    std::lock_guard lock(mutex_);
    const auto it = current_.find(name);
    if (it == current_.end()) {
        return Error{"read '" + name + "': no such file"};
    }
    if (offset > it->second.size() || length > it->second.size() - offset) {
        return Error{"read '" + name + "': " + std::to_string(length) + " octets at " +
                     std::to_string(offset) + " are past the end (" +
                     std::to_string(it->second.size()) + " octets)"};
    }
    return it->second.substr(static_cast<std::size_t>(offset), static_cast<std::size_t>(length));
}

Status MemoryStorage::sync() {
    std::lock_guard lock(mutex_);
    if (auto s = spend("sync", "*"); !s) {
        return s;
    }
    if (sync_failure_) {
        return Error{"sync: " + *sync_failure_};
    }
    durable_ = current_;
    ++syncs_;
    ++mutations_;
    return {};
}

void MemoryStorage::crash(CrashModel model, std::uint64_t seed) {
    std::lock_guard lock(mutex_);
    std::map<std::string, std::string> after = durable_;
    if (model == CrashModel::tear_unsynced) {
        std::uint64_t state = seed;
        for (const auto& [name, bytes] : current_) {
            const auto d = durable_.find(name);
            if (d != durable_.end() && d->second == bytes) {
                continue;  // unchanged since the last sync
            }
            if (d != durable_.end() && bytes.size() > d->second.size() &&
                bytes.compare(0, d->second.size(), d->second) == 0) {
                // Appended to since the last sync: the synced octets stay, followed by a
                // strict prefix (possibly empty) of the new ones.
                const std::size_t tail = bytes.size() - d->second.size();
                after[name] = bytes.substr(0, d->second.size() + splitmix64(state) % tail);
                continue;
            }
            if (splitmix64(state) % 3 == 0 || bytes.empty()) {
                continue;  // gone (or back to its durable version)
            }
            after[name] = bytes.substr(0, splitmix64(state) % bytes.size());
        }
        // Unsynced removals persist or not, each on its own: the file system may have
        // written any subset of the directory changes, in any order.
        for (const auto& [name, bytes] : durable_) {
            if (current_.count(name) == 0 && splitmix64(state) % 2 == 0) {
                after.erase(name);
            }
        }
    }
    current_ = std::move(after);
    create_failure_.reset();
    sync_failure_.reset();
    budget_.reset();
}

void MemoryStorage::fail_creates(std::optional<std::string> reason) {
    std::lock_guard lock(mutex_);
    create_failure_ = std::move(reason);
}

void MemoryStorage::fail_syncs(std::optional<std::string> reason) {
    std::lock_guard lock(mutex_);
    sync_failure_ = std::move(reason);
}

void MemoryStorage::set_operation_budget(std::optional<std::size_t> n) {
    std::lock_guard lock(mutex_);
    budget_ = n;
}

std::size_t MemoryStorage::sync_count() const {
    std::lock_guard lock(mutex_);
    return syncs_;
}

std::size_t MemoryStorage::mutation_count() const {
    std::lock_guard lock(mutex_);
    return mutations_;
}

std::map<std::string, std::string> MemoryStorage::files() const {
    std::lock_guard lock(mutex_);
    return current_;
}

std::map<std::string, std::string> MemoryStorage::durable_files() const {
    std::lock_guard lock(mutex_);
    return durable_;
}

}  // namespace pigeon::queue

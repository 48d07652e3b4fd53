// pigeon/queue/storage.cpp: the storage name rule shared by every Storage, and the default
// append_parts().
#include "queue/storage.hpp"

namespace pigeon::queue {

bool is_valid_storage_name(std::string_view name) {
    if (name.empty() || name.size() > storage_name_max_octets || name == "." || name == "..") {
        return false;
    }
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

Status Storage::append_parts(const std::string& name, std::span<const std::string_view> parts) {
    std::string bytes;
    std::size_t n = 0;
    for (const std::string_view p : parts) {
        n += p.size();
    }
    bytes.reserve(n);
    for (const std::string_view p : parts) {
        bytes.append(p);
    }
    return append(name, bytes);
}

}  // namespace pigeon::queue

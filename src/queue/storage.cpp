// pigeon/queue/storage.cpp: the storage name rule shared by every Storage.
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

}  // namespace pigeon::queue

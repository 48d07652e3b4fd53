// pigeon/net/spill.cpp: unnamed spill files, written with write(2) and read through mmap(2).
#include "net/spill.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <string_view>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pigeon::net {

namespace {

// The descriptor (and the mapping, once there is one) of one spill file.
struct Spilled {
    int fd = -1;
    void* map = nullptr;
    std::size_t length = 0;
    std::shared_ptr<std::atomic<std::size_t>> count;

    Spilled(int f, std::shared_ptr<std::atomic<std::size_t>> c) : fd(f), count(std::move(c)) { ++*count; }
    Spilled(const Spilled&) = delete;
    Spilled& operator=(const Spilled&) = delete;
    ~Spilled() {
        if (map != nullptr) ::munmap(map, length);
        ::close(fd);
        --*count;
    }
};

class SpillFile final : public smtp::MessageSpill::File {
public:
    explicit SpillFile(std::shared_ptr<Spilled> file) : file_(std::move(file)) {}

    bool write(std::string_view octets) override {
        if (!file_) return false;
        while (!octets.empty()) {
            const ssize_t n = ::write(file_->fd, octets.data(), octets.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                file_.reset();  // the file goes now; finish() will say no
                return false;
            }
            octets.remove_prefix(static_cast<std::size_t>(n));
            written_ += static_cast<std::size_t>(n);
        }
        return true;
    }

    core::MessageRef finish() override {
        if (!file_) return {};
        auto file = std::move(file_);
        if (written_ == 0) return core::MessageRef(std::string());
        void* map = ::mmap(nullptr, written_, PROT_READ, MAP_SHARED, file->fd, 0);
        if (map == MAP_FAILED) return {};
        file->map = map;
        file->length = written_;
        // Read once from start to end by the DKIM hashes and the spool's copy.
        ::madvise(map, written_, MADV_SEQUENTIAL);
        const std::string_view octets(static_cast<const char*>(map), written_);
        return core::MessageRef::viewing(std::shared_ptr<const void>(std::move(file)), octets);
    }

private:
    std::shared_ptr<Spilled> file_;
    std::size_t written_ = 0;
};

}  // namespace

SpillDirectory::SpillDirectory(std::string path)
    : path_(std::move(path)), open_(std::make_shared<std::atomic<std::size_t>>(0)) {
    if (::mkdir(path_.c_str(), 0700) != 0 && errno != EEXIST)
        throw std::runtime_error("cannot create the spill directory " + path_ + ": " + std::strerror(errno));
    dir_fd_ = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd_ < 0)
        throw std::runtime_error("cannot open the spill directory " + path_ + ": " + std::strerror(errno));
}

SpillDirectory::~SpillDirectory() {
    if (dir_fd_ >= 0) ::close(dir_fd_);
}

std::unique_ptr<smtp::MessageSpill::File> SpillDirectory::open() {
    int fd = ::openat(dir_fd_, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        // No O_TMPFILE here: a named file, unlinked before anything is written to it.
        std::string name = path_ + "/spill.XXXXXX";
        fd = ::mkostemp(name.data(), O_CLOEXEC);
        if (fd >= 0) ::unlink(name.c_str());
    }
    if (fd < 0) return nullptr;
    return std::make_unique<SpillFile>(std::make_shared<Spilled>(fd, open_));
}

}  // namespace pigeon::net

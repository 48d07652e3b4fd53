// Helpers shared by the tls tests: a scratch directory and a self-signed certificate in it.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "tls/credentials.hpp"

namespace pigeon::tls::testing {

// A fresh mkdtemp directory, removed with everything in it at the end of the test.
class TempDir {
public:
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "pigeon-tls-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

// A server context for `hostname` with a freshly generated certificate.
inline std::shared_ptr<TlsContext> make_server_context(const TempDir& dir,
                                                       const std::string& hostname) {
    generate_self_signed(hostname, dir.file("cert.pem"), dir.file("key.pem"));
    return TlsContext::from_pem_files(dir.file("cert.pem"), dir.file("key.pem"));
}

}  // namespace pigeon::tls::testing

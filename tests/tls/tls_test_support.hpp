// Helpers shared by the tls tests: a scratch directory and a self-signed certificate in it.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "support/temp_dir.hpp"
#include "tls/credentials.hpp"

namespace pigeon::tls::testing {

// A fresh mkdtemp directory, removed with everything in it at the end of the test.
using pigeon::test::TempDir;  // tests/support/temp_dir.hpp

// A server context for `hostname` with a freshly generated certificate.
inline std::shared_ptr<TlsContext> make_server_context(const TempDir& dir,
                                                       const std::string& hostname) {
    generate_self_signed(hostname, dir.file("cert.pem"), dir.file("key.pem"));
    return TlsContext::from_pem_files(dir.file("cert.pem"), dir.file("key.pem"));
}

}  // namespace pigeon::tls::testing

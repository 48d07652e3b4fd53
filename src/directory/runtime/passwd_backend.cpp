#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "directory/runtime/backends.hpp"

namespace pigeon::directory {
namespace {

using policy::Account;
using policy::Lookup;

class PasswdBackend final : public Backend {
public:
    explicit PasswdBackend(PasswdFile file) : file_(std::move(file)) {}
    Lookup<std::string> recipient(const std::string& address) override {
        const PasswdUser* u = file_.find(address);
        return u ? Lookup<std::string>::found(u->address) : Lookup<std::string>::not_found();
    }
    Lookup<Account> login(const std::string& login) override {
        const PasswdUser* u = file_.find(login);
        return u ? Lookup<Account>::found({u->address, u->password_hash}) : Lookup<Account>::not_found();
    }
    Lookup<std::vector<std::string>> senders(const std::string& login) override {
        const PasswdUser* u = file_.find(login);
        return u ? Lookup<std::vector<std::string>>::found({u->address})
                 : Lookup<std::vector<std::string>>::not_found();
    }

private:
    const PasswdFile file_;  // never changes: a reload makes a new backend
};

}  // namespace

core::Result<std::unique_ptr<Backend>> open_passwd_file(const std::string& path, std::vector<std::string>& warnings) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return core::ParseError{path + ": cannot read the passwd-file: " + std::strerror(errno)};
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return core::ParseError{path + ": cannot read the passwd-file: read error"};
    auto file = parse_passwd_file(text.str(), path);
    if (!file) return file.error();
    for (auto& w : file.value().warnings) warnings.push_back(w);
    return std::unique_ptr<Backend>(std::make_unique<PasswdBackend>(std::move(file).value()));
}

}  // namespace pigeon::directory

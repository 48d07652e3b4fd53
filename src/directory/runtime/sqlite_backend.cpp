#include <sqlite3.h>

#include <mutex>

#include "directory/runtime/backends.hpp"

namespace pigeon::directory {
namespace {

using policy::Account;
using policy::Lookup;

struct Statement {
    sqlite3_stmt* stmt = nullptr;
    ~Statement() { sqlite3_finalize(stmt); }
};

class SqliteBackend final : public Backend {
public:
    ~SqliteBackend() override {
        recipient_.reset();
        login_.reset();
        senders_.reset();
        sqlite3_close(db_);
    }

    // The database opened read-only and each query prepared: a bad query is an error now,
    // naming its key, not a failure at the first RCPT.
    static core::Result<std::unique_ptr<Backend>> open(const config::DirectorySettings& s) {
        auto b = std::make_unique<SqliteBackend>();
        const int rc = sqlite3_open_v2(s.path.c_str(), &b->db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, nullptr);
        if (rc != SQLITE_OK)
            return core::ParseError{s.path + ": cannot open the SQLite directory: " +
                                    (b->db_ ? sqlite3_errmsg(b->db_) : sqlite3_errstr(rc))};
        sqlite3_busy_timeout(b->db_, static_cast<int>(s.timeout_ms));
        struct Q { const char* key; const std::string& sql; std::unique_ptr<Statement>& into; };
        for (Q q : {Q{"recipient_query", s.recipient_query, b->recipient_}, Q{"login_query", s.login_query, b->login_},
                    Q{"sender_query", s.sender_query, b->senders_}}) {
            if (q.sql.empty()) continue;
            q.into = std::make_unique<Statement>();
            if (sqlite3_prepare_v2(b->db_, q.sql.c_str(), static_cast<int>(q.sql.size()), &q.into->stmt, nullptr) !=
                    SQLITE_OK ||
                q.into->stmt == nullptr)
                return core::ParseError{"[directory] " + std::string(q.key) + ": " + sqlite3_errmsg(b->db_)};
            if (sqlite3_bind_parameter_count(q.into->stmt) < 1)
                return core::ParseError{"[directory] " + std::string(q.key) + ": takes no parameter for the address"};
        }
        return std::unique_ptr<Backend>(std::move(b));
    }

    Lookup<std::string> recipient(const std::string& address) override {
        auto rows = run(*recipient_, address, 1);
        if (rows.status != policy::Found::yes) return {rows.status, {}, rows.reason};
        return rows.value.empty() ? Lookup<std::string>::not_found() : Lookup<std::string>::found(rows.value.front());
    }
    Lookup<Account> login(const std::string& login) override {
        auto rows = run(*login_, login, 1);
        if (rows.status != policy::Found::yes) return {rows.status, {}, rows.reason};
        return rows.value.empty() ? Lookup<Account>::not_found() : Lookup<Account>::found({login, rows.value.front()});
    }
    Lookup<std::vector<std::string>> senders(const std::string& login) override {
        if (!senders_) return Lookup<std::vector<std::string>>::found({});
        return run(*senders_, login, 1000);
    }

private:
    // The first column of up to `max_rows` rows (NULL and empty values skipped).
    Lookup<std::vector<std::string>> run(Statement& q, const std::string& key, std::size_t max_rows) {
        std::lock_guard lock(mutex_);
        sqlite3_stmt* st = q.stmt;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        for (int i = 1; i <= sqlite3_bind_parameter_count(st); ++i)
            sqlite3_bind_text(st, i, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
        std::vector<std::string> rows;
        for (;;) {
            const int rc = sqlite3_step(st);
            if (rc == SQLITE_DONE) break;
            if (rc != SQLITE_ROW) {
                std::string why = std::string("SQLite: ") + sqlite3_errmsg(db_);
                sqlite3_reset(st);
                return Lookup<std::vector<std::string>>::unavailable(std::move(why));
            }
            const auto* text = sqlite3_column_text(st, 0);
            const int n = sqlite3_column_bytes(st, 0);
            if (text != nullptr && n > 0) rows.emplace_back(reinterpret_cast<const char*>(text), static_cast<std::size_t>(n));
            if (rows.size() >= max_rows) break;
        }
        sqlite3_reset(st);
        return Lookup<std::vector<std::string>>::found(std::move(rows));
    }

    sqlite3* db_ = nullptr;
    std::mutex mutex_;  // the statements
    std::unique_ptr<Statement> recipient_, login_, senders_;
};

}  // namespace

core::Result<std::unique_ptr<Backend>> open_sqlite(const config::DirectorySettings& settings) {
    return SqliteBackend::open(settings);
}

}  // namespace pigeon::directory

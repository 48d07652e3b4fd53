#include <libpq-fe.h>

#include <mutex>

#include "directory/runtime/backends.hpp"

namespace pigeon::directory {
namespace {

using policy::Account;
using policy::Lookup;
using Rows = Lookup<std::vector<std::string>>;

constexpr const char* names[] = {"pigeon_recipient", "pigeon_login", "pigeon_senders"};

struct Connection {
    PGconn* conn = nullptr;
    ~Connection() { PQfinish(conn); }
};

class PostgresBackend final : public Backend {
public:
    explicit PostgresBackend(const config::DirectorySettings& s) : settings_(s) {
        // connect_timeout counts whole seconds (at least 2 in libpq); statement_timeout ms.
        // The operator's conninfo (key=value or a URI) is expanded first; these come after it
        // and so win (libpq keeps the last value of a repeated key).
        const std::uint32_t seconds = (s.timeout_ms + 999) / 1000;
        connect_timeout_ = std::to_string(seconds < 2 ? 2 : seconds);
        options_ = "-c statement_timeout=" + std::to_string(s.timeout_ms);
    }

    Lookup<std::string> recipient(const std::string& address) override {
        Rows rows = run(0, address, 1);
        if (rows.status != policy::Found::yes) return {rows.status, {}, rows.reason};
        return rows.value.empty() ? Lookup<std::string>::not_found() : Lookup<std::string>::found(rows.value.front());
    }
    Lookup<Account> login(const std::string& login) override {
        Rows rows = run(1, login, 1);
        if (rows.status != policy::Found::yes) return {rows.status, {}, rows.reason};
        return rows.value.empty() ? Lookup<Account>::not_found() : Lookup<Account>::found({login, rows.value.front()});
    }
    Lookup<std::vector<std::string>> senders(const std::string& login) override {
        if (settings_.sender_query.empty()) return Rows::found({});
        return run(2, login, 1000);
    }

private:
    // A connection from the idle ones, or a new one with the queries prepared; null after
    // saying why in `why`.
    std::unique_ptr<Connection> take(std::string& why) {
        {
            std::lock_guard lock(mutex_);
            if (!idle_.empty()) {
                auto c = std::move(idle_.back());
                idle_.pop_back();
                return c;
            }
        }
        auto c = std::make_unique<Connection>();
        const char* keys[] = {"dbname", "connect_timeout", "options", nullptr};
        const char* values[] = {settings_.conninfo.c_str(), connect_timeout_.c_str(), options_.c_str(), nullptr};
        c->conn = PQconnectdbParams(keys, values, 1);
        if (c->conn == nullptr || PQstatus(c->conn) != CONNECTION_OK) {
            why = std::string("PostgreSQL: ") + (c->conn ? PQerrorMessage(c->conn) : "out of memory");
            return nullptr;
        }
        const std::string* sql[] = {&settings_.recipient_query, &settings_.login_query, &settings_.sender_query};
        for (int i = 0; i < 3; ++i) {
            if (sql[i]->empty()) continue;
            PGresult* r = PQprepare(c->conn, names[i], sql[i]->c_str(), 1, nullptr);
            const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            if (!ok) why = std::string("PostgreSQL: preparing ") + names[i] + ": " + PQresultErrorMessage(r);
            PQclear(r);
            if (!ok) return nullptr;
        }
        return c;
    }

    void give_back(std::unique_ptr<Connection> c) {
        std::lock_guard lock(mutex_);
        if (idle_.size() < settings_.threads + 1) idle_.push_back(std::move(c));
    }

    Rows run(int query, const std::string& key, std::size_t max_rows) {
        std::string why;
        auto c = take(why);
        if (!c) return Rows::unavailable(strip(why));
        const char* values[] = {key.c_str()};
        const int lengths[] = {static_cast<int>(key.size())};
        const int formats[] = {0};
        PGresult* r = PQexecPrepared(c->conn, names[query], 1, values, lengths, formats, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            why = std::string("PostgreSQL: ") + PQresultErrorMessage(r);
            PQclear(r);
            // A broken connection is dropped; a failed statement leaves it usable.
            if (PQstatus(c->conn) == CONNECTION_OK) give_back(std::move(c));
            return Rows::unavailable(strip(why));
        }
        std::vector<std::string> rows;
        const int n = PQntuples(r);
        for (int i = 0; i < n && rows.size() < max_rows; ++i) {
            if (PQnfields(r) < 1 || PQgetisnull(r, i, 0)) continue;
            std::string v(PQgetvalue(r, i, 0), static_cast<std::size_t>(PQgetlength(r, i, 0)));
            if (!v.empty()) rows.push_back(std::move(v));
        }
        PQclear(r);
        give_back(std::move(c));
        return Rows::found(std::move(rows));
    }

    static std::string strip(std::string s) {
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
        for (char& ch : s)
            if (ch == '\n') ch = ' ';
        return s;
    }

    const config::DirectorySettings settings_;
    std::string connect_timeout_, options_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Connection>> idle_;  // under mutex_
};

}  // namespace

std::unique_ptr<Backend> open_postgresql(const config::DirectorySettings& settings) {
    return std::make_unique<PostgresBackend>(settings);
}

}  // namespace pigeon::directory

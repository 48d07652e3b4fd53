// Tests for the SQLite backend (directory/runtime/backends.hpp) against a real database file
// in a temporary directory: the documented queries and columns, aliases through the
// recipient query, an address with a quote and a semicolon bound as a parameter (never
// SQL), a bad query refused at open naming its key, and a failing query answered
// "unavailable", never "not found".
#include <sqlite3.h>

#include <boost/test/unit_test.hpp>

#include "directory/runtime/backends.hpp"
#include "support/temp_dir.hpp"

using namespace pigeon;
using policy::Found;

namespace {

void exec(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    BOOST_REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    BOOST_REQUIRE_MESSAGE(rc == SQLITE_OK, (error ? error : ""));
    sqlite3_free(error);
    sqlite3_close(db);
}

// The schema of docs/operations.md "Users in SQL".
struct Db {
    test::TempDir dir;
    std::string path = dir.file("users.sqlite");
    config::DirectorySettings settings;

    Db() {
        exec(path,
             "CREATE TABLE users (address TEXT PRIMARY KEY, password TEXT NOT NULL);"
             "CREATE TABLE aliases (alias TEXT PRIMARY KEY, address TEXT NOT NULL REFERENCES users);"
             "INSERT INTO users VALUES ('bob@example.org', '{PLAIN}bobpw');"
             "INSERT INTO users VALUES ('alice@example.org', '{PLAIN}alicepw');"
             "INSERT INTO aliases VALUES ('robert@example.org', 'bob@example.org');"
             "INSERT INTO aliases VALUES ('postmaster@example.org', 'alice@example.org');");
        settings.backend = config::DirectorySettings::Backend::sqlite;
        settings.path = path;
        settings.recipient_query =
            "SELECT address FROM users WHERE address = ?1 UNION ALL SELECT address FROM aliases WHERE alias = ?1";
        settings.login_query = "SELECT password FROM users WHERE address = $1";
        settings.sender_query = "SELECT alias FROM aliases WHERE address = ?";
    }
    std::unique_ptr<directory::Backend> open() {
        auto b = directory::open_sqlite(settings);
        BOOST_REQUIRE_MESSAGE(b.ok(), (b.ok() ? std::string() : b.error().message));
        return std::move(b).value();
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(sqlite_directory)

BOOST_AUTO_TEST_CASE(answers_from_the_configured_queries) {
    Db db;
    auto b = db.open();
    auto bob = b->recipient("bob@example.org");
    BOOST_TEST((bob.status == Found::yes));
    BOOST_TEST(bob.value == "bob@example.org");
    auto alias = b->recipient("robert@example.org");
    BOOST_TEST((alias.status == Found::yes));
    BOOST_TEST(alias.value == "bob@example.org");  // delivered to the user the alias names
    BOOST_TEST((b->recipient("carol@example.org").status == Found::no));
    auto login = b->login("alice@example.org");
    BOOST_TEST((login.status == Found::yes));
    BOOST_TEST(login.value.address == "alice@example.org");
    BOOST_TEST(login.value.password_hash == "{PLAIN}alicepw");
    BOOST_TEST((b->login("carol@example.org").status == Found::no));
    auto senders = b->senders("bob@example.org");
    BOOST_TEST((senders.status == Found::yes));
    BOOST_TEST(senders.value == std::vector<std::string>{"robert@example.org"});
}

BOOST_AUTO_TEST_CASE(a_quote_and_a_semicolon_in_the_address_stay_data) {
    Db db;
    auto b = db.open();
    for (const std::string evil :
         {"x' OR '1'='1", "\"o'x;drop table users;--\"@example.org", "bob@example.org'; DROP TABLE users; --"}) {
        BOOST_TEST((b->recipient(evil).status == Found::no));
        BOOST_TEST((b->login(evil).status == Found::no));
    }
    BOOST_TEST((b->recipient("bob@example.org").status == Found::yes));  // the table is still there
}

BOOST_AUTO_TEST_CASE(a_bad_query_or_database_is_an_error_at_open) {
    Db db;
    db.settings.login_query = "SELECT password FROM no_such_table WHERE address = ?";
    auto b = directory::open_sqlite(db.settings);
    BOOST_REQUIRE(!b.ok());
    BOOST_TEST(b.error().message == "[directory] login_query: no such table: no_such_table");
    db.settings.login_query = "SELECT password FROM users";
    b = directory::open_sqlite(db.settings);
    BOOST_REQUIRE(!b.ok());
    BOOST_TEST(b.error().message == "[directory] login_query: takes no parameter for the address");
    db.settings.path = db.dir.file("missing.sqlite");
    b = directory::open_sqlite(db.settings);
    BOOST_REQUIRE(!b.ok());
    BOOST_TEST(b.error().message == db.settings.path + ": cannot open the SQLite directory: unable to open database file");
}

// The table dropped under the open backend: its statement fails, which is "unavailable".
BOOST_AUTO_TEST_CASE(a_failing_query_is_unavailable_not_unknown) {
    Db db;
    auto b = db.open();
    exec(db.path, "DROP TABLE aliases;");
    auto r = b->recipient("bob@example.org");
    BOOST_TEST((r.status == Found::unavailable));
    BOOST_TEST(r.reason.find("SQLite: ") == 0u);
    BOOST_TEST((b->login("bob@example.org").status == Found::yes));  // the other query still works
}

BOOST_AUTO_TEST_CASE(without_a_sender_query_a_login_sends_as_itself) {
    Db db;
    db.settings.sender_query.clear();
    auto b = db.open();
    auto senders = b->senders("bob@example.org");
    BOOST_TEST((senders.status == Found::yes));
    BOOST_TEST(senders.value.empty());
}

BOOST_AUTO_TEST_SUITE_END()

// Tests for dns/unbound_resolver.hpp (its rdata decoding: rdata_test.cpp): bounded behaviour
// with no usable upstream (closed or silent loopback ports: timeout or SERVFAIL within the
// configured bound, `localhost` at once, destruction answers what is outstanding); and real
// DNSSEC: NSD on a loopback port serving a zone signed with ldns-signzone, validated by
// UnboundResolver with the zone's DS as trust anchor (secure, bogus, insecure, authenticated
// NXDOMAIN), cross-checked record by record against ZoneResolver reading the same zone text.
//
// Nothing here talks to the machine's configured resolver or leaves loopback.
#include "dns/unbound_resolver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dns/zone_resolver.hpp"

using namespace pigeon::dns;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// Far above any answer that should come from loopback or a local zone, far below "hung".
constexpr auto answer_bound = 10s;

struct Timed {
    Answer answer;
    std::chrono::milliseconds elapsed{};
    bool answered = false;
};

// Resolves and waits at most `bound`; the callback owns its promise, so a late answer is safe.
Timed resolve_sync(Resolver& r, const Question& q, std::chrono::milliseconds bound = answer_bound) {
    auto promise = std::make_shared<std::promise<Answer>>();
    auto future = promise->get_future();
    const auto start = Clock::now();
    r.resolve(q, [promise](Answer a) { promise->set_value(std::move(a)); });
    Timed t;
    if (future.wait_for(bound) == std::future_status::ready) {
        t.answer = future.get();
        t.answered = true;
    }
    t.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    return t;
}

std::unique_ptr<UnboundResolver> must_create(const UnboundOptions& options) {
    auto r = UnboundResolver::create(options);
    if (!r) BOOST_FAIL("create failed: " << r.error().message);
    return std::move(r).value();
}

// A UDP socket on loopback that never answers: queries to it can only time out.
struct SilentServer {
    int fd = -1;
    int port = 0;
    SilentServer() {
        fd = ::socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
    }
    ~SilentServer() { ::close(fd); }
    std::string address() const { return "127.0.0.1@" + std::to_string(port); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(unbound_resolver)

// ---- configuration errors ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(create_reports_bad_options) {
    UnboundOptions bad_fwd;
    bad_fwd.forwarders = {"not-an-address"};
    auto r1 = UnboundResolver::create(bad_fwd);
    BOOST_REQUIRE(!r1.ok());
    BOOST_TEST(r1.error().message.find("forwarder 'not-an-address'") != std::string::npos);

    UnboundOptions missing_ta;
    missing_ta.trust_anchor_file = "/nonexistent/root.key";
    auto r2 = UnboundResolver::create(missing_ta);
    BOOST_REQUIRE(!r2.ok());
    BOOST_TEST(r2.error().message.find("/nonexistent/root.key") != std::string::npos);

    UnboundOptions empty_stub;
    empty_stub.stub_zones = {StubZone{"example", {}}};
    BOOST_TEST(!UnboundResolver::create(empty_stub).ok());
}

// ---- without a usable upstream ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(closed_forwarder_fails_within_the_timeout) {
    UnboundOptions o;
    o.forwarders = {"127.0.0.1@1"};  // nothing listens on port 1
    o.timeout = 1000ms;
    auto r = must_create(o);
    auto t = resolve_sync(*r, make_question("example.com", RrType::a));
    BOOST_REQUIRE(t.answered);
    BOOST_TEST_MESSAGE("closed forwarder: " << rcode_name(t.answer.rcode) << " after " << t.elapsed.count() << " ms");
    BOOST_TEST((t.answer.rcode == Rcode::timeout || t.answer.rcode == Rcode::servfail));
    BOOST_TEST(!t.answer.ok());
    BOOST_TEST(t.elapsed.count() <= 1500);
    BOOST_TEST(r->outstanding() == 0u);
}

BOOST_AUTO_TEST_CASE(silent_forwarder_times_out_at_the_deadline) {
    SilentServer silent;
    UnboundOptions o;
    o.forwarders = {silent.address()};
    o.timeout = 300ms;
    auto r = must_create(o);
    auto t = resolve_sync(*r, make_question("example.com", RrType::txt));
    BOOST_REQUIRE(t.answered);
    BOOST_TEST((t.answer.rcode == Rcode::timeout));
    BOOST_TEST((t.answer.security == Security::indeterminate));
    BOOST_TEST(t.answer.canonical_name == "example.com");
    BOOST_TEST(t.elapsed.count() >= 290);
    BOOST_TEST(t.elapsed.count() <= 1300);  // the deadline plus scheduling slack on a loaded machine
    BOOST_TEST(r->outstanding() == 0u);
}

BOOST_AUTO_TEST_CASE(localhost_answers_locally_with_the_embedded_defaults) {
    // The default options: full recursion from the root, the root trust anchor. On a machine
    // without network only local data can answer; `localhost` is local data.
    auto r = must_create(UnboundOptions{});
    auto t = resolve_sync(*r, make_question("localhost", RrType::a), 3s);
    BOOST_REQUIRE(t.answered);
    BOOST_TEST((t.answer.rcode == Rcode::noerror));
    BOOST_REQUIRE(t.answer.records.size() == 1u);
    BOOST_TEST(to_string(std::get<Ipv4>(t.answer.records[0].data)) == "127.0.0.1");
    BOOST_TEST(t.answer.records[0].name == "localhost");
    BOOST_TEST(t.elapsed.count() < 1000);
    BOOST_TEST_MESSAGE("localhost A: " << t.elapsed.count() << " ms, " << security_name(t.answer.security));

    auto v6 = resolve_sync(*r, make_question("LOCALHOST.", RrType::aaaa), 3s);
    BOOST_REQUIRE(v6.answered);
    BOOST_REQUIRE(v6.answer.records.size() == 1u);
    BOOST_TEST(to_string(std::get<Ipv6>(v6.answer.records[0].data)) == "::1");
}

BOOST_AUTO_TEST_CASE(destruction_answers_outstanding_queries_with_timeout) {
    SilentServer silent;
    UnboundOptions o;
    o.forwarders = {silent.address()};
    o.timeout = 60s;
    auto r = must_create(o);
    constexpr int queries = 5;
    std::atomic<int> timeouts{0}, calls{0};
    for (int i = 0; i < queries; ++i)
        r->resolve(make_question("q" + std::to_string(i) + ".example", RrType::a), [&](Answer a) {
            ++calls;
            if (a.rcode == Rcode::timeout) ++timeouts;
        });
    std::this_thread::sleep_for(100ms);
    BOOST_TEST(r->outstanding() == static_cast<std::size_t>(queries));
    const auto start = Clock::now();
    r.reset();
    BOOST_TEST(calls.load() == queries);
    BOOST_TEST(timeouts.load() == queries);
    BOOST_TEST((Clock::now() - start) < 3s);
}

BOOST_AUTO_TEST_CASE(resolve_from_many_threads) {
    auto r = must_create(UnboundOptions{});
    constexpr int threads = 4, per_thread = 25;
    std::atomic<int> good{0}, calls{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            for (int i = 0; i < per_thread; ++i)
                r->resolve(make_question("localhost", i % 2 ? RrType::a : RrType::aaaa), [&](Answer a) {
                    if (a.rcode == Rcode::noerror && a.records.size() == 1) ++good;
                    ++calls;
                });
        });
    for (auto& t : pool) t.join();
    const auto deadline = Clock::now() + answer_bound;
    while (calls.load() < threads * per_thread && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
    BOOST_TEST(calls.load() == threads * per_thread);
    BOOST_TEST(good.load() == threads * per_thread);
}

BOOST_AUTO_TEST_CASE(done_may_resolve_again) {
    auto r = must_create(UnboundOptions{});
    auto promise = std::make_shared<std::promise<Answer>>();
    auto future = promise->get_future();
    UnboundResolver* raw = r.get();
    r->resolve(make_question("localhost", RrType::a), [raw, promise](Answer) {
        raw->resolve(make_question("localhost", RrType::aaaa), [promise](Answer a) { promise->set_value(a); });
    });
    BOOST_REQUIRE((future.wait_for(answer_bound) == std::future_status::ready));
    BOOST_TEST(future.get().records.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- NSD + DNSSEC -------------------------------------------------------------------------------

namespace {

std::string find_program(const std::string& name) {
    for (const char* dir : {"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin"}) {
        const std::string path = std::string(dir) + "/" + name;
        if (::access(path.c_str(), X_OK) == 0) return path;
    }
    return {};
}

boost::test_tools::assertion_result dnssec_tools_present(boost::unit_test::test_unit_id) {
    boost::test_tools::assertion_result r(true);
    for (const char* tool : {"nsd", "ldns-keygen", "ldns-signzone"}) {
        if (find_program(tool).empty()) {
            r = boost::test_tools::assertion_result(false);
            r.message() << "skipped: " << tool << " is not installed (packages nsd, ldnsutils)";
            break;
        }
    }
    return r;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_file(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

// Runs a shell command in `dir` and returns its standard output; fails the test on exit != 0.
std::string run_in(const fs::path& dir, const std::string& command) {
    const std::string full = "cd '" + dir.string() + "' && " + command + " 2>>tools.log";
    FILE* p = ::popen(full.c_str(), "r");
    BOOST_REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    const int status = ::pclose(p);
    if (status != 0) BOOST_FAIL("command failed: " << command << "\n" << read_file(dir / "tools.log"));
    return out;
}

// A loopback port free for both UDP and TCP at the moment of asking.
int free_port() {
    for (int attempt = 0; attempt < 20; ++attempt) {
        int u = ::socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a);
        socklen_t len = sizeof a;
        ::getsockname(u, reinterpret_cast<sockaddr*>(&a), &len);
        int t = ::socket(AF_INET, SOCK_STREAM, 0);
        const bool tcp_free = ::bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(t);
        ::close(u);
        if (tcp_free) return ntohs(a.sin_port);
    }
    return 0;
}

// One SOA query over UDP; true when any reply with our id comes back within `wait`.
bool dns_answers(int port, const std::string& zone, std::chrono::milliseconds wait) {
    std::string q("\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
    std::size_t start = 0;
    while (start < zone.size()) {
        std::size_t dot = zone.find('.', start);
        if (dot == std::string::npos) dot = zone.size();
        q += static_cast<char>(dot - start);
        q += zone.substr(start, dot - start);
        start = dot + 1;
    }
    q += std::string("\x00\x00\x06\x00\x01", 5);
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    timeval tv{0, static_cast<suseconds_t>(std::chrono::microseconds(wait).count())};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
    char reply[512];
    const auto n = ::recv(fd, reply, sizeof reply, 0);
    ::close(fd);
    return n >= 12 && reply[0] == '\x12' && reply[1] == '\x34';
}

const char* signed_zone_text = R"($ORIGIN test.example.
$TTL 3600
@        IN SOA ns hostmaster 1 3600 900 604800 300
@        NS    ns
ns       A     127.0.0.1
@        TXT   "v=spf1 -all"
@        MX    10 mail
www      TXT   "hello" "secure world"
mail     A     192.0.2.25
mail     AAAA  2001:db8::25
_25._tcp.mail TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
alias    CNAME www
25.rev   PTR   mail
tampered TXT   "this signature will not verify"
)";

const char* bogus_zone_text = R"($ORIGIN bogus.example.
$TTL 3600
@        IN SOA ns hostmaster 1 3600 900 604800 300
@        NS    ns
ns       A     127.0.0.1
@        TXT   "signed, but the anchor says otherwise"
)";

const char* insecure_zone_text = R"($ORIGIN insecure.example.
$TTL 3600
@        IN SOA ns hostmaster 1 3600 900 604800 300
@        NS    ns
ns       A     127.0.0.1
@        TXT   "not signed at all"
)";

// NSD in the foreground as our child, in a temporary directory; stopped and removed on every path.
struct NsdFixture {
    fs::path dir;
    pid_t pid = -1;
    int port = 0;
    std::string test_ds, bogus_ds_wrong;

    NsdFixture() {
        char tmpl[] = "/tmp/pigeon-nsd-XXXXXX";
        const char* d = ::mkdtemp(tmpl);
        BOOST_REQUIRE(d != nullptr);
        dir = d;
    }

    ~NsdFixture() {
        if (pid > 0) {
            ::kill(pid, SIGTERM);
            const auto deadline = Clock::now() + 5s;
            int status = 0;
            while (::waitpid(pid, &status, WNOHANG) == 0) {
                if (Clock::now() > deadline) {
                    ::kill(pid, SIGKILL);
                    ::waitpid(pid, &status, 0);
                    break;
                }
                std::this_thread::sleep_for(20ms);
            }
        }
        std::error_code ec;
        fs::remove_all(dir, ec);
    }

    // Keys, signing; returns the KSK's DS record text.
    std::string sign(const std::string& zone, const std::string& text) {
        write_file(dir / (zone + ".zone"), text);
        const std::string zsk = trim(run_in(dir, "ldns-keygen -a ECDSAP256SHA256 " + zone + "."));
        const std::string ksk = trim(run_in(dir, "ldns-keygen -k -a ECDSAP256SHA256 " + zone + "."));
        run_in(dir, "ldns-signzone -n " + zone + ".zone " + zsk + " " + ksk);
        return trim(read_file(dir / (ksk + ".ds")));
    }

    void setup() {
        test_ds = sign("test.example", signed_zone_text);
        const std::string bogus_ds = sign("bogus.example", bogus_zone_text);
        write_file(dir / "insecure.example.zone", insecure_zone_text);

        // A wrong digest in the anchor: every key of bogus.example fails to match it.
        bogus_ds_wrong = bogus_ds;
        bogus_ds_wrong.back() = bogus_ds_wrong.back() == '0' ? '1' : '0';

        // A broken signature on one name inside the correctly anchored zone.
        std::istringstream in(read_file(dir / "test.example.zone.signed"));
        std::string out, line;
        bool tampered = false;
        while (std::getline(in, line)) {
            if (!tampered && line.rfind("tampered.test.example.", 0) == 0 && line.find("RRSIG\tTXT") != std::string::npos) {
                const auto sig = line.find_last_of(" \t") + 1;
                char& c = line[sig + (line.size() - sig) / 2];
                c = c == 'A' ? 'B' : 'A';
                tampered = true;
            }
            out += line + "\n";
        }
        BOOST_REQUIRE_MESSAGE(tampered, "no RRSIG for tampered.test.example in the signed zone");
        write_file(dir / "test.example.zone.signed", out);

        port = free_port();
        BOOST_REQUIRE(port > 0);
        const std::string d = dir.string();
        std::string conf = "server:\n  ip-address: 127.0.0.1@" + std::to_string(port) + "\n  zonesdir: \"" + d +
                           "\"\n  pidfile: \"" + d + "/nsd.pid\"\n  database: \"\"\n  username: \"\"\n" +
                           "  xfrdfile: \"" + d + "/xfrd.state\"\n  zonelistfile: \"" + d + "/zone.list\"\n" +
                           "  xfrdir: \"" + d + "\"\n  logfile: \"" + d + "/nsd.log\"\n" +
                           "remote-control:\n  control-enable: no\n";
        for (const char* zone : {"test.example", "bogus.example", "insecure.example"}) {
            const std::string file = std::string(zone) + (std::string(zone) == "insecure.example" ? ".zone" : ".zone.signed");
            conf += "zone:\n  name: " + std::string(zone) + ".\n  zonefile: \"" + file + "\"\n";
        }
        write_file(dir / "nsd.conf", conf);

        const std::string nsd = find_program("nsd");
        const std::string conf_path = (dir / "nsd.conf").string();
        pid = ::fork();
        BOOST_REQUIRE(pid >= 0);
        if (pid == 0) {
            ::execl(nsd.c_str(), "nsd", "-d", "-c", conf_path.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }

        // Up when it answers; bounded, and a dead child is reported at once.
        const auto deadline = Clock::now() + 15s;
        while (!dns_answers(port, "test.example", 200ms)) {
            int status = 0;
            if (::waitpid(pid, &status, WNOHANG) == pid) {
                pid = -1;
                BOOST_FAIL("nsd exited: " << read_file(dir / "nsd.log"));
            }
            if (Clock::now() > deadline) BOOST_FAIL("nsd did not answer within 15 s: " << read_file(dir / "nsd.log"));
        }
    }

    std::string address() const { return "127.0.0.1@" + std::to_string(port); }
};

std::vector<RData> data_of(const Answer& a) {
    std::vector<RData> out;
    for (const auto& r : a.records) out.push_back(r.data);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(unbound_dnssec)

BOOST_AUTO_TEST_CASE(nsd_signed_zones, *boost::unit_test::precondition(dnssec_tools_present)
                                           * boost::unit_test::timeout(120)) {
    NsdFixture nsd;
    nsd.setup();

    UnboundOptions o;
    o.trust_anchor_file = "";  // only our anchors: nothing here may depend on the root
    o.trust_anchors = {nsd.test_ds, nsd.bogus_ds_wrong};
    for (const char* zone : {"test.example", "bogus.example", "insecure.example"})
        o.stub_zones.push_back(StubZone{zone, {nsd.address()}});
    o.timeout = 5s;
    auto r = must_create(o);

    auto secure = resolve_sync(*r, make_question("www.test.example", RrType::txt));
    BOOST_REQUIRE(secure.answered);
    BOOST_TEST((secure.answer.rcode == Rcode::noerror));
    BOOST_TEST(security_name(secure.answer.security) == std::string("secure"));
    BOOST_REQUIRE(secure.answer.records.size() == 1u);
    BOOST_TEST(std::get<Txt>(secure.answer.records[0].data).strings ==
               (std::vector<std::string>{"hello", "secure world"}));
    BOOST_TEST(secure.answer.records[0].name == "www.test.example");
    BOOST_TEST(secure.answer.records[0].ttl <= 3600u);
    BOOST_TEST(secure.answer.why_bogus.empty());

    auto nx = resolve_sync(*r, make_question("missing.test.example", RrType::txt));
    BOOST_REQUIRE(nx.answered);
    BOOST_TEST(rcode_name(nx.answer.rcode) == std::string("NXDOMAIN"));
    BOOST_TEST(security_name(nx.answer.security) == std::string("secure"));
    BOOST_TEST(nx.answer.records.empty());

    auto nodata = resolve_sync(*r, make_question("www.test.example", RrType::mx));
    BOOST_REQUIRE(nodata.answered);
    BOOST_TEST((nodata.answer.rcode == Rcode::noerror));
    BOOST_TEST((nodata.answer.security == Security::secure));
    BOOST_TEST(nodata.answer.records.empty());

    auto chain = resolve_sync(*r, make_question("alias.test.example", RrType::txt));
    BOOST_REQUIRE(chain.answered);
    BOOST_TEST((chain.answer.security == Security::secure));
    BOOST_TEST(chain.answer.canonical_name == "www.test.example");
    BOOST_REQUIRE(chain.answer.records.size() == 1u);
    BOOST_TEST(chain.answer.records[0].name == "www.test.example");

    auto tampered = resolve_sync(*r, make_question("tampered.test.example", RrType::txt));
    BOOST_REQUIRE(tampered.answered);
    BOOST_TEST(security_name(tampered.answer.security) == std::string("bogus"));
    BOOST_TEST(!tampered.answer.why_bogus.empty());
    BOOST_TEST(!tampered.answer.ok());
    BOOST_TEST_MESSAGE("tampered RRSIG: " << rcode_name(tampered.answer.rcode) << ", " << tampered.answer.why_bogus);

    auto bogus = resolve_sync(*r, make_question("bogus.example", RrType::txt));
    BOOST_REQUIRE(bogus.answered);
    BOOST_TEST(security_name(bogus.answer.security) == std::string("bogus"));
    BOOST_TEST(!bogus.answer.why_bogus.empty());
    BOOST_TEST(!bogus.answer.ok());
    BOOST_TEST_MESSAGE("wrong DS anchor: " << rcode_name(bogus.answer.rcode) << ", " << bogus.answer.why_bogus);

    auto insecure = resolve_sync(*r, make_question("insecure.example", RrType::txt));
    BOOST_REQUIRE(insecure.answered);
    BOOST_TEST((insecure.answer.rcode == Rcode::noerror));
    BOOST_TEST(security_name(insecure.answer.security) == std::string("insecure"));
    BOOST_REQUIRE(insecure.answer.records.size() == 1u);
    BOOST_TEST(std::get<Txt>(insecure.answer.records[0].data).strings ==
               std::vector<std::string>{"not signed at all"});

    // Record by record, libunbound over the wire and ZoneResolver over the same text agree.
    auto zone = ZoneResolver::parse(signed_zone_text);
    BOOST_REQUIRE(zone.ok());
    const std::vector<Question> questions = {
        make_question("test.example", RrType::txt),       make_question("test.example", RrType::mx),
        make_question("test.example", RrType::ns),        make_question("ns.test.example", RrType::a),
        make_question("mail.test.example", RrType::a),    make_question("mail.test.example", RrType::aaaa),
        make_question("_25._tcp.mail.test.example", RrType::tlsa),
        make_question("25.rev.test.example", RrType::ptr), make_question("alias.test.example", RrType::cname),
        make_question("alias.test.example", RrType::txt), make_question("www.test.example", RrType::txt),
        make_question("rev.test.example", RrType::a),     make_question("nothing.test.example", RrType::a),
    };
    for (const auto& q : questions) {
        BOOST_TEST_INFO(q.name << " " << type_name(q.type));
        auto wire = resolve_sync(*r, q);
        BOOST_REQUIRE(wire.answered);
        const Answer local = zone.value().lookup(q);
        BOOST_TEST(rcode_name(wire.answer.rcode) == rcode_name(local.rcode));
        BOOST_TEST((wire.answer.security == Security::secure));
        BOOST_TEST(wire.answer.canonical_name == local.canonical_name);
        BOOST_TEST((data_of(wire.answer) == data_of(local)));
    }
}

BOOST_AUTO_TEST_SUITE_END()

// TlsContext: loading and checking PEM files, the Credentials_Manager answers, and the
// self-signed certificate generator.
#include "tls/credentials.hpp"

#include <ctime>

#include <botan/data_src.h>
#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/ber_dec.h>
#include <botan/pem.h>
#include <botan/pkcs8.h>
#include <botan/rsa.h>
#include <botan/x509self.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace pigeon::tls {

namespace {

std::string quoted(const std::string& path) { return "'" + path + "'"; }

// The whole file, or a TlsError naming it (what = "certificate" or "private key").
std::string read_file(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const int err = errno;
        throw TlsError(std::string("cannot read ") + what + " file " + quoted(path) + ": " +
                       (err != 0 ? std::strerror(err) : "cannot open"));
    }
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw TlsError(std::string("cannot read ") + what + " file " + quoted(path));
    if (data.empty()) throw TlsError(std::string(what) + " file " + quoted(path) + " is empty");
    return data;
}

// Every "CERTIFICATE" PEM block in file order. Parsing the blocks ourselves (rather than
// looping Botan's stream constructor) lets an error say which certificate is bad and keeps
// stray text between blocks (openssl's "subject=" lines) harmless.
std::vector<Botan::X509_Certificate> parse_chain(const std::string& pem, const std::string& path) {
    static const std::string begin = "-----BEGIN CERTIFICATE-----";
    static const std::string end = "-----END CERTIFICATE-----";
    std::vector<Botan::X509_Certificate> chain;
    std::size_t pos = 0;
    while ((pos = pem.find(begin, pos)) != std::string::npos) {
        const std::size_t stop = pem.find(end, pos);
        if (stop == std::string::npos) {
            throw TlsError("certificate file " + quoted(path) + ": certificate " +
                           std::to_string(chain.size() + 1) + " has no END CERTIFICATE line");
        }
        const std::string block = pem.substr(pos, stop + end.size() - pos);
        try {
            Botan::DataSource_Memory source(block);
            chain.emplace_back(source);
        } catch (const std::exception& e) {
            throw TlsError("certificate file " + quoted(path) + ": certificate " +
                           std::to_string(chain.size() + 1) + " does not parse: " + e.what());
        }
        pos = stop + end.size();
    }
    if (chain.empty()) {
        throw TlsError("certificate file " + quoted(path) +
                       " contains no PEM certificate (-----BEGIN CERTIFICATE-----)");
    }
    return chain;
}

// The PEM block with this label ("-----BEGIN <label>-----" to its END line), or "".
std::string pem_block(const std::string& pem, const std::string& label) {
    const std::string begin = "-----BEGIN " + label + "-----";
    const std::string end = "-----END " + label + "-----";
    const std::size_t start = pem.find(begin);
    if (start == std::string::npos) return {};
    const std::size_t stop = pem.find(end, start);
    if (stop == std::string::npos) return {};
    return pem.substr(start, stop + end.size() - start);
}

// SEC 1 "EC PRIVATE KEY" (openssl ecparam -genkey, certbot's and acme.sh's ECDSA keys):
// Botan 2 reads only PKCS#8, whose EC payload is this same ECPrivateKey structure with the
// curve moved to the AlgorithmIdentifier. So take the curve from the [0] field and rewrap.
std::unique_ptr<Botan::Private_Key> load_sec1_key(const std::string& block) {
    const Botan::secure_vector<uint8_t> der = Botan::PEM_Code::decode_check_label(block, "EC PRIVATE KEY");
    Botan::BER_Decoder outer(der);
    Botan::BER_Decoder fields = outer.start_cons(Botan::SEQUENCE);
    std::size_t version = 0;
    Botan::secure_vector<uint8_t> secret;
    fields.decode(version).decode(secret, Botan::OCTET_STRING);
    const Botan::BER_Object curve = fields.get_next_object();
    if (!curve.is_a(0, Botan::ASN1_Tag(Botan::CONTEXT_SPECIFIC | Botan::CONSTRUCTED))) {
        throw TlsError("the EC key names no curve");
    }
    const std::vector<uint8_t> curve_oid(curve.bits(), curve.bits() + curve.length());
    const Botan::AlgorithmIdentifier algorithm("ECDSA", curve_oid);
    return std::make_unique<Botan::ECDSA_PrivateKey>(algorithm, der);
}

// PKCS#1 "RSA PRIVATE KEY" (openssl genrsa -traditional, older tools): the PKCS#8 RSA
// payload as is.
std::unique_ptr<Botan::Private_Key> load_pkcs1_key(const std::string& block) {
    const Botan::secure_vector<uint8_t> der = Botan::PEM_Code::decode_check_label(block, "RSA PRIVATE KEY");
    const Botan::AlgorithmIdentifier algorithm("RSA", Botan::AlgorithmIdentifier::USE_NULL_PARAM);
    return std::make_unique<Botan::RSA_PrivateKey>(algorithm, der);
}

std::unique_ptr<Botan::Private_Key> parse_key(const std::string& pem, const std::string& path) {
    // Checked first: Botan's own message for these ("BER: Length field is too large")
    // would send an operator looking in the wrong place.
    if (pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string::npos ||
        pem.find("Proc-Type: 4,ENCRYPTED") != std::string::npos) {
        throw TlsError("private key file " + quoted(path) +
                       " is encrypted; Pigeon needs an unencrypted key (decrypt it with "
                       "'openssl pkey -in KEY -out KEY.plain' and keep it mode 0600)");
    }
    try {
        std::unique_ptr<Botan::Private_Key> key;
        if (const std::string sec1 = pem_block(pem, "EC PRIVATE KEY"); !sec1.empty()) {
            key = load_sec1_key(sec1);
        } else if (const std::string pkcs1 = pem_block(pem, "RSA PRIVATE KEY"); !pkcs1.empty()) {
            key = load_pkcs1_key(pkcs1);
        } else {
            Botan::DataSource_Memory source(pem);
            key = Botan::PKCS8::load_key(source);
        }
        if (!key) throw TlsError("no key found");
        return key;
    } catch (const std::exception& e) {
        throw TlsError("private key file " + quoted(path) + " does not parse (" + e.what() +
                       "); expected an unencrypted PEM private key: PKCS#8 (BEGIN PRIVATE "
                       "KEY), SEC 1 (BEGIN EC PRIVATE KEY) or PKCS#1 (BEGIN RSA PRIVATE KEY)");
    }
}

bool key_matches(const Botan::X509_Certificate& cert, const Botan::Private_Key& key) {
    const auto pub = cert.load_subject_public_key();
    return pub && pub->algo_name() == key.algo_name() &&
           pub->public_key_bits() == key.public_key_bits();
}

// Write to a temporary file beside the target, fsync, rename: readers see the old file or
// the whole new one. mkstemp creates the file 0600, so a key is never readable by others,
// not even for a moment.
void write_file_atomically(const std::string& path, const std::string& data, mode_t mode) {
    std::string temp = path + ".tmp.XXXXXX";
    const int fd = ::mkstemp(temp.data());
    if (fd < 0) {
        throw TlsError("cannot write " + quoted(path) + ": " + std::strerror(errno));
    }
    auto fail = [&](int err) {
        ::close(fd);
        ::unlink(temp.c_str());
        throw TlsError("cannot write " + quoted(path) + ": " + std::strerror(err));
    };
    if (::fchmod(fd, mode) != 0) fail(errno);
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail(errno);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) fail(errno);
    if (::close(fd) != 0) {
        const int err = errno;
        ::unlink(temp.c_str());
        throw TlsError("cannot write " + quoted(path) + ": " + std::strerror(err));
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(temp.c_str());
        throw TlsError("cannot write " + quoted(path) + ": " + std::strerror(err));
    }
}

}  // namespace

TlsContext::TlsContext()
    : sessions_(std::make_unique<Botan::TLS::Session_Manager_In_Memory>(rng_)) {}

TlsContext::~TlsContext() = default;

std::shared_ptr<TlsContext> TlsContext::client_only() {
    return std::shared_ptr<TlsContext>(new TlsContext());
}

std::shared_ptr<TlsContext> TlsContext::from_pem_files(const std::string& cert_chain_path,
                                                       const std::string& key_path) {
    return from_pem(read_file(cert_chain_path, "certificate"), read_file(key_path, "private key"),
                    cert_chain_path, key_path);
}

std::shared_ptr<TlsContext> TlsContext::from_pem(const std::string& cert_chain_pem, const std::string& key_pem,
                                                 const std::string& cert_name, const std::string& key_name) {
    auto chain = parse_chain(cert_chain_pem, cert_name);
    auto key = parse_key(key_pem, key_name);
    bool matches = false;
    try {
        matches = key_matches(chain.front(), *key);
    } catch (const std::exception& e) {  // a certificate whose key Botan cannot load
        throw TlsError("certificate file " + quoted(cert_name) + ": the first certificate's key is unusable: " +
                       e.what());
    }
    if (!matches) {
        throw TlsError("private key file " + quoted(key_name) +
                       " does not match the first certificate in " + quoted(cert_name));
    }
    const std::string algo = key->algo_name();
    if (algo != "ECDSA" && algo != "RSA") {
        throw TlsError("private key file " + quoted(key_name) + " holds a " + algo +
                       " key; TLS 1.2 here needs an ECDSA or RSA key");
    }
    auto context = std::shared_ptr<TlsContext>(new TlsContext());
    context->chain_ = std::move(chain);
    context->key_ = std::move(key);
    return context;
}

std::vector<Botan::X509_Certificate> TlsContext::cert_chain(
    const std::vector<std::string>& cert_key_types, const std::string& type,
    const std::string& /*context*/) {
    if (type != "tls-server" || !key_) return {};
    const std::string algo = key_->algo_name();
    if (std::find(cert_key_types.begin(), cert_key_types.end(), algo) == cert_key_types.end()) {
        return {};
    }
    return chain_;
}

Botan::Private_Key* TlsContext::private_key_for(const Botan::X509_Certificate& cert,
                                                const std::string& /*type*/,
                                                const std::string& /*context*/) {
    if (key_ && !chain_.empty() && cert == chain_.front()) return key_.get();
    return nullptr;
}

std::vector<Botan::Certificate_Store*> TlsContext::trusted_certificate_authorities(
    const std::string& /*type*/, const std::string& /*context*/) {
    return {};
}

void generate_self_signed(const std::string& hostname, const std::string& cert_path,
                          const std::string& key_path) {
    if (hostname.empty()) throw TlsError("cannot generate a certificate for an empty hostname");
    std::string key_pem;
    std::string cert_pem;
    try {
        Botan::AutoSeeded_RNG rng;
        // P-256: every TLS 1.2 client (OpenSSL, GnuTLS, SChannel) accepts ECDSA P-256, and it
        // signs much faster than RSA-2048.
        Botan::ECDSA_PrivateKey key(rng, Botan::EC_Group("secp256r1"));

        // A year from an hour ago: a peer whose clock runs a little slow still accepts it.
        const auto now = std::chrono::system_clock::now();
        Botan::X509_Cert_Options options;
        options.start = Botan::X509_Time(now - std::chrono::hours(1));
        options.end = Botan::X509_Time(now + std::chrono::hours(24 * 365));
        options.common_name = hostname;
        options.dns = hostname;  // subjectAltName: clients match names there, not in the CN
        options.add_constraints(Botan::Key_Constraints::DIGITAL_SIGNATURE);
        options.add_ex_constraint("PKIX.ServerAuth");

        const Botan::X509_Certificate cert =
            Botan::X509::create_self_signed_cert(options, key, "SHA-256", rng);
        key_pem = Botan::PKCS8::PEM_encode(key);
        cert_pem = cert.PEM_encode();
    } catch (const std::exception& e) {
        throw TlsError("cannot generate a self-signed certificate for '" + hostname +
                       "': " + e.what());
    }
    // The key first: a certificate file without its key would be useless on the next start.
    write_file_atomically(key_path, key_pem, 0600);
    write_file_atomically(cert_path, cert_pem, 0644);
}

std::optional<std::string> expiry_warning(const TlsContext& context, std::chrono::system_clock::time_point now) {
    if (!context.has_certificate() || context.certificate_chain().empty()) return std::nullopt;
    const Botan::X509_Certificate& leaf = context.certificate_chain().front();
    const auto end = leaf.not_after().to_std_timepoint();
    const std::time_t end_t = std::chrono::system_clock::to_time_t(end);
    std::tm tm{};
    gmtime_r(&end_t, &tm);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
    const auto cn = leaf.subject_info("X520.CommonName");
    const std::string what = "the certificate for " + (cn.empty() ? std::string("this server") : cn.front());
    if (end <= now) return what + " expired on " + date + ": clients that check it refuse it; renew it (then `pigeon reload`)";
    const auto left = std::chrono::duration_cast<std::chrono::hours>(end - now).count() / 24;
    if (left >= expiry_warning_days) return std::nullopt;
    return what + " expires on " + date + ", in " + std::to_string(left) + " day(s): renew it (then `pigeon reload`)";
}

}  // namespace pigeon::tls

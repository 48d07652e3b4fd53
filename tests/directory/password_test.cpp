// Tests for directory/runtime/password.hpp: each {SCHEME} against published vectors, and the
// refusals (wrong password, unknown scheme, malformed or absurd hashes).
#include "directory/runtime/password.hpp"

#include <boost/test/unit_test.hpp>

#include "tls/password.hpp"

using pigeon::directory::verify_stored_password;

BOOST_AUTO_TEST_SUITE(stored_password)

// Ulrich Drepper's "Unix crypt using SHA-256 and SHA-512" specification, its test vectors.
BOOST_AUTO_TEST_CASE(sha512_crypt_matches_the_specification_vectors) {
    const std::string plain =
        "{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";
    BOOST_TEST(verify_stored_password("Hello world!", plain));
    BOOST_TEST(!verify_stored_password("Hello world?", plain));
    const std::string rounds =
        "{SHA512-CRYPT}$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.";
    BOOST_TEST(verify_stored_password("Hello world!", rounds));
    BOOST_TEST(!verify_stored_password(std::string("Hello world!\0x", 14), plain));  // NUL never reaches crypt
}

BOOST_AUTO_TEST_CASE(sha512_crypt_refuses_absurd_rounds_and_other_crypt_ids) {
    BOOST_TEST(!verify_stored_password("x", "{SHA512-CRYPT}$6$rounds=999999999$salt$abc"));
    BOOST_TEST(!verify_stored_password("x", "{SHA512-CRYPT}$1$salt$abc"));  // MD5-crypt is not SHA512-CRYPT
    BOOST_TEST(!verify_stored_password("x", "{SHA512-CRYPT}"));
}

// OpenBSD's bcrypt test vector (also in John the Ripper and passlib): "U*U", cost 5.
BOOST_AUTO_TEST_CASE(blf_crypt_is_bcrypt) {
    BOOST_TEST(verify_stored_password("U*U", "{BLF-CRYPT}$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
    BOOST_TEST(!verify_stored_password("U*V", "{BLF-CRYPT}$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
    BOOST_TEST(!verify_stored_password("U*U", "{BLF-CRYPT}$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"));
}

BOOST_AUTO_TEST_CASE(argon2id_with_and_without_the_prefix) {
    const std::string hash = pigeon::tls::hash_password("correct horse");
    BOOST_TEST(verify_stored_password("correct horse", hash));  // [[users]]' form
    BOOST_TEST(verify_stored_password("correct horse", "{ARGON2ID}" + hash));
    BOOST_TEST(verify_stored_password("correct horse", "{argon2id}" + hash));
    BOOST_TEST(!verify_stored_password("battery staple", "{ARGON2ID}" + hash));
    BOOST_TEST(!verify_stored_password("U*U", "{ARGON2ID}$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));
}

BOOST_AUTO_TEST_CASE(plain_and_unknown_schemes) {
    BOOST_TEST(verify_stored_password("secret", "{PLAIN}secret"));
    BOOST_TEST(!verify_stored_password("secret2", "{PLAIN}secret"));
    BOOST_TEST(!verify_stored_password("", "{PLAIN}secret"));
    BOOST_TEST(!verify_stored_password("secret", "{CLEARTEXT}secret"));
    BOOST_TEST(!verify_stored_password("secret", "{MD5}5ebe2294ecd0e0f08eab7690d2a6ee69"));
    BOOST_TEST(!verify_stored_password("secret", ""));
}

BOOST_AUTO_TEST_SUITE_END()

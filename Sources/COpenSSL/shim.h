// The parts of OpenSSL 3 libcrypto that CardCrypto and Credentials use: EVP ciphers, digests and
// keys, providers in a private library context, parameter builders, ECDSA signature values (for
// SM2's r and s), the error queue and the random generator. Debian: libssl-dev.
#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H

#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/provider.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/core_names.h>
#include <openssl/x509.h>

// Selection masks for EVP_PKEY_fromdata: macros built from other macros, which Swift does not import.
static inline int copenssl_select_public_key(void) { return EVP_PKEY_PUBLIC_KEY; }
static inline int copenssl_select_keypair(void) { return EVP_PKEY_KEYPAIR; }

#endif

// The parts of OpenSSL 3 libcrypto that CardCrypto uses: EVP ciphers and digests, providers in a
// private library context, the error queue and the random generator. Debian: libssl-dev.
#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H

#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/provider.h>

#endif

// OpenSSL (libssl-dev) for eth-rpc's https:// endpoints. Function-like macros that Swift cannot
// import are wrapped in static inline functions here.
#ifndef STARBLOOM_COPENSSL_SHIM_H
#define STARBLOOM_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/// Server Name Indication for the handshake.
static inline long sb_ssl_set_sni(SSL *ssl, const char *name) { return SSL_set_tlsext_host_name(ssl, name); }

/// TLS 1.2 at least; a peer closing without close_notify reads as end of stream (HTTP framing
/// already says whether a body was complete).
static inline int sb_ssl_ctx_configure(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1;
}
#endif

/*-------------------------------------------------------------------------
 * tls.h
 *    The certificate and private key maisond serves HTTPS with: read
 *    from their files once, at start, bounded in size, and checked with
 *    GnuTLS (the library libmicrohttpd's TLS runs on) so that a wrong
 *    file is a start-up error that names it.
 *
 * Nothing here writes the key's bytes anywhere: not to the log, not to
 * an error message. Its buffer is wiped before it is freed.
 *
 * Interface routines:
 *    mz_tls_load - read and check the two PEM files
 *    mz_tls_free - wipe and free
 *-------------------------------------------------------------------------
 */
#ifndef MZ_SERVER_TLS_H
#define MZ_SERVER_TLS_H

#include <stddef.h>

/* The largest certificate (chain) or key file read: a chain of a few
 * certificates is a few KiB. */
#define MZ_TLS_MAX_FILE_BYTES (256 * 1024)

/* PEM texts, NUL-terminated, as libmicrohttpd's MHD_OPTION_HTTPS_MEM_CERT
 * and _KEY take them. Owned; freed by mz_tls_free. */
struct mz_tls_credentials {
    char *cert_pem;
    char *key_pem;
};

/* Reads cert_path (PEM certificates, the server's first) and key_path
 * (its PEM private key, unencrypted), both borrowed, and checks that each
 * parses and that the key is the certificate's. Returns the credentials
 * (caller frees with mz_tls_free), or NULL with a reason in err that
 * names the file at fault (never its contents). */
struct mz_tls_credentials *mz_tls_load(const char *cert_path,
                                       const char *key_path, char *err,
                                       size_t err_len);

/* Wipes the key and frees; accepts NULL. */
void mz_tls_free(struct mz_tls_credentials *tls);

#endif

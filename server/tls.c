/*-------------------------------------------------------------------------
 * tls.c
 *    Reading and checking the TLS certificate and key (tls.h).
 *
 * Each file is read through one descriptor: fstat says it is a regular
 * file no larger than MZ_TLS_MAX_FILE_BYTES, then it is read whole (a
 * file that grows meanwhile is refused, not cut). GnuTLS then parses the
 * certificate list and the key on their own, so that a message can say
 * which file is wrong, and together, which is where a key that belongs
 * to another certificate shows.
 *
 * Interface routines: see tls.h.
 *-------------------------------------------------------------------------
 */
#include "server/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads path whole into a NUL-terminated buffer (caller frees) with its
 * length in *len. what names the file's role ("--tls-cert") in err. */
static char *read_file(const char *path, const char *what, size_t *len,
                       char *err, size_t err_len)
{
    struct stat st;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, err_len, "%s %s: cannot open: %s", what, path,
                 strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s %s: not a regular file", what, path);
        goto fail;
    }
    if (st.st_size <= 0 || st.st_size > MZ_TLS_MAX_FILE_BYTES) {
        snprintf(err, err_len, "%s %s: %lld bytes; expected 1 to %d", what,
                 path, (long long)st.st_size, MZ_TLS_MAX_FILE_BYTES);
        goto fail;
    }
    /* One byte more than the size, to see a file that grew. */
    size_t cap = (size_t)st.st_size + 1;
    buf = malloc(cap + 1);
    if (!buf) {
        snprintf(err, err_len, "%s %s: out of memory", what, path);
        goto fail;
    }
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, err_len, "%s %s: cannot read: %s", what, path,
                     strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got != (size_t)st.st_size) {
        snprintf(err, err_len, "%s %s: changed while it was read", what, path);
        goto fail;
    }
    buf[got] = '\0';
    *len = got;
    close(fd);
    return buf;
fail:
    if (buf) {
        gnutls_memset(buf, 0, cap + 1);
        free(buf);
    }
    close(fd);
    return NULL;
}

/* Whether pem holds at least one certificate GnuTLS can parse. */
static bool check_certificates(const char *pem, size_t len, const char *path,
                               char *err, size_t err_len)
{
    gnutls_x509_crt_t *certs = NULL;
    unsigned n = 0;
    gnutls_datum_t data = {(unsigned char *)pem, (unsigned)len};
    int rc =
        gnutls_x509_crt_list_import2(&certs, &n, &data, GNUTLS_X509_FMT_PEM, 0);

    if (rc < 0 || n == 0) {
        snprintf(err, err_len, "--tls-cert %s: not a PEM certificate (%s)",
                 path, rc < 0 ? gnutls_strerror(rc) : "no certificate in it");
        return false;
    }
    for (unsigned i = 0; i < n; i++)
        gnutls_x509_crt_deinit(certs[i]);
    gnutls_free(certs);
    return true;
}

/* Whether pem holds a private key GnuTLS can parse without a password. */
static bool check_key(const char *pem, size_t len, const char *path, char *err,
                      size_t err_len)
{
    gnutls_x509_privkey_t key;
    gnutls_datum_t data = {(unsigned char *)pem, (unsigned)len};
    int rc = gnutls_x509_privkey_init(&key);

    if (rc >= 0) {
        rc = gnutls_x509_privkey_import2(key, &data, GNUTLS_X509_FMT_PEM, NULL,
                                         GNUTLS_PKCS_PLAIN);
        gnutls_x509_privkey_deinit(key);
    }
    if (rc < 0) {
        snprintf(err, err_len,
                 "--tls-key %s: not an unencrypted PEM private key (%s)", path,
                 gnutls_strerror(rc));
        return false;
    }
    return true;
}

/* Whether the key is the first certificate's, as the daemon will load
 * them. */
static bool check_pair(const struct mz_tls_credentials *tls, size_t cert_len,
                       size_t key_len, const char *cert_path,
                       const char *key_path, char *err, size_t err_len)
{
    gnutls_certificate_credentials_t cred;
    gnutls_datum_t cert = {(unsigned char *)tls->cert_pem, (unsigned)cert_len};
    gnutls_datum_t key = {(unsigned char *)tls->key_pem, (unsigned)key_len};
    int rc = gnutls_certificate_allocate_credentials(&cred);

    if (rc >= 0) {
        rc = gnutls_certificate_set_x509_key_mem2(
            cred, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN);
        gnutls_certificate_free_credentials(cred);
    }
    if (rc < 0) {
        snprintf(err, err_len,
                 "--tls-key %s does not go with --tls-cert %s (%s)", key_path,
                 cert_path, gnutls_strerror(rc));
        return false;
    }
    return true;
}

struct mz_tls_credentials *mz_tls_load(const char *cert_path,
                                       const char *key_path, char *err,
                                       size_t err_len)
{
    size_t cert_len = 0, key_len = 0;
    struct mz_tls_credentials *tls = calloc(1, sizeof *tls);

    if (!tls) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    if (gnutls_global_init() < 0) {
        snprintf(err, err_len, "GnuTLS cannot start");
        free(tls);
        return NULL;
    }
    tls->cert_pem = read_file(cert_path, "--tls-cert", &cert_len, err, err_len);
    tls->key_pem =
        tls->cert_pem ? read_file(key_path, "--tls-key", &key_len, err, err_len)
                      : NULL;
    bool ok =
        tls->key_pem &&
        check_certificates(tls->cert_pem, cert_len, cert_path, err, err_len) &&
        check_key(tls->key_pem, key_len, key_path, err, err_len) &&
        check_pair(tls, cert_len, key_len, cert_path, key_path, err, err_len);
    gnutls_global_deinit();
    if (!ok) {
        mz_tls_free(tls);
        return NULL;
    }
    return tls;
}

void mz_tls_free(struct mz_tls_credentials *tls)
{
    if (!tls)
        return;
    if (tls->key_pem) {
        gnutls_memset(tls->key_pem, 0, strlen(tls->key_pem));
        free(tls->key_pem);
    }
    free(tls->cert_pem);
    free(tls);
}

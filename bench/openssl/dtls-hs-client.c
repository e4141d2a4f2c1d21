/*
 * OpenSSL's own DTLS 1.2 client doing full handshakes in a loop, so that OpenSSL's client cost can be measured
 * without process start-up (which dominates repeated `openssl s_client` runs; `s_client -reconnect` resumes
 * sessions, so it does not do full handshakes). Built by the bench with `cc -O2 ... -lssl -lcrypto`.
 *
 * Per handshake, like the Node client: new UDP socket, new SSL (no session cache, no tickets: always a full
 * handshake, with the server's cookie exchange), verify the server chain against CAFILE and the host name
 * "localhost", SNI, then close_notify and close.
 *
 *   dtls-hs-client HOST PORT DURATION_MS CAFILE GROUP [CERT KEY]
 *
 * Prints one JSON line: {"count":N,"errors":E,"wallMs":W,"cpuUs":C}.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_us(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + r.ru_utime.tv_usec + r.ru_stime.tv_usec;
}

int main(int argc, char **argv) {
  if (argc != 6 && argc != 8) {
    fprintf(stderr, "usage: %s HOST PORT DURATION_MS CAFILE GROUP [CERT KEY]\n", argv[0]);
    return 2;
  }
  const char *host = argv[1];
  int port = atoi(argv[2]);
  double duration = atof(argv[3]);
  SSL_CTX *ctx = SSL_CTX_new(DTLS_client_method());
  if (ctx == NULL) return 1;
  SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
  if (SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256") != 1 || SSL_CTX_set1_groups_list(ctx, argv[5]) != 1 ||
      SSL_CTX_load_verify_locations(ctx, argv[4], NULL) != 1) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  if (argc == 8) {
    if (SSL_CTX_use_certificate_chain_file(ctx, argv[6]) != 1 || SSL_CTX_use_PrivateKey_file(ctx, argv[7], SSL_FILETYPE_PEM) != 1) {
      ERR_print_errors_fp(stderr);
      return 1;
    }
  }
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, host, &addr.sin_addr);

  long count = 0, errors = 0;
  double t0 = now_ms(), c0 = cpu_us();
  double end = t0 + duration;
  while (now_ms() < end && errors < 50) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
      errors++;
      if (fd >= 0) close(fd);
      continue;
    }
    BIO *bio = BIO_new_dgram(fd, BIO_NOCLOSE);
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &addr);
    struct timeval tv = {2, 0};
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0, &tv);
    SSL *ssl = SSL_new(ctx);
    SSL_set_bio(ssl, bio, bio);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    if (SSL_connect(ssl) == 1) {
      count++;
      SSL_shutdown(ssl);
    } else {
      errors++;
      ERR_print_errors_fp(stderr);
    }
    SSL_free(ssl);
    close(fd);
  }
  double wall = now_ms() - t0, cpu = cpu_us() - c0;
  printf("{\"count\":%ld,\"errors\":%ld,\"wallMs\":%.3f,\"cpuUs\":%.0f}\n", count, errors, wall, cpu);
  SSL_CTX_free(ctx);
  return 0;
}

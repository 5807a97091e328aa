#ifndef NEPHOMETER_SHA256_H
#define NEPHOMETER_SHA256_H
#include <stddef.h>
#include <stdint.h>

/* HMAC-SHA256 with the key's pad blocks hashed once. SHA-256 runs on the CPU's SHA extensions when it
   has them (x86-64 SHA-NI), else on portable C. No allocation: a key is a plain struct. */
typedef struct {
    uint32_t inner[8]; /* SHA-256 state after the key XOR ipad block */
    uint32_t outer[8]; /* SHA-256 state after the key XOR opad block */
} nephometer_hmac_key;

void nephometer_hmac_init(nephometer_hmac_key *key, const uint8_t *secret, size_t length);

/* Writes the 32-byte MAC of message[0..length) to mac. */
void nephometer_hmac(const nephometer_hmac_key *key, const uint8_t *message, size_t length, uint8_t mac[32]);

/* Two MACs at once, their SHA-256 rounds interleaved (about 1.5x the throughput of two calls on CPUs
   with SHA extensions; two plain calls elsewhere). */
void nephometer_hmac_x2(const nephometer_hmac_key *key, const uint8_t *message_a, size_t length_a,
                        const uint8_t *message_b, size_t length_b, uint8_t mac_a[32], uint8_t mac_b[32]);

/* Plain SHA-256 of data[0..length) (used for keys longer than a block, and by tests). */
void nephometer_sha256(const uint8_t *data, size_t length, uint8_t digest[32]);

/* SHA-224 of data[0..length): SHA-256 with its own initial values, truncated to 28 bytes (Nova's hostId). */
void nephometer_sha224(const uint8_t *data, size_t length, uint8_t digest[28]);

/* 1 when the SHA extensions are used. Tests set 0 to exercise the portable code on any CPU. */
int nephometer_sha256_accelerated(void);
void nephometer_sha256_set_accelerated(int enabled);
#endif

#include <string.h>
#include "nephometer_sha256.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t IV[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static uint32_t load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* FIPS 180-4 §6.2.2, one 64-byte block at a time. */
static void compress_portable(uint32_t state[8], const uint8_t *data, size_t blocks) {
    uint32_t w[64];
    while (blocks--) {
        for (int t = 0; t < 16; t++) w[t] = load_be32(data + 4 * t);
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = ROTR(w[t - 15], 7) ^ ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = ROTR(w[t - 2], 17) ^ ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int t = 0; t < 64; t++) {
            uint32_t t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
            uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        state[0] += a; state[1] += b; state[2] += c; state[3] += d;
        state[4] += e; state[5] += f; state[6] += g; state[7] += h;
        data += 64;
    }
}

#if defined(__x86_64__)
/* The same compression on the SHA extensions: four rounds per pair of sha256rnds2, the message
   schedule with sha256msg1/sha256msg2. State is kept as (A,B,E,F) and (C,D,G,H) lanes. */
__attribute__((target("sha,sse4.1")))
static void compress_shani(uint32_t state[8], const uint8_t *data, size_t blocks) {
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[0]), 0xB1);
    __m128i s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[4]), 0x1B);
    __m128i s0 = _mm_alignr_epi8(tmp, s1, 8);
    s1 = _mm_blend_epi16(s1, tmp, 0xF0);
    while (blocks--) {
        const __m128i save0 = s0, save1 = s1;
        __m128i m[4];
#pragma clang loop unroll(full)
        for (int i = 0; i < 4; i++) m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * i)), bswap);
        /* Fully unrolled: g is a constant in each copy, so the branch and the m[] indexing vanish. */
#pragma clang loop unroll(full)
        for (int g = 0; g < 16; g++) {
            __m128i w = m[g & 3];
            if (g >= 4) {
                /* W[4g..4g+3] from the four previous groups. */
                __m128i x = _mm_sha256msg1_epu32(m[g & 3], m[(g + 1) & 3]);
                x = _mm_add_epi32(x, _mm_alignr_epi8(m[(g + 3) & 3], m[(g + 2) & 3], 4));
                w = _mm_sha256msg2_epu32(x, m[(g + 3) & 3]);
                m[g & 3] = w;
            }
            __m128i msg = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&K[4 * g]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(msg, 0x0E));
        }
        s0 = _mm_add_epi32(s0, save0);
        s1 = _mm_add_epi32(s1, save1);
        data += 64;
    }
    tmp = _mm_shuffle_epi32(s0, 0x1B);
    s1 = _mm_shuffle_epi32(s1, 0xB1);
    s0 = _mm_blend_epi16(tmp, s1, 0xF0);
    s1 = _mm_alignr_epi8(s1, tmp, 8);
    _mm_storeu_si128((__m128i *)&state[0], s0);
    _mm_storeu_si128((__m128i *)&state[4], s1);
}

/* Two independent messages, same number of blocks, their rounds interleaved: sha256rnds2 has a
   latency several times its issue interval, so a second dependency chain runs nearly for free. */
__attribute__((target("sha,sse4.1")))
static void compress_shani_x2(uint32_t state_a[8], const uint8_t *data_a, uint32_t state_b[8], const uint8_t *data_b,
                              size_t blocks) {
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i ta = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state_a[0]), 0xB1);
    __m128i a1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state_a[4]), 0x1B);
    __m128i a0 = _mm_alignr_epi8(ta, a1, 8);
    a1 = _mm_blend_epi16(a1, ta, 0xF0);
    __m128i tb = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state_b[0]), 0xB1);
    __m128i b1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state_b[4]), 0x1B);
    __m128i b0 = _mm_alignr_epi8(tb, b1, 8);
    b1 = _mm_blend_epi16(b1, tb, 0xF0);
    while (blocks--) {
        const __m128i sa0 = a0, sa1 = a1, sb0 = b0, sb1 = b1;
        __m128i ma[4], mb[4];
#pragma clang loop unroll(full)
        for (int i = 0; i < 4; i++) {
            ma[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data_a + 16 * i)), bswap);
            mb[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data_b + 16 * i)), bswap);
        }
#pragma clang loop unroll(full)
        for (int g = 0; g < 16; g++) {
            __m128i wa = ma[g & 3], wb = mb[g & 3];
            if (g >= 4) {
                __m128i xa = _mm_sha256msg1_epu32(ma[g & 3], ma[(g + 1) & 3]);
                __m128i xb = _mm_sha256msg1_epu32(mb[g & 3], mb[(g + 1) & 3]);
                xa = _mm_add_epi32(xa, _mm_alignr_epi8(ma[(g + 3) & 3], ma[(g + 2) & 3], 4));
                xb = _mm_add_epi32(xb, _mm_alignr_epi8(mb[(g + 3) & 3], mb[(g + 2) & 3], 4));
                wa = _mm_sha256msg2_epu32(xa, ma[(g + 3) & 3]);
                wb = _mm_sha256msg2_epu32(xb, mb[(g + 3) & 3]);
                ma[g & 3] = wa;
                mb[g & 3] = wb;
            }
            const __m128i k = _mm_loadu_si128((const __m128i *)&K[4 * g]);
            __m128i ka = _mm_add_epi32(wa, k), kb = _mm_add_epi32(wb, k);
            a1 = _mm_sha256rnds2_epu32(a1, a0, ka);
            b1 = _mm_sha256rnds2_epu32(b1, b0, kb);
            a0 = _mm_sha256rnds2_epu32(a0, a1, _mm_shuffle_epi32(ka, 0x0E));
            b0 = _mm_sha256rnds2_epu32(b0, b1, _mm_shuffle_epi32(kb, 0x0E));
        }
        a0 = _mm_add_epi32(a0, sa0);
        a1 = _mm_add_epi32(a1, sa1);
        b0 = _mm_add_epi32(b0, sb0);
        b1 = _mm_add_epi32(b1, sb1);
        data_a += 64;
        data_b += 64;
    }
    ta = _mm_shuffle_epi32(a0, 0x1B);
    a1 = _mm_shuffle_epi32(a1, 0xB1);
    _mm_storeu_si128((__m128i *)&state_a[0], _mm_blend_epi16(ta, a1, 0xF0));
    _mm_storeu_si128((__m128i *)&state_a[4], _mm_alignr_epi8(a1, ta, 8));
    tb = _mm_shuffle_epi32(b0, 0x1B);
    b1 = _mm_shuffle_epi32(b1, 0xB1);
    _mm_storeu_si128((__m128i *)&state_b[0], _mm_blend_epi16(tb, b1, 0xF0));
    _mm_storeu_si128((__m128i *)&state_b[4], _mm_alignr_epi8(b1, tb, 8));
}

static int cpu_has_shani(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int sse41 = (c >> 19) & 1, ssse3 = (c >> 9) & 1;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return sse41 && ssse3 && ((b >> 29) & 1);
}
#endif

static int cpu_supported(void) {
#if defined(__x86_64__)
    return cpu_has_shani();
#else
    return 0;
#endif
}

/* -1: not probed yet. Threads racing on the first use all store the same value. */
static int accelerated = -1;

int nephometer_sha256_accelerated(void) {
    int a = __atomic_load_n(&accelerated, __ATOMIC_RELAXED);
    if (a < 0) {
        a = cpu_supported();
        __atomic_store_n(&accelerated, a, __ATOMIC_RELAXED);
    }
    return a;
}

void nephometer_sha256_set_accelerated(int enabled) {
    __atomic_store_n(&accelerated, enabled && cpu_supported(), __ATOMIC_RELAXED);
}

static void compress(uint32_t state[8], const uint8_t *data, size_t blocks) {
#if defined(__x86_64__)
    if (nephometer_sha256_accelerated()) { compress_shani(state, data, blocks); return; }
#endif
    compress_portable(state, data, blocks);
}

/* Hashes the rest of a message whose first `prefix` bytes (a multiple of 64) are already in `state`. */
static void finish(uint32_t state[8], size_t prefix, const uint8_t *data, size_t length, uint8_t out[32]) {
    size_t full = length / 64;
    compress(state, data, full);
    uint8_t tail[128];
    size_t rest = length - full * 64;
    if (rest) memcpy(tail, data + full * 64, rest);
    tail[rest] = 0x80;
    size_t padded = rest + 9 <= 64 ? 64 : 128;
    memset(tail + rest + 1, 0, padded - rest - 1);
    uint64_t bits = (uint64_t)(prefix + length) * 8;
    for (int i = 0; i < 8; i++) tail[padded - 1 - i] = (uint8_t)(bits >> (8 * i));
    compress(state, tail, padded / 64);
    for (int i = 0; i < 8; i++) store_be32(out + 4 * i, state[i]);
}

void nephometer_sha256(const uint8_t *data, size_t length, uint8_t digest[32]) {
    uint32_t state[8];
    memcpy(state, IV, sizeof state);
    finish(state, 0, data, length, digest);
}

void nephometer_sha224(const uint8_t *data, size_t length, uint8_t digest[28]) {
    static const uint32_t IV224[8] = {
        0xc1059ed8, 0x367cd507, 0x3070dd17, 0xf70e5939, 0xffc00b31, 0x68581511, 0x64f98fa7, 0xbefa4fa4,
    };
    uint32_t state[8];
    uint8_t full[32];
    memcpy(state, IV224, sizeof state);
    finish(state, 0, data, length, full);
    memcpy(digest, full, 28);
}

void nephometer_hmac_init(nephometer_hmac_key *key, const uint8_t *secret, size_t length) {
    uint8_t block[64] = {0}, pad[64];
    if (length > 64) nephometer_sha256(secret, length, block);
    else if (length > 0) memcpy(block, secret, length);
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x36;
    memcpy(key->inner, IV, sizeof key->inner);
    compress(key->inner, pad, 1);
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x5c;
    memcpy(key->outer, IV, sizeof key->outer);
    compress(key->outer, pad, 1);
}

/* The outer hash of an HMAC: one block, the inner digest and its padding. */
static void outer_block(const uint8_t inner[32], uint8_t block[64]) {
    memcpy(block, inner, 32);
    block[32] = 0x80;
    memset(block + 33, 0, 29);
    block[62] = (64 + 32) * 8 >> 8;
    block[63] = (uint8_t)((64 + 32) * 8);
}

void nephometer_hmac_x2(const nephometer_hmac_key *key, const uint8_t *message_a, size_t length_a,
                        const uint8_t *message_b, size_t length_b, uint8_t mac_a[32], uint8_t mac_b[32]) {
#if defined(__x86_64__)
    if (nephometer_sha256_accelerated()) {
        uint32_t sa[8], sb[8];
        uint8_t ia[32], ib[32], ba[64], bb[64];
        memcpy(sa, key->inner, sizeof sa);
        memcpy(sb, key->inner, sizeof sb);
        size_t common = length_a / 64 < length_b / 64 ? length_a / 64 : length_b / 64;
        compress_shani_x2(sa, message_a, sb, message_b, common);
        finish(sa, 64 + common * 64, message_a + common * 64, length_a - common * 64, ia);
        finish(sb, 64 + common * 64, message_b + common * 64, length_b - common * 64, ib);
        outer_block(ia, ba);
        outer_block(ib, bb);
        memcpy(sa, key->outer, sizeof sa);
        memcpy(sb, key->outer, sizeof sb);
        compress_shani_x2(sa, ba, sb, bb, 1);
        for (int i = 0; i < 8; i++) { store_be32(mac_a + 4 * i, sa[i]); store_be32(mac_b + 4 * i, sb[i]); }
        return;
    }
#endif
    nephometer_hmac(key, message_a, length_a, mac_a);
    nephometer_hmac(key, message_b, length_b, mac_b);
}

void nephometer_hmac(const nephometer_hmac_key *key, const uint8_t *message, size_t length, uint8_t mac[32]) {
    uint32_t state[8];
    uint8_t inner[32];
    memcpy(state, key->inner, sizeof state);
    finish(state, 64, message, length, inner);
    memcpy(state, key->outer, sizeof state);
    finish(state, 64, inner, 32, mac);
}

/* digest: the SHA-256 of many texts at once (issue 25). Every message a
 * driver sends gets the SHA-256 of its bytes in the delivery log, and for
 * an email of 3,000 bytes that was a quarter of the instructions the
 * campaign spent on it: a processor without SHA extensions hashes one text
 * at about 28 instructions a byte, its rounds one after the other. Eight
 * texts hashed side by side, each in its own 32-bit lane of one AVX2
 * register, take the same number of vector instructions as one text takes
 * scalar ones: FIPS 180-4's compression written once over GCC's vector
 * type, compiled for AVX2 and for the baseline (target_clones picks at load
 * time). Texts of different lengths share the rounds; a lane whose text has
 * ended repeats its last block and its digest, taken when it ended, stays.
 * hd_sha256_hex_many uses the lanes where they pay (AVX2 and no SHA
 * extensions, three texts or more) and OpenSSL for the rest; the digests
 * are the same bytes either way (tests/test_digest.c checks both against
 * OpenSSL). */
#include "herald/driver.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES /* elsewhere the lanes are compiled once; OpenSSL is used */
#endif
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "digest.c reads the blocks' words as little-endian ones and swaps their bytes"
#endif

enum { LANES = 8, BLOCK = 64 };

typedef uint32_t v8 __attribute__((vector_size(LANES * sizeof(uint32_t))));

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

/* macros, not functions: a function taking a vector would change its ABI
 * between the two clones */
#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define BSIG0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BSIG1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SSIG0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))
/* Round t on the state a..h, named where it stands now: the caller turns
 * the names, not the values, so a round moves nothing. */
#define ROUND(a, b, c, d, e, f, g, h, t, wt)                                                       \
    do {                                                                                           \
        v8 t1 = h + BSIG1(e) + (g ^ (e & (f ^ g))) + K[t] + (wt);                                  \
        d += t1;                                                                                   \
        h = t1 + BSIG0(a) + ((a & b) | (c & (a | b)));                                             \
    } while (0)
/* Word t of the schedule (t >= 16), in place of word t - 16. */
#define SCHED(t) (x[(t)&15] += SSIG1(x[((t)-2) & 15]) + x[((t)-7) & 15] + SSIG0(x[((t)-15) & 15]))
#define EIGHT(t, W)                                                                                \
    do {                                                                                           \
        ROUND(a, b, c, d, e, f, g, h, (t), W((t)));                                                \
        ROUND(h, a, b, c, d, e, f, g, (t) + 1, W((t) + 1));                                        \
        ROUND(g, h, a, b, c, d, e, f, (t) + 2, W((t) + 2));                                        \
        ROUND(f, g, h, a, b, c, d, e, (t) + 3, W((t) + 3));                                        \
        ROUND(e, f, g, h, a, b, c, d, (t) + 4, W((t) + 4));                                        \
        ROUND(d, e, f, g, h, a, b, c, (t) + 5, W((t) + 5));                                        \
        ROUND(c, d, e, f, g, h, a, b, (t) + 6, W((t) + 6));                                        \
        ROUND(b, c, d, e, f, g, h, a, (t) + 7, W((t) + 7));                                        \
    } while (0)
#define WORD(t) x[(t)]

typedef uint8_t v32b __attribute__((vector_size(LANES * sizeof(uint32_t))));
/* the two halves of two rows, or the four pairs, of an 8x8 transpose */
/* __builtin_shufflevector: GCC's from 12 and clang's (GCC's own
 * __builtin_shuffle is not clang's, and make fuzz builds with clang) */
#define SHUF(x, y, ...) __builtin_shufflevector((x), (y), __VA_ARGS__)
#define LO32(x, y) SHUF(x, y, 0, 8, 1, 9, 4, 12, 5, 13)
/* each 32-bit word's bytes reversed: big-endian words read */
#define SWAP32                                                                                     \
    3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 19, 18, 17, 16, 23, 22, 21, 20, 27, 26,  \
        25, 24, 31, 30, 29, 28
#define HI32(x, y) SHUF(x, y, 2, 10, 3, 11, 6, 14, 7, 15)
#define LO64(x, y) SHUF(x, y, 0, 1, 8, 9, 4, 5, 12, 13)
#define HI64(x, y) SHUF(x, y, 2, 3, 10, 11, 6, 7, 14, 15)
#define LO128(x, y) SHUF(x, y, 0, 1, 2, 3, 8, 9, 10, 11)
#define HI128(x, y) SHUF(x, y, 4, 5, 6, 7, 12, 13, 14, 15)

/* Words 8 * half .. 8 * half + 7 of the eight blocks, big-endian read,
 * into x[8 * half ..]: row l (block l's eight words) becomes column l. */
#define TRANSPOSE(half)                                                                            \
    do {                                                                                           \
        v8 r[LANES], t[LANES], u[LANES];                                                           \
        for (int l = 0; l < LANES; l++) {                                                          \
            memcpy(&r[l], blk[l] + 32 * (half), sizeof r[l]);                                      \
            r[l] = (v8)__builtin_shufflevector((v32b)r[l], (v32b)r[l], SWAP32);                    \
        }                                                                                          \
        for (int l = 0; l < LANES; l += 2)                                                         \
            t[l] = LO32(r[l], r[l + 1]), t[l + 1] = HI32(r[l], r[l + 1]);                          \
        for (int l = 0; l < LANES; l += 4) {                                                       \
            u[l] = LO64(t[l], t[l + 2]), u[l + 1] = HI64(t[l], t[l + 2]);                          \
            u[l + 2] = LO64(t[l + 1], t[l + 3]), u[l + 3] = HI64(t[l + 1], t[l + 3]);              \
        }                                                                                          \
        for (int k = 0; k < 4; k++)                                                                \
            x[8 * (half) + k] = LO128(u[k], u[k + 4]),                                             \
                           x[8 * (half) + k + 4] = HI128(u[k], u[k + 4]);                          \
    } while (0)

/* One block of each lane into its state: st[i][lane] is the state's word
 * i, blk[lane] the lane's 64 bytes. */
CLONES static void compress8(uint32_t st[8][LANES], const unsigned char *const blk[LANES])
{
    v8 s[8], x[16];
    memcpy(s, st, sizeof s);
    TRANSPOSE(0);
    TRANSPOSE(1);
    v8 a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    EIGHT(0, WORD);
    EIGHT(8, WORD);
    for (int t = 16; t < 64; t += 8)
        EIGHT(t, SCHED);
    s[0] += a, s[1] += b, s[2] += c, s[3] += d, s[4] += e, s[5] += f, s[6] += g, s[7] += h;
    memcpy(st, s, sizeof s);
}

/* A text as blocks: the whole blocks where they are, the rest with its
 * padding (0x80, zeros, the length in bits) in tail. */
struct lane {
    const unsigned char *p;
    size_t full, blocks;
    unsigned char tail[2 * BLOCK];
};

static void lane_init(struct lane *l, const void *data, size_t n)
{
    size_t rest = n % BLOCK, tb = rest + 9 <= BLOCK ? 1 : 2;
    uint64_t bits = (uint64_t)n * 8;
    l->p = data;
    l->full = n / BLOCK;
    l->blocks = l->full + tb;
    memset(l->tail, 0, sizeof l->tail);
    if (rest)
        memcpy(l->tail, l->p + l->full * BLOCK, rest);
    l->tail[rest] = 0x80;
    for (int i = 0; i < 8; i++)
        l->tail[tb * BLOCK - 1 - i] = (unsigned char)(bits >> (8 * i));
}

/* Block j of the lane; past its end, its last block again. */
static const unsigned char *lane_block(const struct lane *l, size_t j)
{
    if (j >= l->blocks)
        j = l->blocks - 1;
    return j < l->full ? l->p + j * BLOCK : l->tail + (j - l->full) * BLOCK;
}

static void hex_of_lane(uint32_t st[8][LANES], size_t lane, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < 8; k++)
            out[8 * i + k] = hex[(st[i][lane] >> (28 - 4 * k)) & 15];
    out[64] = '\0';
}

/* Up to eight jobs (k of them) side by side. */
static void group(const struct hd_digest_job *jobs, size_t k)
{
    struct lane ln[LANES];
    uint32_t st[8][LANES];
    const unsigned char *blk[LANES];
    size_t most = 0;
    for (size_t l = 0; l < LANES; l++) {
        /* a lane without a job hashes the empty text, one block */
        lane_init(&ln[l], l < k ? jobs[l].data : "", l < k ? jobs[l].len : 0);
        most = ln[l].blocks > most ? ln[l].blocks : most;
        for (int i = 0; i < 8; i++)
            st[i][l] = H0[i];
    }
    for (size_t j = 0; j < most; j++) {
        for (size_t l = 0; l < LANES; l++)
            blk[l] = lane_block(&ln[l], j);
        compress8(st, blk);
        for (size_t l = 0; l < k; l++)
            if (j + 1 == ln[l].blocks)
                hex_of_lane(st, l, jobs[l].out);
    }
}

void hd_sha256_hex_lanes(const struct hd_digest_job *jobs, size_t n)
{
    for (size_t g = 0; g < n; g += LANES)
        group(jobs + g, n - g < LANES ? n - g : LANES);
}

static bool lanes_pay;
static pthread_once_t lanes_once = PTHREAD_ONCE_INIT;

/* AVX2 and no SHA extensions (CPUID leaf 7, EBX bit 29), asked once: where
 * the processor has them, OpenSSL's one text at a time is as fast */
static void choose(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b = 0, c, d;
    bool sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
    lanes_pay = __builtin_cpu_supports("avx2") && !sha;
#endif
}

void hd_sha256_hex_many(const struct hd_digest_job *jobs, size_t n)
{
    pthread_once(&lanes_once, choose);
    if (lanes_pay && n >= 3) {
        hd_sha256_hex_lanes(jobs, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        hd_sha256_hex(jobs[i].data, jobs[i].len, jobs[i].out);
}

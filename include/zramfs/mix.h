/* SPDX-License-Identifier: MIT */
/*
 * mix.h - zr_mix64(), the splitmix64 step: one 64-bit value to another,
 * every input bit spread over every output bit.
 *
 * It seeds per-thread random streams (fault.c) and the test tools' streams
 * from small, similar seeds (a seed plus a thread or page number), which a
 * plain xorshift would turn into similar sequences.  Not a hash for
 * untrusted keys: ns_dir.c and spill.c keep their own, seeded ones.
 */
#ifndef ZRAMFS_MIX_H
#define ZRAMFS_MIX_H

#include <stdint.h>

/* splitmix64 (Steele, Lea, Flood; Vigna's constants): x plus the golden
 * ratio increment, then the murmur3-style finaliser. */
static inline uint64_t zr_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

#endif

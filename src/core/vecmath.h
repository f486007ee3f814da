/* vecmath.h - let GCC vectorise loops that call expf/logf/log1pf/sinf/cosf.
 *
 * glibc's libmvec provides SIMD versions of these (SSE4, AVX2, AVX-512); its
 * header only announces them under -ffast-math, which we do not want (it
 * would let the compiler assume no NaN, and we detect divergence by NaN).
 * Redeclaring them with the simd attribute, plus -fno-math-errno, is enough.
 * Vector and scalar versions may differ in the last ulp: results are
 * reproducible for a given binary and CPU, whatever the rank count. */
#ifndef BNNSWEEP_VECMATH_H
#define BNNSWEEP_VECMATH_H

#include <math.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
#define BNS_SIMD_DECL __attribute__((simd("notinbranch")))
BNS_SIMD_DECL float expf(float);
BNS_SIMD_DECL float logf(float);
BNS_SIMD_DECL float log1pf(float);
BNS_SIMD_DECL float sinf(float);
BNS_SIMD_DECL float cosf(float);
#endif

#endif

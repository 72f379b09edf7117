#ifndef CRX_CXXHASH_SHIM_H
#define CRX_CXXHASH_SHIM_H
#include <xxhash.h>
#if defined(__x86_64__)
/* libxxhash's runtime dispatcher (SSE2 / AVX2 / AVX512 by CPU): about twice the speed of the
   portable XXH3_128bits_update on AVX2 machines. */
#include <xxh_x86dispatch.h>
#endif
#endif

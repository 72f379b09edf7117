#ifndef CRX_CXXHASH_SHIM_H
#define CRX_CXXHASH_SHIM_H
#include <xxhash.h>
#endif

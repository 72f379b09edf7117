#ifndef CRX_CZSTD_SHIM_H
#define CRX_CZSTD_SHIM_H
#include <zstd.h>
#include <zstd_errors.h>
#endif
